/**
 * Deterministic column sums over many rows in two passes, as the normalisation ops take their
 * parameter gradients: a kernel writes per-chunk partial sums [chunks, C] (each workgroup row
 * sums its chunk of rows in order), then `sumRows` adds the chunks in order. Fixed summation
 * order and no atomics, so the result is bit-identical across runs.
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";
import { sumRows } from "./reduce.ts";

/** Rows summed per workgroup by the partial pass (more when the chunks would exceed 65535). */
const ROW_CHUNK = 64;

/**
 * Sums columns over `rows` rows in chunks: allocates `outputs` partial tensors [chunks, cols],
 * lets `launch` fill them (grid `[ceil(cols / 64), chunks]`; workgroup row k sums rows
 * [k·chunk, min((k+1)·chunk, rows))), then reduces each over its chunks.
 * @returns `outputs` tensors [cols], in the order of the partials.
 */
export function chunkedColumnSums(
  device: Tensor["device"],
  rows: number,
  cols: number,
  outputs: number,
  launch: (partials: Tensor[], chunk: number, workgroups: [number, number]) => void,
): Tensor[] {
  const chunk = Math.max(ROW_CHUNK, Math.ceil(rows / 65535));
  const chunks = Math.max(1, Math.ceil(rows / chunk));
  const partials = Array.from({ length: outputs }, () => Tensor.empty(device, [chunks, cols]));
  launch(partials, chunk, [Math.ceil(cols / 64), chunks]);
  return partials.map((p) => {
    const out = chunks === 1 ? p.view([cols]) : sumRows(p);
    p.dispose();
    return out;
  });
}
