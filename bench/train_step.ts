// Training-step benchmark (issue 6): memory and speed of full training, VeLoRA and gradient
// checkpointing, side by side in one run, on BERT-base shapes and a small BERT.
//
// Usage: deno task bench [flags]          (= deno run -A bench/train_step.ts)
//   --models base,small   models to run (default both; "small" first); also llama-60m (the
//                         paper's LLaMA 60M as a causal LM, seq 256, with a generation line)
//   --batch N | small=8,base=2   rows per step (all models, or per model)
//   --seq N | small=128,base=128 tokens per row
//   --steps N             timed steps per mode (median reported)
//   --warmup N            untimed steps per mode first (compiles pipelines, initialises VeLoRA v)
//   --modes full,velora-vd,velora-all,checkpointing,lora,lora-velora,lean   modes to run ("full"
//                         is always included; lora = PEFT LoRA on q/v of a frozen model;
//                         lean = VeLoRA-all + recomputed attention + f16 saved activations)
//   --rounds N            interleaved rounds (default 2 with --quick, else 3): every round runs
//                         every mode once (A B C, then B C A, ...); time ratios are per round,
//                         reported as the median (min–max) over rounds
//   --quick               fewer steps, small model + a reduced BERT-base run (< 5 min on llvmpipe)
//   --torch               also run bench/peers/torch_step.py (PyTorch CPU) on the small-BERT shape
//   --torch-threads N     torch.set_num_threads for the peer (default 2)
//   --seed N              model init / dropout / batch seed (default 0)
//   --no-save             print only; do not write bench/results.json and bench/RESULTS.md
//   --merge               update bench/results.json instead of replacing it: rows of this run
//                         replace those of the same model, mode, batch and seq (the implicit
//                         "full" baseline only when --modes names it); other rows are kept
//   --help
//
// Modes are interleaved: each round builds every mode's model afresh and times `--steps` steps,
// so machine drift hits all modes alike; step_ms and step_cpu_ms are medians over all rounds'
// steps, and every "vs full" time ratio is the median of the per-round ratios with its min–max.
// Every mode builds a fresh model with the same seed and trains on the same random batch (i32
// ids, full attention mask, labels). A step is the Trainer's: forward with labels in `tidy`,
// backward, clipGradNormCoef → AdamW.step({gradScale}), zero_grad, then one `await device.sync()`.
// step_ms is the median of the timed steps; peak_bytes is device.memory.peakBytes over the timed
// steps (resetPeak() before them); activation_bytes is device.memory.byCategory.activation right
// after a forward. Writes bench/results.json (atomic) and the generated block of bench/RESULTS.md.

import { Device } from "../mod.ts";
import { fileURLToPath } from "node:url";
import {
  type BenchMode,
  BERT_BASE,
  BERT_SMALL,
  disposeGpuBatch,
  LLAMA_60M,
  measureGeneration,
  measureMode,
  type ModelShape,
  type ModeResult,
  MODES,
  NUM_GROUPS,
  randomBatch,
  uploadBatch,
} from "./lib/step.ts";
import {
  fitTable,
  markdownTable,
  type ResultRow,
  type Results,
  writeResults,
  writeResultsMarkdown,
} from "./lib/report.ts";
import { runTorchPeer, torchVersion } from "./lib/torch_peer.ts";
import { cpuCount } from "./lib/cpu.ts";

const HELP = `deno task bench [--quick] [--models base,small,llama-60m] [--batch N|small=8,base=2]
  [--seq N|small=128,base=128] [--steps N] [--warmup N] [--rounds N]
  [--modes full,velora-vd,velora-all,checkpointing,lora,lora-velora,lean]
  [--torch] [--torch-threads N] [--seed N] [--no-save] [--merge]`;

const argv = [...Deno.args];
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(HELP);
  Deno.exit(0);
}

const KNOWN = new Set([
  "--models",
  "--batch",
  "--seq",
  "--steps",
  "--warmup",
  "--rounds",
  "--modes",
  "--torch-threads",
  "--seed",
]);
const SWITCHES = new Set(["--quick", "--torch", "--no-save", "--merge"]);
const opts = new Map<string, string>();
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const eq = a.startsWith("--") ? a.indexOf("=") : -1;
  const k = eq > 0 ? a.slice(0, eq) : a;
  if (SWITCHES.has(k) && eq < 0) {
    opts.set(k, "true");
  } else if (KNOWN.has(k)) {
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) fail(`${k} needs a value`);
    opts.set(k, v);
  } else fail(`unknown flag ${a}\n${HELP}`);
}

function fail(msg: string): never {
  console.error(`bench/train_step.ts: ${msg}`);
  Deno.exit(2);
}

