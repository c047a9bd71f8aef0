import assert from "node:assert/strict";
import { join } from "node:path";
import { testDevice } from "./helpers/gpu.ts";
import { TRAINING_ARGS_DEFAULTS, TrainingArguments } from "../src/train/training_args.ts";
import { CliError, parseFinetuneArgs } from "../src/train/finetune_cli.ts";
import { FINETUNE_DEFAULTS, prepareData } from "../src/train/job.ts";
import { writeAtomic } from "../src/util/write_atomic.ts";
import { trainStep } from "../src/train/step.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import * as velora from "../mod.ts";
import { tinyModel } from "./helpers/tiny_task.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

Deno.test("writeAtomic replaces a file whole and leaves nothing behind on failure", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.json");
    await writeAtomic(path, "old");
    await writeAtomic(path, new TextEncoder().encode("new"));
    assert.equal(await Deno.readTextFile(path), "new");
    await assert.rejects(
      () =>
        writeAtomic(path, async (tmp) => {
          await Deno.writeTextFile(tmp, "half");
          throw new Error("disk full");
        }, { what: "saving" }),
      /a\.json: saving failed: disk full/,
    );
    assert.equal(await Deno.readTextFile(path), "new");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.json"]);
  });
});

Deno.test("TrainingArguments: HF names and defaults, values checked", () => {
  const a = new TrainingArguments({ output_dir: "out" });
  assert.equal(a.learning_rate, 5e-5);
  assert.equal(a.num_train_epochs, 3);
  assert.equal(a.per_device_train_batch_size, 8);
  assert.equal(a.eval_strategy, "no");
  assert.equal(a.evalInterval, a.logging_steps);
  for (const [k, v] of Object.entries(TRAINING_ARGS_DEFAULTS)) {
    assert.deepEqual((a as unknown as Record<string, unknown>)[k], v, k);
  }
  assert.throws(
    () => new TrainingArguments({ output_dir: "o", warmup_ratio: 1.5 }),
    /warmup_ratio/,
  );
  assert.throws(
    () => new TrainingArguments({ output_dir: "o", warmup_ratio: -0.1 }),
    /warmup_ratio/,
  );
  assert.throws(
    // @ts-expect-error: a bad strategy from untyped input
    () => new TrainingArguments({ output_dir: "o", eval_strategy: "sometimes" }),
    /eval_strategy/,
  );
  assert.throws(() => new TrainingArguments({ output_dir: "o", eval_steps: 0 }), /eval_steps/);
  assert.throws(() => new TrainingArguments({ output_dir: "o", max_grad_norm: NaN }), /max_grad/);
  // Exported from mod.ts.
  assert.equal(velora.TrainingArguments, TrainingArguments);
  assert.equal(typeof velora.Trainer, "function");
  assert.equal(typeof velora.trainStep, "function");
});

