import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Tensor } from "../../src/tensor/tensor.ts";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import type { testDevice } from "./gpu.ts";

/** The tiny golden BERT of tests/fixtures/bert_tiny. */
export const dir = fileURLToPath(new URL("../fixtures/bert_tiny/", import.meta.url));

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

export async function loadInputs(device: Awaited<ReturnType<typeof testDevice>>) {
  const inputs = await loadSafetensors(`${dir}/inputs.safetensors`);
  const t = (name: string) => {
    const e = inputs.get(name)!;
    return Tensor.from(device, e.data, e.shape, {
      dtype: e.data instanceof Int32Array ? "i32" : "f32",
    });
  };
  return {
    input_ids: t("input_ids"),
    attention_mask: t("attention_mask"),
    token_type_ids: t("token_type_ids"),
    labels: t("labels"),
    labels_regression: t("labels_regression"),
  };
}
