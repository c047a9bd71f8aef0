/**
 * Instruction tuning of a causal LM (LLaMA, Qwen2, Mistral layouts) with LoRA or LoRA + VeLoRA
 * adapters: the VeLoRA paper's Alpaca setting at small scale.
 *
 *   deno run -A examples/finetune_llama.ts --model DIR --data alpaca.jsonl
 *   deno run -A examples/finetune_llama.ts --model DIR --data chat.jsonl --mode lora-velora
 *
 * The JSONL holds Alpaca rows `{"instruction", "input", "output"}` or chat rows
 * `{"messages": [{"role", "content"}, ...]}` ending with the assistant's answer. Prompt tokens
 * are masked (label -100): only the answers are learned. Writes the adapter folder (PEFT's
 * adapter_config.json + adapter_model.safetensors, with the tokenizer) and metrics.json into
 * --output-dir, and prints the tuned model's answer to the first prompt.
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { Device } from "../src/runtime/device.ts";
import { runInstructionTuning } from "../src/train/instruct.ts";
import { writeJsonAtomic } from "../src/util/write_atomic.ts";

const HELP = `Instruction-tune a causal LM with LoRA adapters (PEFT format).

  --model DIR_OR_ID          causal LM with its tokenizer (required)
  --data FILE                JSONL: Alpaca rows or chat "messages" rows (required)
  --mode M                   lora | lora-velora (default lora)
  --lora-r R                 rank (default 8)
  --lora-alpha A             scaling = alpha / r (default 16)
  --lora-dropout P           adapter input dropout (default 0.05)
  --lora-target-modules T    comma-separated names or all-linear (default q_proj,v_proj)
  --num-groups G             VeLoRA sub-tokens per token in lora-velora (default 32)
  --epochs N                 passes over the data (default 3)
  --max-steps N              stop after N optimizer steps (default: epochs)
  --batch-size N             rows per step (default 4)
  --max-length N             tokens per row (default 256)
  --lr F                     peak learning rate (default 3e-4)
  --seed N                   default 42
  --max-new-tokens N         length of the sample answer (default 32)
  --output-dir DIR           default output/finetune_llama
  -h, --help`;

function fail(message: string): never {
  console.error(`error: ${message}\n(see --help)`);
  Deno.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  const names = [
    "model",
    "data",
    "mode",
    "lora-r",
    "lora-alpha",
    "lora-dropout",
    "lora-target-modules",
    "num-groups",
    "epochs",
    "max-steps",
    "batch-size",
    "max-length",
    "lr",
    "seed",
    "max-new-tokens",
    "output-dir",
  ];
  values = parseArgs({
    args: Deno.args,
    options: {
      ...Object.fromEntries(names.map((n) => [n, { type: "string" as const }])),
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }).values;
} catch (e) {
  fail((e as Error).message);
}
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const num = (name: string, dflt: number, integer = false, min = 0): number => {
  const v = values[name] as string | undefined;
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    fail(`--${name} expects ${integer ? "an integer" : "a number"} ≥ ${min}, got "${v}"`);
  }
  return n;
};
const model = values.model as string | undefined;
const data = values.data as string | undefined;
if (!model || !data) fail(`${!model ? "--model" : "--data"} is required`);
const mode = (values.mode as string | undefined) ?? "lora";
if (mode !== "lora" && mode !== "lora-velora") {
  fail(`--mode must be lora or lora-velora, got "${mode}"`);
}
const dropout = num("lora-dropout", 0.05);
if (dropout >= 1) fail(`--lora-dropout must be below 1, got ${dropout}`);
const outputDir = (values["output-dir"] as string | undefined) ?? "output/finetune_llama";

const device = await Device.create().catch((e) => fail((e as Error).message));
console.log(`WebGPU adapter: ${device.describe()}`);
try {
  const result = await runInstructionTuning(device, {
    model,
    data,
    mode,
    loraR: num("lora-r", 8, true, 1),
    loraAlpha: num("lora-alpha", 16),
    loraDropout: dropout,
    loraTargetModules: (values["lora-target-modules"] as string | undefined) ?? "q_proj,v_proj",
    numGroups: num("num-groups", 32, true, 1),
    epochs: num("epochs", 3),
    maxSteps: num("max-steps", -1, true, 1),
    batchSize: num("batch-size", 4, true, 1),
    maxLength: num("max-length", 256, true, 2),
    lr: num("lr", 3e-4),
    seed: num("seed", 42, true),
    outputDir,
    maxNewTokens: num("max-new-tokens", 32, true, 1),
  });
  await writeJsonAtomic(join(outputDir, "metrics.json"), result);
  console.log(
    `${mode}: ${result.steps} steps, loss ${result.first_loss.toFixed(4)} → ` +
      `${result.final_loss.toFixed(4)}, peak ${(result.peak_bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `activations ${(result.activation_bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `${result.seconds.toFixed(1)} s; adapter saved to ${outputDir}`,
  );
  console.log(`\nPrompt:\n${result.sample.prompt}\nAnswer:\n${result.sample.answer}`);
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(1);
} finally {
  device.destroy();
}
