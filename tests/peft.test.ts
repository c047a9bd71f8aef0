import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { Linear } from "../src/nn/linear.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { AdamW } from "../src/optim/adamw.ts";
import {
  get_peft_model,
  LoraConfig,
  LoraLinear,
  PeftModel,
  readAdapterConfig,
} from "../src/peft/mod.ts";
import { VeLoRALinear } from "../src/velora/velora_linear.ts";
import { testDevice } from "./helpers/gpu.ts";
import { assertTensorClose, dir as bertDir, loadInputs } from "./helpers/bert.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const adapterDir = fileURLToPath(new URL("./fixtures/lora_bert_tiny/", import.meta.url));
const golden = await loadSafetensors(join(adapterDir, "golden.safetensors"));
const g = (name: string) => {
  const t = golden.get(name);
  assert.ok(t, `golden has ${name}`);
  return t.data;
};

async function bert() {
  const device = await testDevice();
  const model = await BertForSequenceClassification.from_pretrained(bertDir, { device });
  model.train();
  return model;
}

type Inputs = Awaited<ReturnType<typeof loadInputs>>;

function step(model: PeftModel, inp: Inputs) {
  return tidy(() => {
    const o = model.forward({ ...inp, labels: inp.labels });
    return { logits: o.logits.keep() as Tensor, loss: o.loss!.keep() as Tensor };
  });
}

/** One step against the golden `tag` (logits, loss, the gradient of every trainable tensor). */
async function checkGolden(peft: PeftModel, inp: Inputs, tag: string) {
  const device = inp.labels.device;
  const out = step(peft, inp);
  assertTensorClose(await out.logits.toArray(), g(`${tag}.logits`), 1e-4, `${tag} logits`);
  assertTensorClose(await out.loss.toArray(), g(`${tag}.loss`), 1e-4, `${tag} loss`);
  out.loss.backward();
  assert.equal(device.memory.byCategory.activation, 0);
  const trainable = [...peft.named_parameters()].filter(([, p]) => p.requiresGrad);
  const expected = [...golden.keys()].filter((k) => k.startsWith(`${tag}.grad.`))
    .map((k) => k.slice(`${tag}.grad.`.length));
  assert.deepEqual(trainable.map(([n]) => n).sort(), expected.sort(), "trainable tensors");
  for (const [name, p] of trainable) {
    assertTensorClose(await p.grad!.toArray(), g(`${tag}.grad.${name}`), 1e-3, name, 1e-5);
  }
  for (const [name, p] of peft.named_parameters()) {
    if (!p.requiresGrad) assert.equal(p.grad, null, `${name} is frozen: no gradient buffer`);
  }
  out.logits.dispose();
  out.loss.dispose();
  peft.zero_grad();
}

Deno.test("a PEFT-named adapter loads; a LoRA step matches PyTorch (logits, loss, every trainable gradient)", async () => {
  const device = await testDevice();
  const peft = await PeftModel.from_pretrained(await bert(), adapterDir, { is_trainable: true });
  const names = [...peft.named_parameters()].map(([n]) => n);
  for (
    const n of [
      "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.default.weight",
      "base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.default.weight",
      "base_model.model.bert.encoder.layer.0.attention.self.query.base_layer.weight",
      "base_model.model.classifier.modules_to_save.default.weight",
      "base_model.model.classifier.original_module.weight",
    ]
  ) assert.ok(names.includes(n), `named_parameters has ${n}`);
  const q = peft.get_base_model().get_submodule("bert.encoder.layer.1.output.dense") as LoraLinear;
  assert.deepEqual(q.lora_A.get("default").weight.shape, [4, 37]);
  const inp = await loadInputs(device);
  peft.train();
  await checkGolden(peft, inp, "lora");
  Object.values(inp).forEach((t) => t.dispose());
  peft.dispose();
});

Deno.test("LoRA + VeLoRA: z from lora_A's input, only lora_A's gradient approximated; q and v share z", async () => {
  const device = await testDevice();
  const config = await readAdapterConfig(adapterDir);
  config.inference_mode = false;
  config.velora_config = { num_groups: 8 };
  const peft = get_peft_model(await bert(), config);
  await peft.load_adapter_weights(adapterDir);
  const a = peft.get_base_model().get_submodule(
    "bert.encoder.layer.0.attention.self.query",
  ) as LoraLinear;
  assert.ok(a.lora_A.get("default") instanceof VeLoRALinear);
  const inp = await loadInputs(device);
  await checkGolden(peft, inp, "lora_velora");
  const qa = a.lora_A.get("default") as VeLoRALinear;
  const va =
    (peft.get_base_model().get_submodule("bert.encoder.layer.0.attention.self.value") as LoraLinear)
      .lora_A.get("default") as VeLoRALinear;
  assert.equal(qa.v!.storage, va.v!.storage, "query and value adapters read one input: one v");
  assert.equal(va.trace.sharedZ, true, "value's adapter reuses query's z");
  Object.values(inp).forEach((t) => t.dispose());
  peft.dispose();
});

