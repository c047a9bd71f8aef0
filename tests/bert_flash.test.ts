import assert from "node:assert/strict";
import { testDevice } from "./helpers/gpu.ts";
import {
  assertTensorClose,
  checkTrainingStep,
  loadInputs,
  lossAndGrads,
  trainingBert,
} from "./helpers/bert.ts";

Deno.test("BERT with attn_implementation flash_attention_2 matches the PyTorch golden step", async () => {
  const device = await testDevice();
  const model = await trainingBert(device, {
    attn_implementation: "flash_attention_2",
    warn: () => {},
  });
  await checkTrainingStep(model, "golden.safetensors");
  model.dispose();
});

Deno.test("flash_attention_2 equals eager with dropout on (same masks) and keeps fewer bytes", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const run = async (impl: string) => {
    const model = await trainingBert(device, { attn_implementation: impl, warn: () => {} }, {
      dropout: 0.2,
    });
    const step = await lossAndGrads(model, inp);
    model.dispose();
    return step;
  };
  const eager = await run("eager");
  const flash = await run("flash_attention_2");
  assertTensorClose([flash.loss], [eager.loss], 1e-5, "loss");
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