function int(name: string, fallback: number, min = 0): number {
  const s = opts.get(name);
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) fail(`${name} must be an integer ≥ ${min}, got ${s}`);
  return n;
}

/** "--batch 8" → all models 8; "--batch small=8,base=2" → per model. */
function perModel(name: string, model: string, fallback: number): number {
  const s = opts.get(name);
  if (s === undefined) return fallback;
  if (!s.includes("=")) return int(name, fallback, 1);
  for (const part of s.split(",")) {
    const [m, v] = part.split("=");
    if (m.trim() === model) {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) fail(`${name} ${part}: expected a positive integer`);
      return n;
    }
  }
  return fallback;
}

const quick = opts.has("--quick");
const device = await Device.create();
const software = device.adapterInfo.isFallbackAdapter;

// Defaults. On the software adapter (llvmpipe, a few CPU cores) a BERT-base step at 2×128 takes
// seconds; on a real GPU BERT-base runs at batch 32×128 as in the paper's setting.
// llama-60m (the paper's pre-training model) runs at seq 256, as issue 10 asks.
const DEFAULTS = software
  ? quick
    ? { small: [8, 128], base: [1, 128], "llama-60m": [1, 256], steps: 3, warmup: 1, baseSteps: 2 }
    : { small: [8, 128], base: [2, 128], "llama-60m": [2, 256], steps: 5, warmup: 1, baseSteps: 3 }
  : quick
  ? { small: [32, 128], base: [8, 128], "llama-60m": [8, 256], steps: 5, warmup: 2, baseSteps: 5 }
  : {
    small: [32, 128],
    base: [32, 128],
    "llama-60m": [32, 256],
    steps: 20,
    warmup: 3,
    baseSteps: 20,
  };

const SHAPES: Record<string, ModelShape> = {
  small: BERT_SMALL,
  base: BERT_BASE,
  "llama-60m": LLAMA_60M,
};
const modelNames = (opts.get("--models") ?? "small,base").split(",").map((s) => s.trim())
  .filter(Boolean);
for (const m of modelNames) {
  if (!SHAPES[m]) fail(`unknown model "${m}" (${Object.keys(SHAPES).join(", ")})`);
}
const modes = (opts.get("--modes") ?? MODES.join(",")).split(",").map((s) => s.trim())
  .filter(Boolean) as BenchMode[];
for (const m of modes) if (!MODES.includes(m)) fail(`unknown mode "${m}" (${MODES.join(", ")})`);
const fullAsked = modes.includes("full");
if (!fullAsked) modes.unshift("full"); // the ratio baseline
const warmup = int("--warmup", DEFAULTS.warmup);
const rounds = int("--rounds", quick ? 2 : 3, 1);
const seed = int("--seed", 0);
const torchThreads = int("--torch-threads", 2, 1);

