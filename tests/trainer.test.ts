import assert from "node:assert/strict";
import { join } from "node:path";
import { testDevice } from "./helpers/gpu.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { PreTrainedTokenizer } from "../src/data/auto_tokenizer.ts";
import { NonFiniteLossError, Trainer } from "../src/train/trainer.ts";
import { listCheckpoints } from "../src/train/checkpoint_io.ts";
import { loadSafetensors, saveSafetensors } from "../src/io/safetensors.ts";
import { applyVeLoRA } from "../src/velora/apply.ts";
import { AutoTokenizer } from "../src/data/auto_tokenizer.ts";
import type { TrainingArgumentsInit } from "../src/train/training_args.ts";
import { createProgress } from "../src/train/report/progress.ts";
import { prepareData } from "../src/train/job.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { TINY_VOCAB, tinyModel, tinyTask } from "./helpers/tiny_task.ts";

function trainer(
  model: BertForSequenceClassification,
  tokenizer: PreTrainedTokenizer,
  args: Partial<TrainingArgumentsInit> & { output_dir: string },
  extra: Partial<ConstructorParameters<typeof Trainer>[0]> = {},
): Trainer {
  return new Trainer({
    model,
    tokenizer,
    train_dataset: tinyTask(24),
    eval_dataset: tinyTask(10, 1),
    log: () => {},
    args: {
      per_device_train_batch_size: 8,
      per_device_eval_batch_size: 5,
      learning_rate: 1e-2,
      logging_steps: 2,
      save_steps: 0,
      max_length: 8,
      disable_tqdm: true,
      ...args,
    },
    ...extra,
  });
}

Deno.test("every epoch end is evaluated, the last one too, and the reported eval is the saved model's", async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await PreTrainedTokenizer.fromVocab(TINY_VOCAB);
    const model = await tinyModel();
    let calls = 0;
    const t = trainer(model, tokenizer, {
      output_dir: dir,
      num_train_epochs: 2,
      eval_strategy: "epoch",
    }, { on_step_end: () => void calls++ });
    const out = await t.train();
    assert.equal(out.global_step, 6);
    // on_step_end runs after every step, the last one included.
    assert.equal(calls, 6);
    const evals = out.log_history.filter((e) => e.eval_loss !== undefined);
    assert.deepEqual(evals.map((e) => [e.step, e.epoch]), [[3, 1], [6, 2]]);
    const logs = out.log_history.filter((e) => e.loss !== undefined);
    assert.deepEqual(logs.map((e) => e.step), [2, 3, 4, 6]);
    assert.ok(logs.every((e) => e.learning_rate! >= 0));
    // The final eval is the last epoch's and equals an evaluation of the saved weights.
    assert.equal(out.eval!.eval_loss, evals[1].eval_loss);
    await model.save_pretrained(join(dir, "final"));
    const loaded = await BertForSequenceClassification.from_pretrained(join(dir, "final"), {
      device: await testDevice(),
    });
    const again = await trainer(loaded, tokenizer, { output_dir: dir }).evaluate();
    assert.ok(Math.abs(again.eval_loss - out.eval!.eval_loss) < 1e-6);
    assert.equal(again.eval_accuracy, out.eval!.eval_accuracy);
    t.dispose();
    model.dispose();
    loaded.dispose();
  });
});

Deno.test('eval_strategy "steps" evaluates every eval_steps, and the final model once more', async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await PreTrainedTokenizer.fromVocab(TINY_VOCAB);
    const model = await tinyModel();
    const lines: string[] = [];
    const t = trainer(model, tokenizer, {
      output_dir: dir,
      max_steps: 5,
      eval_strategy: "steps",
      eval_steps: 2,
    }, { log: (m) => lines.push(m), eval_dataset: tinyTask(12, 1) });
    const out = await t.train();
    const evals = out.log_history.filter((e) => e.eval_loss !== undefined).map((e) => e.step);
    assert.deepEqual(evals, [2, 4, 5]);
    // An eval progress line (12 rows in batches of 5 = 3 batches).
    assert.ok(lines.some((l) => /^eval 3\/3 batches \(12\/12 examples/.test(l)), lines.join("\n"));
    t.dispose();
    model.dispose();
  });
});

Deno.test("the default eval split is a share of the training examples used, not of the file", async () => {
  await withTempDir(async (dir) => {
    const rows = ["sentence\tlabel"];
    for (const e of tinyTask(400)) rows.push(`${e.text}\t${e.label}`);
    const path = join(dir, "t.tsv");
    await Deno.writeTextFile(path, rows.join("\n") + "\n");
    const all = await prepareData({ data: path, seed: 1 });
    assert.equal(all.train.length + all.eval.length, 400);
    const some = await prepareData({ data: path, seed: 1, maxTrainExamples: 40 });
    assert.equal(some.train.length, 40);
    assert.equal(some.eval.length, 10); // 20 % of the 50 examples in use
  });
});