Deno.test("save_pretrained writes PEFT's names and config; merge_and_unload reproduces the logits; unload restores W", async () => {
  const device = await testDevice();
  const peft = await PeftModel.from_pretrained(await bert(), adapterDir);
  assert.equal(peft.training, false, "not trainable: eval mode");
  assert.ok([...peft.parameters()].every((p) => !p.requiresGrad), "frozen adapter");
  await withTempDir(async (out) => {
    await peft.save_pretrained(out);
    const ours = await loadSafetensors(join(out, "adapter_model.safetensors"));
    const theirs = await loadSafetensors(join(adapterDir, "adapter_model.safetensors"));
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), "PEFT key names");
    for (const [k, v] of theirs) assert.deepEqual(ours.get(k)!.data, v.data, k);
    const cfg = JSON.parse(await Deno.readTextFile(join(out, "adapter_config.json")));
    assert.equal(cfg.peft_type, "LORA");
    assert.deepEqual(cfg.target_modules, ["query", "value", "output.dense"]);
    assert.deepEqual(cfg.modules_to_save, ["classifier"]);
    assert.equal(cfg.r, 4);
    assert.equal(cfg.lora_alpha, 8);
    assert.equal(cfg.inference_mode, true);
  });
  const inp = await loadInputs(device);
  const logits = noGrad(() => tidy(() => peft.forward(inp).logits.keep() as Tensor));
  assertTensorClose(await logits.toArray(), g("lora.logits"), 1e-4, "eval logits");
  logits.dispose();
  const merged = peft.merge_and_unload() as BertForSequenceClassification;
  assert.ok(merged.bert.encoder.layer[0].attention.self.query instanceof Linear);
  assert.ok(merged.classifier instanceof Linear);
  assert.ok([...merged.state_dict().keys()].every((k) => !k.includes("lora_")));
  const m = noGrad(() => tidy(() => merged.forward(inp).logits.keep()));
  assertTensorClose(await m.toArray(), g("merged.logits"), 1e-4, "merged logits");
  assertTensorClose(await m.toArray(), g("lora.logits"), 1e-4, "merged = adapter logits");
  m.dispose();
  merged.dispose();

  // unmerge / unload give the original weights back.
  const base = await bert();
  const w0 = await base.bert.encoder.layer[0].attention.self.query.weight.toArray();
  const again = await PeftModel.from_pretrained(base, adapterDir);
  again.merge_adapter();
  const lq = again.get_base_model().get_submodule(
    "bert.encoder.layer.0.attention.self.query",
  ) as LoraLinear;
  assert.ok(lq.merged);
  const wm = await lq.base_layer.weight.toArray();
  assert.ok(wm.some((v, i) => Math.abs(v - w0[i]) > 1e-3), "merging changed W");
  const plain = again.unload() as BertForSequenceClassification;
  assertTensorClose(
    await plain.bert.encoder.layer[0].attention.self.query.weight.toArray(),
    w0,
    1e-6,
    "unmerged W",
  );
  plain.dispose();
  Object.values(inp).forEach((t) => t.dispose());
});

Deno.test("get_peft_model: PEFT init (B = 0: the base logits), trainable counts, frozen base costs no gradient or AdamW state", async () => {
  const device = await testDevice();
  const model = await bert();
  const inp = await loadInputs(device);
  const base = noGrad(() => tidy(() => model.forward(inp).logits.keep()));
  const baseLogits = await base.toArray();
  base.dispose();
  const peft = get_peft_model(
    model,
    new LoraConfig({
      r: 2,
      lora_alpha: 4,
      target_modules: ["query", "value"],
      modules_to_save: ["classifier"],
      seed: 1,
    }),
  );
  const lines: string[] = [];
  const line = peft.print_trainable_parameters((l) => lines.push(l));
  // 4 layers × (A [2, 32] + B [32, 2]) + classifier copy [3, 32] + [3].
  const trainable = 4 * (64 + 64) + 96 + 3;
  const all = model.num_parameters() - 0; // the wrapped model now holds base + adapters + copy
  assert.equal(
    line,
    `trainable params: ${trainable.toLocaleString("en-US")} || all params: ${
      all.toLocaleString("en-US")
    } || trainable%: ${(100 * trainable / all).toFixed(4)}`,
  );
  assert.deepEqual(lines, [line]);
  const a = peft.get_base_model().get_submodule(
    "bert.encoder.layer.0.attention.self.query",
  ) as LoraLinear;
  const av = await a.lora_A.get("default").weight.toArray();
  const bound = 1 / Math.sqrt(32); // kaiming-uniform(a = √5): U(−1/√in, 1/√in)
  assert.ok(av.every((v) => Math.abs(v) <= bound) && av.some((v) => v !== 0), "A kaiming");
  assert.ok((await a.lora_B.get("default").weight.toArray()).every((v) => v === 0), "B zeros");
  peft.train();
  const out = step(peft, inp);
  assertTensorClose(await out.logits.toArray(), baseLogits, 1e-5, "B = 0: base logits");
  const act = device.memory.byCategory.activation;
  out.loss.backward();
  const params = [...peft.named_parameters()].filter(([, p]) => p.requiresGrad);
  assert.equal(params.reduce((n, [, p]) => n + p.numel, 0), trainable);
  const gradBytes = device.memory.byCategory.gradient;
  assert.equal(gradBytes, trainable * 4, "gradient memory = trainable tensors only");
  const opt = new AdamW(params, { lr: 1e-3 });
  const before = device.memory.byCategory.optimizer;
  opt.step();
  assert.equal(device.memory.byCategory.optimizer - before, 2 * trainable * 4, "AdamW m, v only");
  assert.ok(act > 0);
  out.logits.dispose();
  out.loss.dispose();
  peft.zero_grad();
  opt.dispose?.();
  Object.values(inp).forEach((t) => t.dispose());
  peft.dispose();
});

