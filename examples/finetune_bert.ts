/**
 * The main job: fine-tune a BERT for sequence classification on real text, in full, VeLoRA,
 * gradient-checkpointing, LoRA or LoRA + VeLoRA mode (or all five side by side), like HF
 * `run_glue.py`; the LoRA modes write a PEFT adapter folder.
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
import { Device } from "../src/runtime/device.ts";
import { DEFAULT_MODEL_NAME, prepareData, runFinetune, type RunMetrics } from "../src/train/job.ts";
import {
  CliError,
  FINETUNE_HELP,
  type FinetuneCommand,
  loraBanner,
  parseFinetuneArgs,
  veloraBanner,
} from "../src/train/finetune_cli.ts";
import { NonFiniteLossError } from "../src/train/trainer.ts";
import { writeLossSvg } from "../src/train/report/plot.ts";
import { formatBytes, formatComparisonTable } from "../src/train/report/table.ts";
import { ensureWritableDir, writeJsonAtomic } from "../src/util/write_atomic.ts";

function fail(message: string): never {
  console.error(`error: ${message}\n(see --help)`);
  Deno.exit(2);
}

let command: FinetuneCommand;
try {
  command = parseFinetuneArgs(Deno.args);
} catch (e) {
  if (e instanceof CliError) fail(e.message);
  throw e;
}
if (command.help) {
  console.log(FINETUNE_HELP);
  Deno.exit(0);
}
const { options, modes, outputDir } = command;

const device = await Device.create().catch((e) => fail((e as Error).message));
console.log(`WebGPU adapter: ${device.describe()}`);
if (!options.model) {
  console.log(
    `Model: ${DEFAULT_MODEL_NAME}. Its weights are RANDOM (no pretrained BERT is fetched); ` +
      "pass --model <hub id or folder> to fine-tune a pretrained one.",
  );
}
// Fail now, not after training, when the outputs cannot be written.
await ensureWritableDir(outputDir, "--output-dir").catch((e) => fail((e as Error).message));
const data = await prepareData(options).catch((e) => fail((e as Error).message));
for (const w of data.warnings) console.warn(`warning: ${w}`);
if (data.regression) console.log("Labels are real numbers: regression (num_labels 1, MSE loss).");
console.log(
  `Data: ${data.name}: ${data.train.length} train / ${data.eval.length} eval examples, labels ` +
    `${JSON.stringify(data.id2label)}${data.skipped ? `, ${data.skipped} bad rows skipped` : ""}`,
);
if (modes.includes("velora")) console.log(veloraBanner(options));
if (modes.some((m) => m.startsWith("lora"))) console.log(loraBanner(options));

const results: RunMetrics[] = [];
for (const mode of modes) {
  const dir = modes.length > 1 ? join(outputDir, mode) : outputDir;
  console.log(`\n== ${mode} ==`);
  try {
    const { metrics } = await runFinetune(device, mode, options, data, dir, {
      resume: command.resume,
    });
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
  const velora = results.find((r) => r.mode === "velora") ?? results[0];
  await writeJsonAtomic(join(outputDir, "metrics.json"), { ...velora, mode: "all", runs: results });
}
await writeLossSvg(
  join(outputDir, "loss.svg"),
  results.map((r) => ({
    name: r.mode,
    points: r.log_history.flatMap((e) =>
      e.loss === undefined ? [] : [{ step: e.step, loss: e.loss }]
    ),
  })),
  { title: `Training loss: ${results[0].dataset}` },
);
console.log(`\nWrote ${join(outputDir, "metrics.json")} and ${join(outputDir, "loss.svg")}`);
device.destroy();