Deno.test("a resumed run's ETA counts only the steps run since the resume", async () => {
  const out: string[] = [];
  const p = createProgress({ total: 100, initial: 90, write: (t) => out.push(t), every: 1 });
  await new Promise((r) => setTimeout(r, 300));
  p.update(91, { loss: 1 });
  p.stop();
  // 1 step in ~0.3 s leaves 9 steps ≈ 3 s (counting the 90 resumed steps it would say 0 s).
  const eta = /ETA (\d+)s/.exec(out[0]);
  assert.ok(eta && Number(eta[1]) >= 2, out[0]);
});

async function allFinite(path: string): Promise<string | null> {
  for (const file of ["model.safetensors", "optimizer.safetensors"]) {
    for (const [name, t] of await loadSafetensors(join(path, file))) {
      if (!t.data.every((v) => Number.isFinite(v))) return `${file}:${name}`;
    }
  }
  return null;
}

// lr 1e39 is Inf in f32: the first update makes every weight non-finite while the loss of that
// step (computed before the update) is finite, as with --lr 10 on the default model where
// llvmpipe's tanh(NaN) = ±1 kept the loss finite: a loss-only check saved NaN checkpoints.
Deno.test("divergence is caught on the GPU and only finite checkpoints are written", async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await PreTrainedTokenizer.fromVocab(TINY_VOCAB);
    const model = await tinyModel();
    const t = trainer(model, tokenizer, {
      output_dir: dir,
      learning_rate: 1e39,
      max_steps: 6,
      logging_steps: 1,
      save_steps: 1,
      save_total_limit: 100,
    });
    const error: unknown = await t.train().then(() => null, (e) => e);
    assert.ok(error instanceof NonFiniteLossError, String(error));
    const message = (error as Error).message;
    assert.match(message, /training diverged: .*became Inf or NaN between step \d+ and step \d+/);
    assert.match(message, /--max_grad_norm/);
    const ckpts = await listCheckpoints(dir);
    for (const c of ckpts) assert.equal(await allFinite(c.path), null, c.path);
    const named = /The last good checkpoint is (\S+)\./.exec(message)?.[1];
    if (ckpts.length) assert.equal(named, ckpts.at(-1)!.path);
    t.dispose();
    model.dispose();
  });
});

Deno.test("the loss of a logging interval is summed on the GPU and read once", async () => {
  await withTempDir(async (dir) => {
    const device = await testDevice();
    const tokenizer = await PreTrainedTokenizer.fromVocab(TINY_VOCAB);
    const model = await tinyModel();
    const t = trainer(model, tokenizer, { output_dir: dir, max_steps: 10, logging_steps: 5 }, {
      train_dataset: tinyTask(80), // one epoch of 10 steps: the epoch end is the last step
      eval_dataset: [],
    });
    const read = device.read;
    let reads = 0;
    device.read = (...a: Parameters<typeof read>) => {
      reads++;
      return read.apply(device, a);
    };
    try {
      const out = await t.train();
      assert.equal(reads, 2, `${reads} readbacks`); // one per logging interval (10 before)
      assert.equal(out.log_history.length, 2);
      assert.ok(Number.isFinite(out.training_loss) && out.training_loss > 0);
    } finally {
      device.read = read;
    }
    t.dispose();
    model.dispose();
  });
});

