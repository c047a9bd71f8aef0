import assert from "node:assert/strict";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { tidy } from "../src/tensor/scope.ts";
import { Dropout } from "../src/nn/dropout.ts";
import { testDevice } from "./helpers/gpu.ts";
import { assertTensorClose, checkTrainingStep, dir, loadInputs } from "./helpers/bert.ts";

Deno.test("BERT with attn_implementation flash_attention_2 matches the PyTorch golden step", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const golden = await loadSafetensors(`${dir}/golden.safetensors`);
  const model = await BertForSequenceClassification.from_pretrained(dir, {
    device,
    attn_implementation: "flash_attention_2",
    warn: () => {},
  });
  model.train();
  await checkTrainingStep(model, inp, inp.labels, golden);
  model.dispose();
});

Deno.test("flash_attention_2 equals eager with dropout on (same masks) and keeps fewer bytes", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const run = async (impl: string) => {
    const model = await BertForSequenceClassification.from_pretrained(dir, {
      device,
      attn_implementation: impl,
      warn: () => {},
    });
    for (const [, m] of model.named_modules()) {
      if (m instanceof Dropout) (m as { p: number }).p = 0.2;
    }
    model.train();
    const loss = tidy(() => model.forward({ ...inp, labels: inp.labels }).loss!.keep());
    const saved = device.memory.byCategory.activation;
    loss.backward();
    const value = await loss.item();
    loss.dispose();
    const grads = new Map<string, Float32Array>();
    for (const [name, p] of model.named_parameters()) {
      grads.set(name, (await p.grad!.toArray()) as Float32Array);
    }
    model.dispose();
    return { value, grads, saved };
  };
  const eager = await run("eager");
  const flash = await run("flash_attention_2");
  assertTensorClose([flash.value], [eager.value], 1e-5, "loss");
  for (const [name, g] of eager.grads) {
    assertTensorClose(flash.grads.get(name)!, g, 1e-4, `grad ${name}`, 1e-7);
  }
  // Per layer, eager keeps the probabilities [B, H, S, S]; flash keeps statistics [B, H, S, 4]
  // instead, and the mask [B, S] once (every layer saves the same one). Q, K, V and the context
  // (saved by the output projection) are kept in both.
  const [b, s] = inp.input_ids.shape;
  const probs = b * 4 * s * s * 4;
  const stats = b * 4 * s * 16;
  assert.equal(eager.saved - flash.saved, 2 * (probs - stats) - b * s * 4, "bytes saved");
});
