// The public contract of ../shared/API.md, called the way an outside check calls it: through
// mod.ts only, every listed name and call shape once, on tiny models (fixtures or built in memory
// and saved to a temp dir). Parity and numerics live in the per-area tests; this file only proves
// that the names exist, take the documented arguments and return the documented shapes.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import {
  applyVeLoRA,
  AutoConfig,
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForSequenceClassification,
  AutoTokenizer,
  BertForMaskedLM,
  BertForSequenceClassification,
  checkpoint,
  clipGradNormCoef,
  CONFIG_MAPPING,
  Device,
  free,
  get_peft_model,
  LlamaConfig,
  LlamaForCausalLM,
  LlamaModel,
  LoraConfig,
  MemoryStats,
  MODEL_FOR_CAUSAL_LM_MAPPING,
  MODEL_FOR_MASKED_LM_MAPPING,
  MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
  MODEL_MAPPING,
  Module,
  nn,
  noGrad,
  ops,
  PeftModel,
  pipeline,
  removeVeLoRA,
  RobertaForSequenceClassification,
  RobertaModel,
  SUPPORTED_TASKS,
  Tensor,
  tidy,
  Trainer,
  TrainingArguments,
  VeLoRALinear,
} from "../mod.ts";
import { testDevice } from "./helpers/gpu.ts";
import { trainByteLevelBPE } from "../src/data/bpe_train.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));
const SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const VOCAB = [...SPECIAL, ...Array.from({ length: 99 - 5 }, (_, i) => `w${i + 5}`)];

Deno.test("API.md runtime, tensors, autograd and modules", async () => {
  assert.equal(typeof Device.create, "function");
  const device = await testDevice();
  assert.ok(device instanceof Device);
  const info = device.adapterInfo;
  for (const k of ["vendor", "architecture", "description", "isFallbackAdapter"]) {
    assert.ok(k in info, `adapterInfo.${k}`);
  }
  const mem = device.memory;
  assert.ok(mem instanceof MemoryStats);
  assert.equal(typeof mem.liveBytes, "number");
  assert.equal(typeof mem.peakBytes, "number");
  for (const c of ["parameter", "gradient", "optimizer", "activation", "workspace"]) {
    assert.equal(typeof (mem.byCategory as Record<string, number>)[c], "number", c);
  }
  mem.resetPeak();
  await device.sync();

  const x = Tensor.from(device, [1, 2, 3, 4, 5, 6], [2, 3], { dtype: "f32", requiresGrad: true });
  assert.deepEqual(x.shape, [2, 3]);
  assert.equal(x.dtype, "f32");
  assert.equal(x.requiresGrad, true);
  assert.equal(x.grad, null);
  const ids = Tensor.from(device, [0, 1, 2], [3], { dtype: "i32" });
  assert.ok((await ids.toArray()) instanceof Int32Array);
  ids.dispose();

  const lin = new nn.Linear(device, 3, 2, { bias: true });
  assert.ok(lin instanceof Module);
  assert.deepEqual(lin.weight.shape, [2, 3]);
  assert.deepEqual(lin.bias!.shape, [2]);
  assert.deepEqual([...lin.named_parameters()].map(([n]) => n), ["weight", "bias"]);
  assert.deepEqual([...lin.named_modules()].map(([n]) => n), [""]);
  assert.equal(lin.eval(), lin);
  assert.equal(lin.training, false);
  assert.equal(lin.train(), lin);
  assert.equal(lin.training, true);
  lin.load_state_dict({ weight: new Float32Array([1, 0, 0, 0, 1, 0]), bias: new Float32Array(2) });
  const sd = lin.state_dict();
  assert.ok(sd instanceof Map);
  assert.deepEqual([...sd.keys()], ["weight", "bias"]);
  assert.throws(() => lin.load_state_dict({ nope: new Float32Array(1) }));
  lin.load_state_dict({ bias: new Float32Array([0.5, -0.5]) }, { strict: false });

  const y = lin.forward(x); // [2, 3] → [2, 2]
  assert.deepEqual(y.shape, [2, 2]);
  assert.ok((await y.toArray()) instanceof Float32Array);
  const sum = tidy(() => ops.sum(y).keep()); // a scalar: backward() seeds 1
  sum.backward();
  assert.deepEqual(x.grad!.shape, [2, 3]);
  assert.deepEqual(Array.from(await x.grad!.toArray()), [1, 1, 0, 1, 1, 0]);
  noGrad(() => assert.equal(lin.forward(x).requiresGrad, false));
  assert.equal(typeof checkpoint, "function");
  assert.equal(typeof clipGradNormCoef, "function");
  free(sum, y, x);
  lin.dispose();
});

