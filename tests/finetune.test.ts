import assert from "node:assert/strict";
import { join } from "node:path";
import { testDevice } from "./helpers/gpu.ts";
import { BertConfig } from "../src/models/bert/config.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { PreTrainedTokenizer } from "../src/data/auto_tokenizer.ts";
import { type FinetuneOptions, prepareData, runFinetune } from "../src/train/job.ts";
import { NonFiniteLossError } from "../src/train/trainer.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { listCheckpoints } from "../src/train/checkpoint_io.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const WORDS = [
  "free",
  "money",
  "win",
  "now",
  "meeting",
  "lunch",
  "report",
  "cash",
  "prize",
  "team",
];

/** A tiny TSV task: "spammy" words → 1, office words → 0. */
async function writeTask(dir: string, rows = 48): Promise<string> {
  const lines = ["sentence\tlabel"];
  for (let i = 0; i < rows; i++) {
    const spam = i % 2 === 0;
    const pick = (k: number) => WORDS[(spam ? [0, 1, 2, 7, 8] : [4, 5, 6, 9, 3])[(i * 7 + k) % 5]];
    lines.push(`${pick(0)} ${pick(1)} ${pick(2)}\t${spam ? 1 : 0}`);
  }
  const path = join(dir, "task.tsv");
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

/** A tiny random BERT in HF layout with the default WordPiece tokenizer, in `dir`. */
async function writeTinyModel(dir: string): Promise<string> {
  const device = await testDevice();
  const config = new BertConfig({
    vocab_size: 30522,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 24,
    max_position_embeddings: 32,
    num_labels: 2,
  });
  const model = new BertForSequenceClassification(device, config, { seed: 3 });
  const out = join(dir, "tiny");
  await model.save_pretrained(out);
  await (await PreTrainedTokenizer.default()).save_pretrained(out);
  model.dispose();
  return out;
}

function options(
  model: string,
  data: string,
  extra: Partial<FinetuneOptions> = {},
): FinetuneOptions {
  return {
    model,
    data,
    evalFraction: 0.25,
    epochs: 2,
    maxSteps: 6,
    batchSize: 8,
    maxLength: 16,
    lr: 1e-3,
    warmupRatio: 0.2,
    weightDecay: 0.01,
    gradientAccumulationSteps: 1,
    seed: 7,
    saveSteps: 2,
    loggingSteps: 1,
    progress: false,
    numGroups: 4,
    ...extra,
  };
}

const quiet = () => {};

for (const mode of ["full", "velora", "lora-velora", "lean"] as const) {
  Deno.test(`--resume after an interruption gives the same model as an uninterrupted run (${mode})`, async () => {
    const device = await testDevice();
    await withTempDir(async (tmp) => {
      const model = await writeTinyModel(tmp);
      const o = options(model, await writeTask(tmp));
      const data = await prepareData(o);
      const a = await runFinetune(device, mode, o, data, join(tmp, "a"), { log: quiet });
      // Interrupted at step 4 (a checkpoint exists at 4), then resumed to step 6.
      await runFinetune(device, mode, o, data, join(tmp, "b"), {
        log: quiet,
        onStepEnd: (s) => s.global_step === 4,
      });
      assert.deepEqual((await listCheckpoints(join(tmp, "b"))).map((c) => c.step), [2, 4]);
      const b = await runFinetune(device, mode, o, data, join(tmp, "b"), {
        resume: true,
        log: quiet,
      });
      assert.equal(b.metrics.steps, 6);
      // The LoRA modes save an adapter folder (PEFT names), the others the whole model.
      const file = mode === "lora-velora" ? "adapter_model.safetensors" : "model.safetensors";
      const wa = await loadSafetensors(join(tmp, "a", file));
      const wb = await loadSafetensors(join(tmp, "b", file));
      assert.ok(wa.size > 0);
      if (mode === "lora-velora") {
        assert.ok([...wa.keys()].every((k) => k.startsWith("base_model.model.")));
        assert.ok(wa.has("base_model.model.classifier.weight"), "the head is saved too");
        const cfg = JSON.parse(await Deno.readTextFile(join(tmp, "b", "adapter_config.json")));
        assert.equal(cfg.base_model_name_or_path, model);
        assert.deepEqual(cfg.velora_config.num_groups, 4);
      }
      for (const [name, t] of wa) assert.deepEqual(wb.get(name)!.data, t.data, `${name} identical`);
      assert.deepEqual(b.metrics.log_history, a.metrics.log_history);
      const metrics = JSON.parse(await Deno.readTextFile(join(tmp, "b", "metrics.json")));
      for (
        const k of [
          "mode",
          "model",
          "dataset",
          "steps",
          "train_loss",
          "eval_accuracy",
          "eval_examples",
          "peak_bytes",
          "activation_bytes",
          "tokens_per_second",
          "seconds",
        ]
      ) assert.ok(k in metrics, `metrics.json has ${k}`);
      assert.equal(metrics.mode, mode);
    });
  });
}

Deno.test("a NaN loss stops training with a clear message and leaves the checkpoints intact", async () => {
  const device = await testDevice();
  await withTempDir(async (tmp) => {
    const model = await writeTinyModel(tmp);
    const o = options(model, await writeTask(tmp), { lr: 1e30, saveSteps: 1, maxSteps: 8 });
    const data = await prepareData(o);
    await assert.rejects(
      () => runFinetune(device, "full", o, data, join(tmp, "out"), { log: quiet }),
      (e: Error) =>
        e instanceof NonFiniteLossError &&
        /training diverged: .* became Inf or NaN/.test(e.message),
    );
    for (const c of await listCheckpoints(join(tmp, "out"))) {
      const w = await loadSafetensors(join(c.path, "model.safetensors"));
      assert.ok(w.size > 0);
    }
    for await (const e of Deno.readDir(join(tmp, "out"))) {
      assert.ok(!e.name.includes(".tmp-"), e.name);
    }
  });
});

Deno.test("examples/classify.ts prints the label and probabilities of a saved model", async () => {
  await withTempDir(async (tmp) => {
    const model = await writeTinyModel(tmp);
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../examples/classify.ts", import.meta.url).pathname,
        "--model",
        model,
        "--json",
        "win free cash now",
        "team lunch",
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await cmd.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const out = JSON.parse(new TextDecoder().decode(stdout));
    assert.equal(out.length, 2);
    for (const r of out) {
      assert.ok(["LABEL_0", "LABEL_1"].includes(r.label));
      const total = Object.values(r.probabilities as Record<string, number>).reduce(
        (a, b) => a + b,
        0,
      );
      assert.ok(Math.abs(total - 1) < 1e-5);
    }
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../examples/classify.ts", import.meta.url).pathname, "text"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /--model is required/);
  });
});

Deno.test("the main job runs offline with read/write limited to its paths (no net, env, run, ffi)", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir());
  try {
    const model = await writeTinyModel(tmp);
    const data = await writeTask(tmp);
    const out = join(tmp, "out");
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${tmp}`,
        `--allow-write=${out}`,
        new URL("../examples/finetune_bert.ts", import.meta.url).pathname,
        "--model_name_or_path",
        model,
        "--train_file",
        data,
        "--output_dir",
        out,
        "--mode",
        "full",
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "8",
        "--max_seq_length",
        "16",
        "--save_steps",
        "1",
        "--disable_tqdm",
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assert.equal(code, 0, text);
    const metrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.equal(metrics.steps, 2);
    assert.ok((await listCheckpoints(out)).length > 0);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
