// Comparing a training step with a PyTorch golden file (tests/fixtures/gen_*_golden.py): the
// tolerances every model parity test uses (CONTRIBUTING.md: logits 1e-4, every gradient 1e-3).
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Device } from "../../src/runtime/device.ts";

/** A loaded safetensors file of golden tensors. */
export type Golden = Map<string, { shape: number[]; data: Float32Array | Int32Array }>;

/** |a − ref| ≤ rtol·max|ref| + atol for every element (per-tensor scale, as the fixtures advise). */
export function assertTensorClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  rtol: number,
  what: string,
  atol = 1e-6,
): void {
  assert.equal(got.length, ref.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i] - ref[i]);
    if (!(err <= rtol * scale + atol)) {
      throw new Error(`${what}[${i}] = ${got[i]}, expected ${ref[i]} (max|ref| ${scale})`);
    }
  }
}

/** Tensor `name` of a loaded safetensors file on `device`: i32 for integer data, else f32. */
export function goldenTensor(device: Device, file: Golden, name: string): Tensor {
  const e = file.get(name);
  assert.ok(e, `golden file has ${name}`);
  return Tensor.from(device, e.data, e.shape, {
    dtype: e.data instanceof Int32Array ? "i32" : "f32",
  });
}

/** A model with an HF task head: forward(inputs with labels) → logits and the loss. */
export interface HeadModel<I> {
  forward(inputs: I): { logits: Tensor; loss: Tensor | null };
  named_parameters(): Iterable<[string, Tensor]>;
}

/**
 * One training step of `model` on `inputs` (labels included), compared with `golden`: logits and
 * loss to 1e-4, every parameter's gradient to 1e-3 (of the tensor's max, atol 1e-5), one golden
 * gradient per parameter, and activation bytes back to 0 after backward.
 */
export async function checkGoldenStep<I>(
  model: HeadModel<I>,
  inputs: I,
  golden: Golden,
): Promise<void> {
  const out = tidy(() => {
    const o = model.forward(inputs);
    return { logits: o.logits.keep(), loss: o.loss!.keep() };
  });
  assertTensorClose(await out.logits.toArray(), golden.get("logits")!.data, 1e-4, "logits");
  assertTensorClose(await out.loss.toArray(), golden.get("loss")!.data, 1e-4, "loss");
  out.loss.backward();
  assert.equal(
    out.loss.device.memory.byCategory.activation,
    0,
    "backward released every saved tensor",
  );
  let n = 0;
  for (const [name, p] of model.named_parameters()) {
    const ref = golden.get(`grad.${name}`);
    assert.ok(ref, `golden has grad.${name}`);
    assertTensorClose(await p.grad!.toArray(), ref.data, 1e-3, `grad.${name}`, 1e-5);
    n++;
  }
  assert.equal(n, [...golden.keys()].filter((k) => k.startsWith("grad.")).length);
  out.logits.dispose();
  out.loss.dispose();
}