Deno.test("API.md Hugging Face models, VeLoRA and LoRA on a saved BERT", async () => {
  const device = await testDevice();
  await withTempDir(async (dir) => {
    // A folder written by save_pretrained (config.json + model.safetensors) loads again.
    const fromFixture = await BertForSequenceClassification.from_pretrained(fixture("bert_tiny"), {
      device,
    });
    await fromFixture.save_pretrained(dir);
    fromFixture.dispose();
    await Deno.writeTextFile(join(dir, "vocab.txt"), VOCAB.join("\n") + "\n");
    for (const f of ["config.json", "model.safetensors"]) {
      assert.ok((await Deno.stat(join(dir, f))).isFile, f);
    }
    const model = await BertForSequenceClassification.from_pretrained(dir, {
      device,
      num_labels: 3,
      local_files_only: true,
    });
    const names = () => [...model.state_dict().keys()];
    const before = names();
    const s = [2, 4];
    const input_ids = Tensor.from(device, [2, 7, 8, 3, 2, 9, 3, 0], s, { dtype: "i32" });
    const attention_mask = Tensor.from(device, [1, 1, 1, 1, 1, 1, 1, 0], s, { dtype: "i32" });
    const token_type_ids = Tensor.from(device, new Int32Array(8), s, { dtype: "i32" });
    const labels = Tensor.from(device, [0, 1], [2], { dtype: "i32" });
    const out = tidy(() => {
      const o = model.forward({ input_ids, attention_mask, token_type_ids, labels });
      return { logits: o.logits.keep(), loss: o.loss!.keep() };
    });
    assert.deepEqual(out.logits.shape, [2, 3]);
    assert.deepEqual(out.loss.shape, []);
    free(out.logits, out.loss);

    // VeLoRA: report fields, v before/after init, names unchanged, removeVeLoRA.
    const report = applyVeLoRA(model, {
      target_modules: ["value", "output.dense"],
      num_groups: 4,
      init_type: "batch_average_once",
      scale: 1.0,
    });
    assert.ok(report.layers.length > 0);
    for (const l of report.layers) {
      for (const k of ["name", "in_features", "num_groups", "sub_token_size"]) assert.ok(k in l, k);
    }
    assert.ok(Array.isArray(report.inputsHeldElsewhere()));
    assert.deepEqual(names(), before);
    model.train();
    const loss = tidy(() =>
      model.forward({ input_ids, attention_mask, token_type_ids, labels }).loss!.keep()
    );
    loss.backward();
    loss.dispose();
    const first = report.layers[0];
    let layer: unknown = model;
    for (const part of first.name.split(".")) layer = (layer as Record<string, unknown>)[part];
    assert.ok(layer instanceof VeLoRALinear);
    assert.deepEqual(layer.v!.shape, [first.sub_token_size]);
    assert.equal(removeVeLoRA(model), report.layers.length);
    assert.deepEqual(names(), before);
    model.zero_grad?.();

    const solo = new VeLoRALinear(new nn.Linear(device, 8, 4), {
      num_groups: 2,
      init_type: "batch_average_once",
      scale: 1,
    });
    assert.equal(solo.v, null);
    solo.dispose();
    assert.equal(typeof model.gradient_checkpointing_enable, "function");

    // LoRA with PEFT names and file format.
    const peft = get_peft_model(
      model,
      new LoraConfig({
        r: 2,
        lora_alpha: 4,
        lora_dropout: 0.0,
        target_modules: ["query", "value"],
        bias: "none",
        modules_to_save: ["classifier"],
      }),
    );
    const line = peft.print_trainable_parameters(() => {});
    assert.match(
      line,
      /^trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: [\d.]+$/,
    );
    const named = new Map(peft.named_parameters());
    const a = "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.default.weight";
    assert.ok(named.has(a), a);
    assert.equal(named.get(a)!.shape[0], 2);
    assert.ok(named.has("base_model.model.classifier.modules_to_save.default.weight"));
    assert.equal(
      named.get("base_model.model.bert.embeddings.word_embeddings.weight")!.requiresGrad,
      false,
    );
    const adapterDir = join(dir, "adapter");
    await peft.save_pretrained(adapterDir);
    for (const f of ["adapter_config.json", "adapter_model.safetensors"]) {
      assert.ok((await Deno.stat(join(adapterDir, f))).isFile, f);
    }
    peft.load_state_dict({ [a]: new Float32Array(named.get(a)!.numel) }, { strict: false });
    const merged = peft.merge_and_unload(); // the base model itself, LoRA folded in
    assert.ok(merged instanceof Module);
    merged.dispose();
    free(input_ids, attention_mask, token_type_ids, labels);

    const base = await BertForSequenceClassification.from_pretrained(dir, { device });
    const again = await PeftModel.from_pretrained(base, adapterDir, { is_trainable: true });
    assert.equal(new Map(again.named_parameters()).get(a)!.requiresGrad, true);
    again.dispose();

    // Auto classes dispatch on model_type.
    const cfg = await AutoConfig.from_pretrained(dir);
    assert.equal((cfg as { model_type: string }).model_type, "bert");
    const enc = await AutoModelForSequenceClassification.from_pretrained(dir, {
      device,
      num_labels: 3,
    });
    assert.ok(enc instanceof BertForSequenceClassification);
    enc.dispose();
    const bare = await AutoModel.from_pretrained(dir, { device });
    bare.dispose();
    const rob = await AutoModelForSequenceClassification.from_pretrained(fixture("roberta_tiny"), {
      device,
    });
    assert.ok(rob instanceof RobertaForSequenceClassification);
    rob.dispose();
    assert.equal(typeof RobertaModel.from_pretrained, "function");
    const mlm = await AutoModelForMaskedLM.from_pretrained(fixture("bert_tiny_mlm"), { device });
    assert.ok(mlm instanceof BertForMaskedLM);
    mlm.dispose();

    // No module-level mutable state: the dispatch tables are frozen constants.
    for (
      const table of [
        CONFIG_MAPPING,
        MODEL_MAPPING,
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
        MODEL_FOR_MASKED_LM_MAPPING,
        MODEL_FOR_CAUSAL_LM_MAPPING,
        SUPPORTED_TASKS,
      ]
    ) assert.ok(Object.isFrozen(table));

    // Pipelines: text-classification with transformers.js outputs and defaults.
    const classify = await pipeline("text-classification", dir, { device });
    const res = await classify("w7 w8 w9") as { label: string; score: number }[];
    assert.equal(res.length, 1);
    assert.equal(typeof res[0].label, "string");
    assert.ok(res[0].score > 0 && res[0].score <= 1);
    classify.dispose();
    const tok = await AutoTokenizer.from_pretrained(dir);
    assert.ok(tok.encode("w7 w8").length >= 2);

    // Trainer / TrainingArguments names (training itself is covered by trainer.test.ts).
    const args = new TrainingArguments({
      output_dir: join(dir, "run"),
      num_train_epochs: 1,
      per_device_train_batch_size: 2,
      learning_rate: 1e-4,
      weight_decay: 0,
      warmup_ratio: 0,
      max_grad_norm: 1,
      gradient_accumulation_steps: 1,
      logging_steps: 1,
      eval_strategy: "epoch",
      eval_steps: 1,
      save_steps: 100,
      save_total_limit: 1,
      seed: 1,
      max_length: 16, // the default 128 exceeds the fixture's 64 positions
    });
    const examples = [{ text: "w7 w8", label: 0 }, { text: "w9 w10 w11", label: 1 }];
    const trained = await BertForSequenceClassification.from_pretrained(dir, { device });
    const trainer = new Trainer({
      model: trained,
      args,
      train_dataset: examples,
      eval_dataset: examples,
      tokenizer: tok,
      compute_metrics: undefined,
      log: () => {},
    });
    assert.equal(typeof trainer.train, "function");
    const metrics = await trainer.evaluate();
    assert.equal(typeof metrics.eval_loss, "number");
    assert.equal(typeof metrics.eval_accuracy, "number");
    trained.dispose();
  });
});

