import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Tensor } from "../../src/tensor/tensor.ts";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import { testDevice } from "./gpu.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { BertForSequenceClassification } from "../../src/models/bert/modeling_bert.ts";
import { Dropout } from "../../src/nn/dropout.ts";

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

/**
 * One training step of `model` on the golden inputs and `labels`, compared with the golden file
 * `goldenFile` of {@linkcode dir}: logits and loss to 1e-4, every parameter's gradient to 1e-3 (of
 * the tensor's max), activation bytes back to 0.
 * @returns the golden tensors, for further checks.
 */
export async function checkTrainingStep(
  model: BertForSequenceClassification,
  goldenFile: string,
  labels: "labels" | "labels_regression" = "labels",
): Promise<Map<string, { data: Float32Array | Int32Array }>> {
  const golden = await loadSafetensors(`${dir}/${goldenFile}`);
  const device = await testDevice();
  const inputs = await loadInputs(device);
  const out = tidy(() => {
    const o = model.forward({ ...inputs, labels: inputs[labels] });
    return { logits: o.logits.keep(), loss: o.loss!.keep() };
  });
  assertTensorClose(await out.logits.toArray(), golden.get("logits")!.data, 1e-4, "logits");
  assertTensorClose(await out.loss.toArray(), golden.get("loss")!.data, 1e-4, "loss");
  out.loss.backward();
  assert.equal(device.memory.byCategory.activation, 0, "backward released every saved tensor");
  for (const [name, p] of model.named_parameters()) {
    const ref = golden.get(`grad.${name}`);
    assert.ok(ref, `golden has grad.${name}`);
    assertTensorClose(await p.grad!.toArray(), ref.data, 1e-3, `grad.${name}`, 1e-5);
  }
  out.logits.dispose();
  out.loss.dispose();
  Object.values(inputs).forEach((t) => t.dispose());
  return golden;
}

/**
 * The tiny golden BERT classifier loaded from `from` (default {@linkcode dir}) with `options`, in
 * train mode; `dropout` (when given) replaces every Dropout's p.
 */
export async function trainingBert(
  device: Awaited<ReturnType<typeof testDevice>>,
  options: Omit<Parameters<typeof BertForSequenceClassification.from_pretrained>[1], "device"> = {},
  { from = dir, dropout }: { from?: string; dropout?: number } = {},
): Promise<BertForSequenceClassification> {
  const model = await BertForSequenceClassification.from_pretrained(from, { device, ...options });
  if (dropout !== undefined) {
    for (const [, m] of model.named_modules()) {
      if (m instanceof Dropout) (m as { p: number }).p = dropout;
    }
  }
  model.train();
  return model;
}

/**
 * One forward + backward of `model` on the golden inputs and labels: the loss, the activation
 * bytes saved by the forward, and every parameter's gradient by name.
 */
export async function lossAndGrads(
  model: BertForSequenceClassification,
  inputs: Awaited<ReturnType<typeof loadInputs>>,
): Promise<{ loss: number; saved: number; grads: Map<string, Float32Array> }> {
  const device = inputs.labels.device;
  const loss = tidy(() => model.forward({ ...inputs, labels: inputs.labels }).loss!.keep());
  const saved = device.memory.byCategory.activation;
  loss.backward();
  const value = await loss.item();
  loss.dispose();
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of model.named_parameters()) {
    grads.set(name, (await p.grad!.toArray()) as Float32Array);
  }
  return { loss: value, saved, grads };
}