const command = `deno task bench${Deno.args.length ? " " + Deno.args.join(" ") : ""}`;
const log = (m: string) => console.error(m);
log(`adapter: ${device.describe()}${software ? "" : " (hardware)"}; cpus: ${cpuCount() ?? "?"}`);
log(`command: ${command}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** {median, min, max} of per-round ratios, null when a round lacks the value. */
function spread(
  rs: ModeResult[],
  base: ModeResult[],
  pick: (r: ModeResult) => number | null,
): { median: number; min: number; max: number } | null {
  const ratios: number[] = [];
  for (let i = 0; i < rs.length; i++) {
    const a = pick(rs[i]);
    const b = base[i] ? pick(base[i]) : null;
    if (a === null || b === null || !(b > 0)) return null;
    ratios.push(a / b);
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    median: round(median(ratios)),
    min: round(Math.min(...ratios)),
    max: round(Math.max(...ratios)),
  };
}

/** One row from a mode's rounds: medians over all timed steps, ratios per round. */
function aggregate(rs: ModeResult[], base: ModeResult[]): ResultRow {
  const r0 = rs[0];
  const all = rs.flatMap((r) => r.step_ms_all);
  const cpuAll = rs.flatMap((r) => r.step_cpu_all);
  const stepMs = median(all);
  const max = (f: (r: ModeResult) => number) => Math.max(...rs.map(f));
  const peak = max((r) => r.peak_bytes);
  const staticBytes = max((r) => r.static_bytes);
  // Per sequence: the activations saved for backward. The budget holds static bytes (weights,
  // gradients, optimizer state) + batch × that: conservative in that gradients and activations
  // never peak together; the forward's short-lived temporaries are not counted.
  const perSeq = max((r) => r.activation_bytes) / r0.batch;
  const fits: Record<string, number> = {};
  for (const gib of [4, 8, 16]) {
    fits[`${gib}GiB`] = Math.max(0, Math.floor((gib * 2 ** 30 - staticBytes) / perSeq));
  }
  return {
    model: r0.model,
    mode: r0.mode,
    batch: r0.batch,
    seq: r0.seq,
    peak_bytes: peak,
    activation_bytes: max((r) => r.activation_bytes),
    step_ms: stepMs,
    tokens_per_second: (r0.batch * r0.seq) / (stepMs / 1000),
    step_cpu_ms: cpuAll.length === all.length ? median(cpuAll) : null,
    step_ratio: spread(rs, base, (r) => r.step_ms),
    cpu_ratio: spread(rs, base, (r) => r.step_cpu_ms),
    rounds: rs.length,
    static_bytes: staticBytes,
    activation_bytes_per_seq: Math.round(max((r) => r.activation_bytes) / r0.batch),
    reserved_bytes: max((r) => r.reserved_bytes),
    fits_batch: fits,
    step_ms_all: all.map((x) => Math.round(x * 10) / 10),
    warmup_ms: rs.flatMap((r) => r.warmup_ms.map((x) => Math.round(x))),
    loss: rs.at(-1)!.loss,
    others_load: Math.round(max((r) => r.others_load ?? 0) * 100) / 100,
    leaked_bytes: max((r) => Math.abs(r.leaked_bytes)),
    parameters: r0.parameters,
    velora_layers: r0.velora_layers,
  };
}

const rows: ResultRow[] = [];
const notes: string[] = [];
const started = performance.now();
let torchRow: ResultRow | null = null;

for (const name of modelNames) {
  const shape = SHAPES[name];
  const def = DEFAULTS[name as "small" | "base" | "llama-60m"];
  const batch = perModel("--batch", name, def[0]);
  const seq = perModel("--seq", name, def[1]);
  const steps = int("--steps", name === "small" ? DEFAULTS.steps : DEFAULTS.baseSteps, 1);
  if (seq > 512 && shape.kind !== "llama") fail(`--seq ${seq}: BERT has 512 positions`);
  log(
    `\n${name}: ${shape.layers} layers, hidden ${shape.hidden}, ${shape.heads} heads, ` +
      `intermediate ${shape.intermediate}; batch ${batch} × seq ${seq}; warm-up ${warmup}, ` +
      `${steps} timed steps; VeLoRA ${
        shape.kind === "llama"
          ? "num_groups 64, 86 for down_proj (the paper's)"
          : `num_groups ${NUM_GROUPS} (M = ${Math.ceil(shape.hidden / NUM_GROUPS)})`
      }`,
  );
  const host = randomBatch(batch, seq, shape.vocab, seed);
  const gpuBatch = uploadBatch(device, host, shape.kind);
  // LoRA modes are BERT modes; decoders run full, velora-vd, velora-all, checkpointing, lean.
  const modelModes = shape.kind === "llama" ? modes.filter((m) => !m.startsWith("lora")) : modes;
  const byMode = new Map<BenchMode, ModeResult[]>(modelModes.map((m) => [m, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round: no mode always runs first or right after another.
      const order = modelModes.map((_, i) => modelModes[(i + round) % modelModes.length]);
      for (const mode of order) {
        const t0 = performance.now();
        const r: ModeResult = await measureMode(device, {
          shape,
          mode,
          batch: gpuBatch,
          dims: { batch, seq },
          warmup,
          steps,
          seed,
          log,
        });
        byMode.get(mode)!.push(r);
        log(
          `  ${name}/${mode} (round ${round + 1}/${rounds}): median ${r.step_ms.toFixed(0)} ms, ` +
            `CPU ${r.step_cpu_ms?.toFixed(0) ?? "?"} ms, peak ${
              (r.peak_bytes / 2 ** 20).toFixed(1)
            } MiB, activations ${(r.activation_bytes / 2 ** 20).toFixed(1)} MiB, loss ${
              r.loss.toFixed(4)
            } (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
        );
        if (!Number.isFinite(r.loss)) notes.push(`${name}/${mode}: the loss is ${r.loss}`);
        // "Near the baseline": what one mode leaves behind must be below 1 MiB.
        if (Math.abs(r.leaked_bytes) > 2 ** 20) {
          const msg = `${name}/${mode}: live bytes did not return to the baseline after dispose ` +
            `(${r.leaked_bytes} bytes left)`;
          log(`  WARNING ${msg}`);
          notes.push(msg);
        }
        if (r.others_load !== null && r.others_load > 0.25) {
          notes.push(
            `${name}/${mode} round ${round + 1}: other processes used ${
              r.others_load.toFixed(2)
            } cores during the timed steps (timings contended)`,
          );
        }
      }
    }
    for (const mode of modelModes) rows.push(aggregate(byMode.get(mode)!, byMode.get("full")!));
  } finally {
    disposeGpuBatch(gpuBatch);
  }
  if (shape.kind === "llama") {
    const g = await measureGeneration(device, shape, {
      batch: 1,
      prompt: 32,
      new_tokens: quick ? 16 : 32,
      seed,
    });
    const line = `${name} generation (greedy, KV cache, batch ${g.batch}, prompt ${g.prompt}, ` +
      `${g.new_tokens} new tokens): ${g.decode_tokens_per_second.toFixed(1)} tokens/s decoding, ` +
      `first token after ${g.prefill_ms.toFixed(0)} ms`;
    log(`  ${line}`);
    notes.push(line);
  }
  if (name === "small" && opts.has("--torch")) {
    const version = await torchVersion();
    if (!version) {
      const msg =
        "--torch: /usr/bin/python3 cannot import torch (apt-get install python3-torch); " +
        "skipping the PyTorch CPU row";
      log(msg);
      notes.push(msg);
    } else {
      log(`  small/pytorch-cpu: torch ${version}, ${torchThreads} threads ...`);
      try {
        // The GPU device sits idle meanwhile; the peer gets the CPU cores to itself.
        torchRow = await runTorchPeer({
          shape,
          batch,
          seq,
          steps,
          warmup,
          seed,
          threads: torchThreads,
        });
        rows.push(torchRow);
        log(
          `  small/pytorch-cpu: median ${torchRow.step_ms.toFixed(0)} ms, ` +
            `${torchRow.tokens_per_second.toFixed(0)} tokens/s`,
        );
      } catch (e) {
        const msg = `--torch: ${(e as Error).message}`;
        log(msg);
        notes.push(msg.split("\n")[0]);
      }
    }
  }
}

