import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadSafetensors, saveSafetensors } from "../src/io/safetensors.ts";
import {
  AutoConfig,
  AutoModel,
  AutoModelForMaskedLM,
  AutoModelForSequenceClassification,
} from "../src/models/auto/auto.ts";
import type { PreTrainedModel } from "../src/models/modeling_utils.ts";
import { RobertaForSequenceClassification, RobertaModel } from "../src/models/roberta/mod.ts";
import { BertForMaskedLM } from "../src/models/bert/modeling_bert.ts";
import { RobertaConfig } from "../src/models/roberta/config.ts";
import { testDevice } from "./helpers/gpu.ts";
import { checkGoldenStep, type Golden, goldenTensor, type HeadModel } from "./helpers/golden.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));

/** One training step against the golden file: logits and loss 1e-4, every gradient 1e-3. */
async function checkStep(model: PreTrainedModel, golden: Golden): Promise<void> {
  const device = await testDevice();
  const t = (name: string) => goldenTensor(device, golden, `input.${name}`);
  const inputs = {
    input_ids: t("input_ids"),
    attention_mask: t("attention_mask"),
    token_type_ids: t("token_type_ids"),
    labels: t("labels"),
  };
  model.train();
  await checkGoldenStep(model as unknown as HeadModel<typeof inputs>, inputs, golden);
  Object.values(inputs).forEach((x) => x.dispose());
}

for (
  const [name, auto, cls] of [
    ["roberta_tiny", AutoModelForSequenceClassification, "RobertaForSequenceClassification"],
    ["roberta_tiny_mlm", AutoModelForMaskedLM, "RobertaForMaskedLM"],
    ["bert_tiny_mlm", AutoModelForMaskedLM, "BertForMaskedLM"],
  ] as const
) {
  Deno.test(`${cls}: forward, loss and every gradient match PyTorch`, async () => {
    const device = await testDevice();
    const warnings: string[] = [];
    const model = await auto.from_pretrained(fixture(name), {
      device,
      warn: (m) => warnings.push(m),
    });
    assert.equal(model.constructor.name, cls);
    assert.deepEqual(warnings, [], "tied weights are not reported missing");
    await checkStep(model, await loadSafetensors(`${fixture(name)}/golden.safetensors`));
    model.dispose();
  });
}

Deno.test("BertForMaskedLM ties its decoder to the word embeddings and saves it once", async () => {
  const device = await testDevice();
  const model = await BertForMaskedLM.from_pretrained(fixture("bert_tiny_mlm"), { device });
  const word = model.bert.embeddings.word_embeddings.weight;
  assert.equal(model.cls.predictions.decoder.weight, word);
  assert.equal(model.cls.predictions.decoder.bias, model.cls.predictions.bias);
  assert.ok(model.state_dict().has("cls.predictions.decoder.weight"));
  const dir = await Deno.makeTempDir();
  try {
    await model.save_pretrained(dir);
    const saved = await loadSafetensors(`${dir}/model.safetensors`);
    const original = await loadSafetensors(`${fixture("bert_tiny_mlm")}/model.safetensors`);
    assert.deepEqual([...saved.keys()].sort(), [...original.keys()].sort());
    const again = await BertForMaskedLM.from_pretrained(dir, { device, warn: () => {} });
    assert.deepEqual(
      await again.cls.predictions.decoder.weight.toArray(),
      await word.toArray(),
    );
    again.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
    model.dispose();
  }
});

Deno.test("Auto classes dispatch on model_type; a base checkpoint loads into a head", async () => {
  const device = await testDevice();
  const config = await AutoConfig.from_pretrained(fixture("roberta_tiny"));
  assert.ok(config instanceof RobertaConfig);
  assert.equal(config.model_type, "roberta");
  const base = await AutoModel.from_pretrained(fixture("roberta_tiny"), { device, warn: () => {} });
  assert.ok(base instanceof RobertaModel);
  assert.ok([...base.state_dict().keys()].every((k) => !k.startsWith("roberta.")));
  base.dispose();
  const warnings: string[] = [];
  const cls = await RobertaForSequenceClassification.from_pretrained(fixture("roberta_tiny_mlm"), {
    device,
    num_labels: 2,
    warn: (m) => warnings.push(m),
  });
  assert.match(warnings.join("\n"), /newly initialized: classifier\.dense\.weight/);
  assert.match(warnings.join("\n"), /not used: lm_head\.bias/);
  cls.dispose();
  await assert.rejects(
    () => BertForMaskedLM.from_pretrained(fixture("roberta_tiny_mlm"), { device }),
    /model_type "roberta" cannot be loaded as BertForMaskedLM/,
  );
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ model_type: "gpt9" }));
    await assert.rejects(
      () => AutoModelForMaskedLM.from_pretrained(dir, { device }),
      /config\.json: model_type = "gpt9" is not supported \(supported: "bert", "roberta"/,
    );
  });
});

Deno.test("from_pretrained streams a sharded checkpoint with TF-era gamma/beta names", async () => {
  const device = await testDevice();
  const src = await loadSafetensors(`${fixture("bert_tiny_mlm")}/model.safetensors`);
  await withTempDir(async (dir) => {
    await Deno.copyFile(`${fixture("bert_tiny_mlm")}/config.json`, `${dir}/config.json`);
    const names = [...src.keys()];
    const half = Math.ceil(names.length / 2);
    const weight_map: Record<string, string> = {};
    for (const [i, part] of [names.slice(0, half), names.slice(half)].entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const n of part) {
        // Old checkpoints spell LayerNorm parameters gamma/beta (HF renames them on load).
        const k = n.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(
          /LayerNorm\.bias$/,
          "LayerNorm.beta",
        );
        tensors.set(k, { shape: src.get(n)!.shape, data: src.get(n)!.data as Float32Array });
        weight_map[k] = file;
      }
      await saveSafetensors(`${dir}/${file}`, tensors);
    }
    await Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({ metadata: {}, weight_map }),
    );
    const warnings: string[] = [];
    const model = await BertForMaskedLM.from_pretrained(dir, {
      device,
      dtype: "float32",
      warn: (m) => warnings.push(m),
    });
    assert.deepEqual(warnings, []);
    await checkStep(model, await loadSafetensors(`${fixture("bert_tiny_mlm")}/golden.safetensors`));
    model.dispose();
    await assert.rejects(
      () => BertForMaskedLM.from_pretrained(dir, { device, dtype: "float16" as "float32" }),
      /dtype "float16" is not supported/,
    );
  });
});
