import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { testDevice } from "./helpers/gpu.ts";
import {
  assertTensorClose,
  checkTrainingStep,
  dir,
  loadInputs,
  lossAndGrads,
  trainingBert,
} from "./helpers/bert.ts";

Deno.test("BERT forward, loss and every gradient match PyTorch (train mode, dropout 0)", async () => {
  const device = await testDevice();
  const warnings: string[] = [];
  const model = await trainingBert(device, { warn: (m) => warnings.push(m) });
  assert.deepEqual(warnings, []);
  await checkTrainingStep(model, "golden.safetensors");
  model.dispose();
});

Deno.test("BERT regression head (num_labels 1) uses MSE and matches PyTorch", async () => {
  const device = await testDevice();
  const rdir = fileURLToPath(new URL("./fixtures/bert_tiny_regression/", import.meta.url));
  const model = await trainingBert(device, { warn: () => {} }, { from: rdir });
  await checkTrainingStep(model, "golden_regression.safetensors", "labels_regression");
  model.dispose();
});

Deno.test("gradient checkpointing gives the plain gradients with a lower activation peak", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const run = async (checkpointing: boolean) => {
    const model = await trainingBert(device);
    if (checkpointing) model.gradient_checkpointing_enable();
    const { grads, saved } = await lossAndGrads(model, inp);
    model.dispose();
    return { grads, activation: saved };
  };
  const plain = await run(false);
  const ckpt = await run(true);
  assert.ok(
    ckpt.activation < plain.activation,
    `checkpointing activations ${ckpt.activation} < plain ${plain.activation}`,
  );
  for (const [name, g] of plain.grads) {
    assertTensorClose(ckpt.grads.get(name)!, g, 1e-5, `checkpointed grad ${name}`, 1e-7);
  }
  Object.values(inp).forEach((t) => t.dispose());
});

Deno.test("save_pretrained round trip reproduces the logits bit for bit", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const model = await BertForSequenceClassification.from_pretrained(dir, { device });
  const out = await Deno.makeTempDir();
  try {
    await model.save_pretrained(out);
    const again = await BertForSequenceClassification.from_pretrained(out, {
      device,
      warn: (m) => {
        throw new Error(`unexpected warning: ${m}`);
      },
    });
    const logits = async (m: BertForSequenceClassification) => {
      const t = tidy(() => m.forward(inp).logits.keep());
      const a = await t.toArray();
      t.dispose();
      return a;
    };
    assert.deepEqual(await logits(again), await logits(model));
    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.deepEqual(config.architectures, ["BertForSequenceClassification"]);
    assert.equal(config.num_labels ?? Object.keys(config.id2label).length, 3);
    again.dispose();
  } finally {
    model.dispose();
    Object.values(inp).forEach((t) => t.dispose());
    await Deno.remove(out, { recursive: true });
  }
});

const sharedTiny = new URL(
  "../../shared/data/fixtures/tiny-bert-random-safetensors/",
  import.meta.url,
);
const hasSharedTiny = await Deno.stat(sharedTiny).then(() => true, () => false);
if (!hasSharedTiny) {
  console.log("skipping the third-party checkpoint test: ../shared/data is absent");
}

Deno.test({
  name: "a BERT checkpoint written by HF transformers (no bert. prefix, no pooler) loads and runs",
  ignore: !hasSharedTiny,
  fn: async () => {
    const device = await testDevice();
    const warnings: string[] = [];
    const model = await BertForSequenceClassification.from_pretrained(fileURLToPath(sharedTiny), {
      device,
      num_labels: 2,
      warn: (m) => warnings.push(m),
    });
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /newly initialized: .*bert\.pooler\.dense\.weight.*classifier\.weight/,
    );
    const ids = Tensor.from(device, new Int32Array([2, 45, 67, 3, 2, 99, 3, 0]), [2, 4], {
      dtype: "i32",
    });
    const mask = Tensor.from(device, new Int32Array([1, 1, 1, 1, 1, 1, 1, 0]), [2, 4], {
      dtype: "i32",
    });
    const logits = tidy(() =>
      model.forward({ input_ids: ids, attention_mask: mask }).logits.keep()
    );
    const values = await logits.toArray();
    assert.equal(values.length, 4);
    assert.ok(values.every(Number.isFinite));
    [ids, mask, logits].forEach((t) => t.dispose());
    model.dispose();
  },
});

Deno.test("checkpointing replays dropout masks exactly and frees everything afterwards", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const base = device.memory.liveBytes;
  const run = async (checkpointing: boolean) => {
    // Dropout on: the replayed forward must draw the same masks as the original one.
    const model = await trainingBert(device, { warn: () => {} }, { dropout: 0.2 });
    if (checkpointing) model.gradient_checkpointing_enable();
    const { grads } = await lossAndGrads(model, inp);
    model.dispose();
    return grads;
  };
  const plain = await run(false);
  const ckpt = await run(true);
  for (const [name, g] of plain) {
    assertTensorClose(ckpt.get(name)!, g, 1e-5, `checkpointed grad ${name}`, 1e-7);
  }
  assert.equal(device.memory.liveBytes, base, "no tensor outlives the runs");
  Object.values(inp).forEach((t) => t.dispose());
});