const totalS = (performance.now() - started) / 1000;
notes.push(
  `Time ratios: median over ${rounds} interleaved round(s) of (mode ÷ full) per round, min–max in ` +
    "parentheses; CPU = this process's CPU time per step (the software adapter's GPU threads " +
    "included). Fits: largest batch at this seq with static + batch × activations per sequence " +
    "within the budget.",
);
if (torchRow) {
  notes.push(
    `pytorch-cpu: plain PyTorch ${torchRow.torch ?? ""} on the CPU (${torchRow.threads} threads, ` +
      `fp32, BLAS ${torchRow.blas ?? "unknown"}, same model shapes, AdamW + clipping, dropout ` +
      `0.1); memory columns do not apply.`,
  );
}
notes.push(
  `Ratios are to the "full" row of the same model and batch × seq; VeLoRA uses num_groups ` +
    `${NUM_GROUPS}, init batch_average_once; ${warmup} warm-up step(s) per mode and round; total ` +
    `${totalS.toFixed(0)} s.`,
);

const results: Results = {
  adapter: device.describe(),
  date: new Date().toISOString(),
  command,
  adapter_info: device.adapterInfo,
  cpus: cpuCount(),
  seconds: Math.round(totalS),
  rows: opts.has("--merge") ? await mergedRows(rows) : rows,
};

/** --merge: the saved rows with this run's rows in place of those they re-measure. */
async function mergedRows(fresh: ResultRow[]): Promise<ResultRow[]> {
  const path = fileURLToPath(new URL("./results.json", import.meta.url));
  const old = (JSON.parse(await Deno.readTextFile(path)) as Results).rows;
  const key = (r: ResultRow) => `${r.model}|${r.mode}|${r.batch}|${r.seq}`;
  const out = [...old];
  for (const r of fresh) {
    if (r.mode === "full" && !fullAsked && old.some((o) => key(o) === key(r))) continue;
    const i = out.findIndex((o) => key(o) === key(r));
    if (i >= 0) out[i] = r;
    else {
      const last = out.findLastIndex((o) => o.model === r.model);
      out.splice(last + 1, 0, r);
    }
  }
  notes.push(
    `Merged run (${new Date().toISOString().slice(0, 16)}Z, ${command}): ` +
      `${fresh.map((r) => `${r.model}/${r.mode}`).join(", ")}; step times of rows from ` +
      `different runs depend on the machine's load then (others_load, step_cpu_ms).`,
  );
  return out;
}
const table = markdownTable(results.rows) + "\n" + fitTable(results.rows);
console.log(`\n${table}`);
for (const n of notes) console.log(`- ${n}`);
if (!opts.has("--no-save")) {
  const dir = fileURLToPath(new URL(".", import.meta.url));
  await writeResults(`${dir}results.json`, results);
  await writeResultsMarkdown(`${dir}RESULTS.md`, results, notes);
  log(`\nwrote ${dir}results.json and ${dir}RESULTS.md`);
}
device.destroy();
