import assert from "node:assert/strict";
import { join } from "node:path";
import { testDevice } from "./helpers/gpu.ts";
import { BertConfig } from "../src/models/bert/config.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { PreTrainedTokenizer } from "../src/data/auto_tokenizer.ts";
import type { Example } from "../src/data/types.ts";
import { Trainer } from "../src/train/trainer.ts";
import type { TrainingArgumentsInit } from "../src/train/training_args.ts";
import { createProgress } from "../src/train/report/progress.ts";
import { prepareData } from "../src/train/job.ts";

const WORDS = [
  "free",
  "money",
  "win",
  "cash",
  "prize",
  "meeting",
  "lunch",
  "report",
  "team",
  "now",
];

/** A tiny seeded task over a 15-token vocabulary. */
export function tinyTask(rows: number, seed = 0): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < rows; i++) {
    const spam = (i + seed) % 2 === 0;
    const base = spam ? 0 : 5;
    const w = (k: number) => WORDS[base + ((i * 3 + k * 7 + seed) % 5)];
    out.push({ text: `${w(0)} ${w(1)} ${w(2)}`, label: spam ? 1 : 0 });
  }
  return out;
}

export const TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...WORDS];

/** A 1-layer hidden-8 BERT over {@linkcode TINY_VOCAB}. */
export async function tinyModel(seed = 1, extra: Record<string, unknown> = {}) {
  const device = await testDevice();
  const config = new BertConfig({
    vocab_size: TINY_VOCAB.length,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 12,
    max_position_embeddings: 16,
    num_labels: 2,
    ...extra,
  });
  return new BertForSequenceClassification(device, config, { seed });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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
  await withDir(async (dir) => {
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
  await withDir(async (dir) => {
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
  await withDir(async (dir) => {
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
