import { fileURLToPath } from "node:url";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import { testDevice } from "./gpu.ts";
import { assertTensorClose, checkGoldenStep, type Golden, goldenTensor } from "./golden.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { BertForSequenceClassification } from "../../src/models/bert/modeling_bert.ts";
import { Dropout } from "../../src/nn/dropout.ts";

/** The tiny golden BERT of tests/fixtures/bert_tiny. */
export const dir = fileURLToPath(new URL("../fixtures/bert_tiny/", import.meta.url));

export { assertTensorClose };

export async function loadInputs(device: Awaited<ReturnType<typeof testDevice>>) {
  const inputs = await loadSafetensors(`${dir}/inputs.safetensors`);
  const t = (name: string) => goldenTensor(device, inputs, name);
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
): Promise<Golden> {
  const golden = await loadSafetensors(`${dir}/${goldenFile}`);
  const device = await testDevice();
  const inputs = await loadInputs(device);
  await checkGoldenStep(model, { ...inputs, labels: inputs[labels] }, golden);
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
