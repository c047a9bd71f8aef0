/**
 * Refuses configs whose parameters cannot fit before anything is allocated: a `config.json` with
 * `hidden_size` 1e9 or `num_hidden_layers` 1e6 must fail at once with the file and the field, not
 * as "Array buffer allocation failed" or after minutes of allocation.
 * @module
 */

import type { Device } from "../runtime/device.ts";

/** Parameter counts a config implies (elements, f32 on the GPU). */
export interface ParameterEstimate {
  /** Elements of every parameter together. */
  total: number;
  /** The largest single parameter: its elements and the config fields that size it. */
  largest: { elements: number; fields: string[] };
  /** The field that multiplies most of `total` (e.g. num_hidden_layers), for the message. */
  dominant: string;
  /** Number of parameter tensors (each is its own GPU buffer). */
  tensors: number;
  /** The field that multiplies the tensor count, with its value (e.g. num_hidden_layers). */
  repeat: { field: string; value: number };
}

/** Parameter bytes no model may exceed, whatever the device reports (a sane bound: 64 GiB). */
export const MAX_PARAMETER_BYTES = 64 * 2 ** 30;

/**
 * Parameter tensors no model may exceed (each is a GPU buffer and a JS object; 65,536 is ~4,000
 * transformer layers, 40× the deepest released checkpoints).
 */
export const MAX_PARAMETER_TENSORS = 65536;

/**
 * Checks a config's parameters against the device: the largest tensor must fit one GPU buffer
 * (`maxBufferSize` and `maxStorageBufferBindingSize`), the total must stay under
 * {@linkcode MAX_PARAMETER_BYTES} and the tensor count under {@linkcode MAX_PARAMETER_TENSORS}.
 * @throws {Error} naming the config source, the field(s) and the sizes.
 */
export function checkParameterBudget(
  config: { readonly source?: string; estimateParameters(): ParameterEstimate },
  device: Device,
): void {
  const est = config.estimateParameters();
  const source = config.source ?? "config";
  if (!(est.tensors <= MAX_PARAMETER_TENSORS)) {
    throw new Error(
      `${source}: ${est.repeat.field} = ${est.repeat.value} needs ${est.tensors} parameter ` +
        `tensors, beyond the ${MAX_PARAMETER_TENSORS} velora accepts`,
    );
  }
  const limit = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
  const largestBytes = est.largest.elements * 4;
  if (!(largestBytes <= limit)) {
    throw new Error(
      `${source}: ${est.largest.fields.join(" × ")} gives a ${
        gib(largestBytes)
      } parameter tensor, beyond the device's ${gib(limit)} buffer limit`,
    );
  }
  const totalBytes = est.total * 4;
  if (!(totalBytes <= MAX_PARAMETER_BYTES)) {
    throw new Error(
      `${source}: ${est.dominant} makes the parameters ${gib(totalBytes)}, beyond the ${
        gib(MAX_PARAMETER_BYTES)
      } velora accepts`,
    );
  }
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toPrecision(3)} GiB`
    : `${(bytes / 2 ** 20).toPrecision(3)} MiB`;
}