Deno.test("target_modules: suffixes, RegExp, all-linear (no classifier for SEQ_CLS); bias options; clear errors", async () => {
  const names = (p: PeftModel) =>
    [...p.get_base_model().named_modules()].filter(([, m]) => m instanceof LoraLinear)
      .map(([n]) => n);
  const all = get_peft_model(
    await bert(),
    new LoraConfig({ target_modules: "all-linear", task_type: "SEQ_CLS" }),
  );
  assert.equal(names(all).length, 2 * 6 + 1, "six per layer and the pooler, not the classifier");
  assert.ok(!names(all).includes("classifier"));
  assert.ok(
    [...all.named_parameters()].some(([n]) => n.includes("classifier.modules_to_save.default")),
    "SEQ_CLS trains and saves the head",
  );
  all.dispose();
  const re = get_peft_model(
    await bert(),
    new LoraConfig({ target_modules: [/.*layer\.1\.attention\.self\.(query|key)/] }),
  );
  assert.deepEqual(names(re), [
    "bert.encoder.layer.1.attention.self.query",
    "bert.encoder.layer.1.attention.self.key",
  ]);
  re.dispose();
  const biasAll = get_peft_model(
    await bert(),
    new LoraConfig({ target_modules: ["value"], bias: "lora_only" }),
  );
  const trainable = [...biasAll.named_parameters()].filter(([, p]) => p.requiresGrad)
    .map(([n]) => n);
  assert.ok(
    trainable.includes(
      "base_model.model.bert.encoder.layer.0.attention.self.value.base_layer.bias",
    ),
  );
  assert.ok(!trainable.some((n) => n.includes("query")));
  const sd = biasAll.adapter_state_dict();
  assert.ok([...sd.keys()].some((k) => k.endsWith("value.base_layer.bias")));
  biasAll.dispose();
  const model = await bert();
  assert.throws(
    () => get_peft_model(model, new LoraConfig({ target_modules: ["nope"] })),
    /matched no module of BertForSequenceClassification; candidate linear layers: bert\.encoder/,
  );
  assert.throws(
    () => get_peft_model(model, new LoraConfig({ target_modules: ["attention"] })),
    /only linear layers can take LoRA/,
  );
  assert.throws(() => new LoraConfig({ r: 0 }), /r must be a positive integer/);
  assert.throws(() => new LoraConfig({ bias: "some" as "all" }), /bias must be/);
  await assert.rejects(
    () => PeftModel.from_pretrained(model, bertDir),
    /adapter_config\.json: not found/,
  );
  model.dispose();
});

Deno.test("LoRA + VeLoRA keeps z instead of the adapters' input: activation bytes fall by exactly x − z per layer", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const activation = async (velora: boolean) => {
    const peft = get_peft_model(
      await bert(),
      new LoraConfig({
        r: 2,
        target_modules: ["query", "value"],
        velora_config: velora ? { num_groups: 8 } : null,
      }),
    );
    peft.train();
    const out = step(peft, inp);
    const bytes = device.memory.byCategory.activation;
    out.loss.backward();
    [out.logits, out.loss].forEach((t) => t.dispose());
    peft.zero_grad();
    peft.dispose();
    return bytes;
  };
  const lora = await activation(false);
  const lv = await activation(true);
  // Per layer: query's and value's adapters read one input [21, 32] (f32), saved once without
  // VeLoRA; with it, one shared z [21, 8] (packed f16).
  assert.equal(lora - lv, 2 * (21 * 32 * 4 - Math.ceil((21 * 8) / 2) * 4));
  Object.values(inp).forEach((t) => t.dispose());
});