Deno.test("the job's CLI accepts HF run_glue.py spellings beside its own flags", () => {
  const hf = parseFinetuneArgs([
    "--learning_rate=2e-5",
    "--num_train_epochs",
    "3",
    "--per_device_train_batch_size",
    "4",
    "--model_name_or_path",
    "some/model",
    "--max_grad_norm",
    "0.5",
    "--output_dir",
    "out/x",
    "--seed",
    "3",
    "--warmup_ratio",
    "0.06",
    "--gradient_accumulation_steps",
    "2",
    "--max_seq_length",
    "64",
    "--eval_strategy",
    "steps",
    "--eval_steps",
    "5",
  ]);
  const own = parseFinetuneArgs([
    "--lr",
    "2e-5",
    "--epochs",
    "3",
    "--batch-size",
    "4",
    "--model",
    "some/model",
    "--max-grad-norm",
    "0.5",
    "--output-dir",
    "out/x",
    "--seed",
    "3",
    "--warmup-ratio",
    "0.06",
    "--grad-accum",
    "2",
    "--max-length",
    "64",
    "--eval-strategy",
    "steps",
    "--eval-steps",
    "5",
  ]);
  assert.deepEqual(hf, own);
  assert.equal(hf.options.lr, 2e-5);
  assert.equal(hf.options.maxGradNorm, 0.5);
  assert.equal(hf.outputDir, "out/x");
  // Defaults come from one place.
  const d = parseFinetuneArgs([]);
  assert.equal(d.options.lr, FINETUNE_DEFAULTS.lr);
  assert.equal(d.options.batchSize, FINETUNE_DEFAULTS.batchSize);
  assert.equal(d.outputDir, FINETUNE_DEFAULTS.outputDir);
  assert.equal(parseFinetuneArgs(["--model", "m"]).options.lr, FINETUNE_DEFAULTS.lrPretrained);
  assert.throws(() => parseFinetuneArgs(["--lr", "1", "--learning_rate", "2"]), CliError);
  assert.throws(() => parseFinetuneArgs(["--warmup-ratio", "1.5"]), /--warmup-ratio.*\[0, 1\]/);
  assert.throws(() => parseFinetuneArgs(["--max_grad_norm=-1"]), /--max-grad-norm/);
  assert.throws(() => parseFinetuneArgs(["--bogus"]), CliError);
  // LoRA modes and flags; --mode all runs all six modes (lean included).
  assert.deepEqual(parseFinetuneArgs(["--mode", "all"]).modes, [
    "full",
    "velora",
    "checkpointing",
    "lora",
    "lora-velora",
    "lean",
  ]);
  assert.deepEqual(parseFinetuneArgs(["--mode", "lean"]).modes, ["lean"]);
  const lora = parseFinetuneArgs([
    "--mode",
    "lora-velora",
    "--lora-r",
    "4",
    "--lora_alpha",
    "8",
    "--lora-dropout",
    "0.1",
    "--lora-target-modules",
    "query,value,intermediate.dense",
  ]);
  assert.deepEqual(lora.modes, ["lora-velora"]);
  assert.equal(lora.options.loraR, 4);
  assert.equal(lora.options.loraAlpha, 8);
  assert.equal(lora.options.loraDropout, 0.1);
  assert.equal(lora.options.loraTargetModules, "query,value,intermediate.dense");
  assert.throws(() => parseFinetuneArgs(["--lora-r", "0"]), /--lora-r expects an integer ≥ 1/);
  assert.throws(() => parseFinetuneArgs(["--lora-target-modules", " , "]), /is empty/);
  assert.throws(() => parseFinetuneArgs(["--mode", "qlora"]), /--mode must be full, velora/);
  assert.throws(
    () => parseFinetuneArgs(["--eval-fraction", "0.99"]),
    /--eval-fraction expects a number in \(0, 0\.9\], got "0\.99"/,
  );
});

Deno.test("prepareData names the option whose file is missing", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "nope.tsv");
    await assert.rejects(prepareData({ data: missing }), (e: Error) => {
      assert.equal(e.message, `--data ${missing}: no such file`);
      return true;
    });
  });
});

Deno.test("trainStep accumulates micro-batches, clips, steps and clears the gradients", async () => {
  const device = await testDevice();
  const model = await tinyModel(1, {
    vocab_size: 50,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
  });
  model.train();
  const params = [...model.parameters()];
  const optimizer = new AdamW(params, { lr: 1e-2 });
  const batch = (seed: number) => {
    const ids = Int32Array.from({ length: 6 }, (_, i) => 5 + ((i * 7 + seed) % 40));
    let disposed = false;
    const b = {
      input_ids: Tensor.from(device, ids, [2, 3], { dtype: "i32" }),
      labels: Tensor.from(device, Int32Array.from([0, 1]), [2], { dtype: "i32" }),
      dispose() {
        b.input_ids.dispose();
        b.labels.dispose();
        disposed = true;
      },
      get disposed() {
        return disposed;
      },
    };
    return b;
  };
  const before = await params[0].toArray();
  const b1 = batch(1);
  const b2 = batch(2);
  const r = await trainStep({ model, optimizer, params, max_grad_norm: 0, accumulation: 2 }, [
    b1,
    b2,
  ]);
  assert.equal(r.losses.length, 2);
  assert.ok(b1.disposed && b2.disposed);
  assert.ok(params.every((p) => p.grad === null));
  const [l1, l2, norm] = await Promise.all([...r.losses.map((l) => l.item()), r.gradNorm.item()]);
  assert.ok(l1 > 0 && l2 > 0 && l1 < 1 && norm > 0, `${l1} ${l2} ${norm}`); // ln 2 / 2 ≈ 0.35
  assert.notDeepEqual(await params[0].toArray(), before);
  r.losses.forEach((l) => l.dispose());
  r.gradNorm.dispose();
  optimizer.dispose();
  model.dispose();
});