Deno.test("API.md causal LMs: AutoModelForCausalLM, generate → number[][], text-generation", async () => {
  const device = await testDevice();
  await withTempDir(async (dir) => {
    const config = new LlamaConfig({
      vocab_size: 280,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      eos_token_id: 0,
      bos_token_id: 0,
    });
    const built = new LlamaForCausalLM(device, config, { seed: 3 });
    assert.ok(new Map(built.named_parameters()).has("model.layers.0.self_attn.q_proj.weight"));
    await built.save_pretrained(dir);
    built.dispose();
    const cfg = await AutoConfig.from_pretrained(dir);
    assert.ok(cfg instanceof LlamaConfig);
    const lm = await AutoModelForCausalLM.from_pretrained(dir, { device });
    assert.ok(lm instanceof LlamaForCausalLM);
    assert.ok(lm.model instanceof LlamaModel);
    const ids = Tensor.from(device, [1, 2, 3, 4, 5, 6], [2, 3], { dtype: "i32" });
    const out = tidy(() => {
      const o = lm.forward({ input_ids: ids, labels: ids });
      return { logits: o.logits.keep(), loss: o.loss!.keep() };
    });
    assert.deepEqual(out.logits.shape, [2, 3, 280]);
    assert.deepEqual(out.loss.shape, []);
    free(out.logits, out.loss);
    const gen = await lm.generate([[1, 2, 3], [4, 5, 6]], {
      max_new_tokens: 2,
      do_sample: false,
      eos_token_id: null,
    });
    assert.ok(Array.isArray(gen) && gen.every((r) => Array.isArray(r)));
    assert.deepEqual(gen.map((r) => r.slice(0, 3)), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(gen.map((r) => r.length), [5, 5]);
    const fromTensor = await lm.generate(ids, { max_new_tokens: 2, eos_token_id: null });
    assert.deepEqual(fromTensor, gen);
    ids.dispose();
    lm.dispose();

    const tokenizer = trainByteLevelBPE(["the cat sat on the mat"], {
      vocab_size: 270,
      special_tokens: ["<|endoftext|>"],
    });
    await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
    const generator = await pipeline("text-generation", dir, { device });
    const text = await generator("the cat", { max_new_tokens: 3, eos_token_id: null });
    assert.equal(text.length, 1);
    assert.ok((text[0] as { generated_text: string }).generated_text.startsWith("the cat"));
    generator.dispose();
  });
});