Deno.test("lora_dropout: a training forward drops the adapter input, eval does not; rslora scaling; load_state_dict by runtime names", async () => {
  const device = await testDevice();
  assert.equal(new LoraConfig({ r: 4, lora_alpha: 8 }).scaling, 2);
  assert.equal(new LoraConfig({ r: 4, lora_alpha: 8, use_rslora: true }).scaling, 4);
  const peft = get_peft_model(
    await bert(),
    new LoraConfig({
      r: 2,
      target_modules: ["value"],
      lora_dropout: 0.5,
      init_lora_weights: false,
    }),
  );
  // PEFT runtime names in load_state_dict (strict: false for a partial dict).
  const name = "base_model.model.bert.encoder.layer.0.attention.self.value.lora_B.default.weight";
  const b = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 0.5);
  const res = peft.load_state_dict({ [name]: b }, { strict: false });
  assert.deepEqual(res.unexpected_keys, []);
  assert.deepEqual(await peft.get_parameter(name).toArray(), b);
  const inp = await loadInputs(device);
  const logits = async (train: boolean) => {
    peft.train(train);
    const l = noGrad(() => tidy(() => peft.forward(inp).logits.keep() as Tensor));
    const out = await l.toArray();
    l.dispose();
    return out;
  };
  const evalA = await logits(false);
  const trainA = await logits(true);
  const evalB = await logits(false);
  assert.deepEqual(evalA, evalB, "eval: no dropout");
  assert.ok(trainA.some((v, i) => Math.abs(v - evalA[i]) > 1e-4), "training: the input is dropped");
  peft.train();
  const out = step(peft, inp);
  out.loss.backward();
  const a = peft.get_parameter(name.replace("lora_B", "lora_A"));
  assert.ok(a.grad && (await a.grad.toArray()).some((v) => v !== 0));
  [out.logits, out.loss].forEach((t) => t.dispose());
  Object.values(inp).forEach((t) => t.dispose());
  peft.dispose();
});

Deno.test("pipeline('text-classification', adapterDir): the base from base_model_name_or_path, the adapter merged", async () => {
  const device = await testDevice();
  const words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  for (let i = words.length; i < 99; i++) words.push(`w${i}`);
  await withTempDir(async (dir) => {
    const config = await readAdapterConfig(adapterDir);
    config.base_model_name_or_path = bertDir;
    const peft = get_peft_model(await bert(), config);
    await peft.load_adapter_weights(adapterDir);
    await peft.save_pretrained(dir);
    await Deno.writeTextFile(join(dir, "vocab.txt"), words.join("\n") + "\n");
    peft.dispose();
    const { pipeline } = await import("../src/pipelines/mod.ts");
    const classify = await pipeline("text-classification", dir, { device });
    const scores = await classify("w17 w45 w88", { top_k: null }) as {
      label: string;
      score: number;
    }[];
    assert.equal(scores.length, 3);
    // The same text through the adapter model by hand (the fixture's golden path).
    const { PreTrainedTokenizer } = await import("../src/data/auto_tokenizer.ts");
    const tok = await PreTrainedTokenizer.fromVocab(words);
    const enc = tok.batch(["w17 w45 w88"]);
    const again = await PeftModel.from_pretrained(await bert(), adapterDir);
    const s = [enc.batch, enc.seqLen];
    const logits = noGrad(() =>
      tidy(() =>
        again.forward({
          input_ids: Tensor.from(device, enc.input_ids, s, { dtype: "i32" }),
          attention_mask: Tensor.from(device, enc.attention_mask, s, { dtype: "i32" }),
        }).logits.keep() as Tensor
      )
    );
    const l = Array.from(await logits.toArray());
    const z = l.map((v) => Math.exp(v - Math.max(...l)));
    const p = z.map((v) => v / z.reduce((a, b) => a + b));
    for (const { label, score } of scores) {
      assert.ok(Math.abs(score - p[Number(label.split("_")[1])]) < 1e-5, label);
    }
    logits.dispose();
    again.dispose();
  });
});

Deno.test("save_pretrained of an adapter on a from_pretrained model records the base's folder (PEFT's base_model_name_or_path)", async () => {
  const base = await bert();
  assert.equal(base.name_or_path, bertDir);
  const peft = get_peft_model(base, new LoraConfig({ r: 2, target_modules: ["query"] }));
  await withTempDir(async (dir) => {
    await peft.save_pretrained(dir);
    const saved = JSON.parse(await Deno.readTextFile(join(dir, "adapter_config.json")));
    assert.equal(saved.base_model_name_or_path, bertDir);
  });
  peft.dispose();
});
