import assert from "node:assert/strict";
import {
  buildLlamaBenchModel,
  disposeGpuBatch,
  measureGeneration,
  measureMode,
  type ModelShape,
  randomBatch,
  uploadBatch,
} from "../bench/lib/step.ts";
import { savedGroups } from "../bench/lib/saved.ts";
import { tidy } from "../src/tensor/scope.ts";
import { testDevice } from "./helpers/gpu.ts";

// llama-60m's layout at toy size (the vocabulary must exceed the bench's id offset of 1000).
const TINY: ModelShape = {
  name: "llama-tiny",
  kind: "llama",
  layers: 2,
  hidden: 128,
  heads: 4,
  intermediate: 172,
  vocab: 1100,
};

Deno.test("bench: llama rows (VeLoRA-all frees the q/k/v and gate/up inputs) and generation speed", async () => {
  const device = await testDevice();
  const { model, veloraLayers } = buildLlamaBenchModel(device, TINY, 16, "velora-all", 0);
  assert.equal(veloraLayers, 7 * TINY.layers);
  model.dispose();
  assert.throws(() => buildLlamaBenchModel(device, TINY, 16, "lora", 0), /not benchmarked/);
  const batch = uploadBatch(device, randomBatch(2, 16, TINY.vocab, 0), "llama");
  assert.deepEqual(batch.labels.shape, [2, 16]);
  try {
    const run = (mode: "full" | "velora-all" | "lean") =>
      measureMode(device, {
        shape: TINY,
        mode,
        batch,
        dims: { batch: 2, seq: 16 },
        warmup: 0,
        steps: 1,
        seed: 0,
      });
    const full = await run("full");
    const vel = await run("velora-all");
    const lean = await run("lean");
    assert.ok(
      Number.isFinite(full.loss) && Number.isFinite(vel.loss) && Number.isFinite(lean.loss),
    );
    assert.equal(full.leaked_bytes, 0);
    assert.equal(vel.leaked_bytes, 0);
    assert.equal(lean.leaked_bytes, 0);
    assert.equal(lean.velora_layers, 7 * TINY.layers);
    // 0.327× here (the logits weigh little at vocabulary 1100); 0.203× at llama-60m × 256 tokens
    // (`deno run -A bench/activations.ts --model llama-60m`).
    assert.ok(
      lean.activation_bytes < 0.35 * full.activation_bytes,
      `lean ${lean.activation_bytes} vs full ${full.activation_bytes}`,
    );
    // At least the q/k/v and gate/up inputs (two [32, 128] f32 tensors per layer) are gone.
    const sharedInputs = TINY.layers * 2 * 32 * 128 * 4;
    assert.ok(
      full.activation_bytes - vel.activation_bytes >= sharedInputs,
      `${full.activation_bytes} − ${vel.activation_bytes} < ${sharedInputs}`,
    );
    // The per-op listing of bench/activations.ts --list accounts for every saved byte.
    const { model: leanModel } = buildLlamaBenchModel(device, TINY, 16, "lean", 0);
    const before = device.memory.byCategory.activation;
    const loss = tidy(() =>
      leanModel.forward({
        input_ids: batch.input_ids,
        attention_mask: batch.attention_mask,
        labels: batch.labels,
      }).loss!.keep()
    );
    const groups = savedGroups(loss);
    assert.equal(
      groups.reduce((n, g) => n + g.bytes, 0),
      device.memory.byCategory.activation - before,
    );
    assert.ok(groups.some((g) => g.op === "SwiGLUBackward#0" && g.half && g.count === 2));
    loss.dispose();
    leanModel.dispose();
  } finally {
    disposeGpuBatch(batch);
  }
  const g = await measureGeneration(device, TINY, { batch: 1, prompt: 4, new_tokens: 3, seed: 0 });
  assert.ok(g.decode_tokens_per_second > 0 && g.prefill_ms > 0);
});