Deno.test("--resume checks the checkpoint: trainer state, extra state, Inf/NaN; stale temporaries go; the tokenizer is inside", async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await PreTrainedTokenizer.fromVocab(TINY_VOCAB);
    const build = async () => {
      const model = await tinyModel();
      applyVeLoRA(model, { target_modules: ["query", "value"], num_groups: 2 });
      return model;
    };
    const model = await build();
    const stale = join(dir, "checkpoint-7.tmp-0123abcd");
    await Deno.mkdir(stale, { recursive: true });
    await Deno.writeTextFile(join(stale, "model.safetensors"), "half");
    const first = trainer(model, tokenizer, { output_dir: dir, max_steps: 2, save_steps: 2 });
    await first.train();
    first.dispose();
    model.dispose();
    await assert.rejects(() => Deno.stat(stale), Deno.errors.NotFound);
    const ckpt = join(dir, "checkpoint-2");
    // The tokenizer is saved into the checkpoint, so the folder is a complete model folder.
    const again = await AutoTokenizer.from_pretrained(ckpt);
    assert.deepEqual(
      again.batch(["win cash"], null).input_ids,
      tokenizer.batch(["win cash"], null).input_ids,
    );

    const resume = async (edit: (copy: string) => Promise<void>, expected: RegExp) => {
      const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
      const copy = join(out, "checkpoint-2");
      await Deno.mkdir(copy, { recursive: true });
      for (const e of Deno.readDirSync(ckpt)) {
        await Deno.copyFile(join(ckpt, e.name), join(copy, e.name));
      }
      await edit(copy);
      const m = await build();
      const t = trainer(m, tokenizer, { output_dir: out, max_steps: 3, save_steps: 2 });
      const before = await m.classifier.weight.toArray();
      await assert.rejects(() => t.train({ resume_from_checkpoint: true }), expected);
      // Nothing was loaded from the bad checkpoint.
      assert.deepEqual(await m.classifier.weight.toArray(), before);
      t.dispose();
      m.dispose();
    };
    const editState = (f: (s: Record<string, unknown>) => unknown) => async (copy: string) => {
      const file = join(copy, "trainer_state.json");
      await Deno.writeTextFile(file, JSON.stringify(f(JSON.parse(await Deno.readTextFile(file)))));
    };
    await resume(
      editState((s) => ({ ...s, global_step: 1e9 })),
      /trainer_state\.json: "global_step" must be 2/,
    );
    await resume(
      editState(() => ({})),
      /trainer_state\.json: "global_step" must be an integer ≥ 0/,
    );
    await resume(editState((s) => ({ ...s, epoch: -1 })), /"epoch" must be an integer ≥ 0, got -1/);
    await resume(editState(() => [1]), /must be an object/);
    await resume(
      (copy) => Deno.remove(join(copy, "extra_state.safetensors")),
      /extra_state\.safetensors: missing/,
    );
    await resume(async (copy) => {
      const file = join(copy, "model.safetensors");
      const w = await loadSafetensors(file);
      w.get("classifier.weight")!.data[3] = NaN;
      await saveSafetensors(file, w);
    }, /model\.safetensors: tensor "classifier\.weight" holds NaN at index 3/);
    await resume(async (copy) => {
      const file = join(copy, "optimizer.safetensors");
      const w = await loadSafetensors(file);
      const first = [...w.keys()][0];
      w.get(first)!.data[0] = Infinity;
      await saveSafetensors(file, w);
    }, /optimizer\.safetensors: tensor ".*" holds Infinity at index 0/);
  });
});

Deno.test("absurd settings fail before training: max_length, tokenizer vocab, output_dir", async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await PreTrainedTokenizer.fromVocab(TINY_VOCAB);
    const model = await tinyModel(); // max_position_embeddings 16
    assert.throws(
      () => trainer(model, tokenizer, { output_dir: dir, max_length: 32 }),
      /max_length \(--max-length\) 32 exceeds the model's max_position_embeddings 16: use at most 16/,
    );
    const big = await PreTrainedTokenizer.fromVocab([...TINY_VOCAB, "extra", "words"]);
    assert.throws(
      () => trainer(model, big, { output_dir: dir }),
      /the tokenizer has 17 tokens but the model's vocab_size is 15/,
    );
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "");
    const t = trainer(model, tokenizer, { output_dir: file, max_steps: 1, save_steps: 1 });
    await assert.rejects(() => t.train(), /output_dir .*a-file: is a file, not a folder/);
    t.dispose();
    const under = trainer(model, tokenizer, { output_dir: join(file, "out"), save_steps: 1 });
    await assert.rejects(() => under.train(), /output_dir .*a-file\/out: not writable/);
    under.dispose();
    if (Deno.uid() !== 0) { // root writes anywhere
      const locked = join(dir, "locked");
      await Deno.mkdir(locked, { mode: 0o500 });
      const u = trainer(model, tokenizer, { output_dir: join(locked, "out"), save_steps: 1 });
      await assert.rejects(() => u.train(), /not writable/);
      u.dispose();
    }
    model.dispose();
  });
});

Deno.test("float labels train a regression (num_labels 1, MSE) with MSE and Pearson metrics", async () => {
  await withTempDir(async (dir) => {
    const tokenizer = await PreTrainedTokenizer.fromVocab(TINY_VOCAB);
    const model = await tinyModel(1, { num_labels: 1 });
    const data = tinyTask(16).map((e, i) => ({ ...e, label: e.label * 4 + (i % 3) * 0.25 }));
    const t = trainer(model, tokenizer, { output_dir: dir, max_steps: 2 }, {
      train_dataset: data,
      eval_dataset: data.slice(0, 6),
      regression: true,
    });
    const out = await t.train();
    const ev = out.eval!;
    for (const k of ["eval_loss", "eval_mse", "eval_pearson", "eval_accuracy"] as const) {
      assert.ok(Number.isFinite(ev[k]), `${k} = ${ev[k]}`);
    }
    assert.ok(Math.abs(ev.eval_mse - ev.eval_loss) < 1e-4 * Math.max(1, ev.eval_loss));
    t.dispose();
    model.dispose();
  });
});
