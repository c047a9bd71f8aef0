/**
 * One training-step benchmark of a BERT for sequence classification in one mode (full, VeLoRA,
 * gradient checkpointing): the Trainer's own `trainStep` (`src/train/step.ts`: forward with
 * labels in `tidy`, backward, global-norm clip coefficient fed to `AdamW.step({gradScale})`,
 * zero_grad), one GPU wait per step, median step time after warm-up, peak and activation bytes.
 *
 * @module
 */

import {
  AdamW,
  applyVeLoRA,
  BertConfig,
  BertForSequenceClassification,
  type Device,
  enableHalfSavedActivations,
  get_peft_model,
  LlamaConfig,
  LlamaForCausalLM,
  LoraConfig,
  type PeftModel,
  Tensor,
} from "../../mod.ts";
import { trainStep } from "../../src/train/step.ts";
// The Trainer's defaults (HF TrainingArguments): the benchmark steps as a default run does.
import { TRAINING_ARGS_DEFAULTS as D } from "../../src/train/training_args.ts";
import { VELORA_PRESETS } from "../../src/train/job.ts";
import { pretrainModeConfig, setupPretrainMode } from "../../src/train/pretrain.ts";
import { cpuClock, othersLoad } from "./cpu.ts";
import { mulberry32 } from "../../src/util/rng.ts";

/** Shapes of a benchmarked model (a BERT classifier, or a LLaMA causal LM with `kind: "llama"`). */
export interface ModelShape {
  /** "bert" (default) or "llama". */
  kind?: "bert" | "llama";
  /** Short name used in the table ("base", "small"). */
  name: string;
  /** Encoder layers. */
  layers: number;
  /** Hidden size D. */
  hidden: number;
  /** Attention heads. */
  heads: number;
  /** FFN inner size. */
  intermediate: number;
  /** Vocabulary size. */
  vocab: number;
}

/** BERT-base shapes (bert-base-uncased). */
export const BERT_BASE: ModelShape = {
  name: "base",
  layers: 12,
  hidden: 768,
  heads: 12,
  intermediate: 3072,
  vocab: 30522,
};

/** A small BERT (4 layers, hidden 256), bert-base-uncased's vocabulary. */
export const BERT_SMALL: ModelShape = {
  name: "small",
  layers: 4,
  hidden: 256,
  heads: 4,
  intermediate: 1024,
  vocab: 30522,
};

/**
 * The paper's LLaMA 60M (GaLore / VeLoRA `llama_60m`: hidden 512, 8 layers, 8 heads, SwiGLU 1376)
 * with LLaMA's 32,000-token vocabulary; trained as a causal LM (labels = input ids).
 */
export const LLAMA_60M: ModelShape = {
  name: "llama-60m",
  kind: "llama",
  layers: 8,
  hidden: 512,
  heads: 8,
  intermediate: 1376,
  vocab: 32000,
};

/**
 * Benchmarked modes. `lean` = VeLoRA on every linear input (BERT: the six encoder types; LLaMA:
 * the `all` preset, plus the lm_head fused with the loss) + recomputed attention
 * (`attn_implementation: "flash_attention_2"`) + f16 saved activations.
 */
export const MODES = [
  "full",
  "velora-vd",
  "velora-all",
  "checkpointing",
  "lora",
  "lora-velora",
  "lean",
] as const;
/** One benchmarked mode. */
export type BenchMode = typeof MODES[number];

/** VeLoRA sub-tokens per token in the VeLoRA modes (M = 24 for hidden 768). */
export const NUM_GROUPS = 32;

/**
 * The LoRA modes' adapters: PEFT's BERT defaults (query, value), r 8, alpha 16, no dropout, the
 * classifier trained in full (task SEQ_CLS); lora-velora adds VeLoRA (NUM_GROUPS) on each
 * adapter input.
 */
export const LORA_BENCH = { r: 8, lora_alpha: 16, target_modules: ["query", "value"] } as const;

/** A host-side batch: the same for every mode of one (model, batch, seq). */
export interface HostBatch {
  /** Rows. */
  batch: number;
  /** Tokens per row. */
  seq: number;
  /** [batch·seq] token ids in [1000, vocab). */
  inputIds: Int32Array;
  /** [batch] labels in {0, 1}. */
  labels: Int32Array;
}

/** A seeded random batch (ids avoid the special tokens below 1000). */
export function randomBatch(batch: number, seq: number, vocab: number, seed: number): HostBatch {
  const r = mulberry32(seed);
  const inputIds = Int32Array.from(
    { length: batch * seq },
    () => 1000 + Math.floor(r() * (vocab - 1000)),
  );
  const labels = Int32Array.from({ length: batch }, () => (r() < 0.5 ? 0 : 1));
  return { batch, seq, inputIds, labels };
}

/** The batch on the GPU (i32 ids, full attention mask, zero token types, labels). */
export interface GpuBatch {
  /** i32 [batch, seq]. */
  input_ids: Tensor;
  /** i32 [batch, seq], all ones. */
  attention_mask: Tensor;
  /** i32 [batch, seq], all zeros. */
  token_type_ids: Tensor;
  /** i32 [batch]. */
  labels: Tensor;
}

/** Uploads a host batch; for a causal LM (`kind` "llama") the labels are the ids [batch, seq]. */
export function uploadBatch(
  device: Device,
  b: HostBatch,
  kind: "bert" | "llama" = "bert",
): GpuBatch {
  const shape = [b.batch, b.seq];
  const n = b.batch * b.seq;
  return {
    input_ids: Tensor.from(device, b.inputIds, shape, { dtype: "i32" }),
    attention_mask: Tensor.from(device, new Int32Array(n).fill(1), shape, { dtype: "i32" }),
    token_type_ids: Tensor.from(device, new Int32Array(n), shape, { dtype: "i32" }),
    labels: kind === "llama"
      ? Tensor.from(device, b.inputIds, shape, { dtype: "i32" })
      : Tensor.from(device, b.labels, [b.batch], { dtype: "i32" }),
  };
}

/** Frees an uploaded batch. */
export function disposeGpuBatch(b: GpuBatch): void {
  for (const t of [b.input_ids, b.attention_mask, b.token_type_ids, b.labels]) t.dispose();
}

/** What one mode measured. */
export interface ModeResult {
  /** Model short name. */
  model: string;
  /** Mode. */
  mode: string;
  /** Rows per step. */
  batch: number;
  /** Tokens per row. */
  seq: number;
  /** Highest live bytes over the timed steps (peak reset before them). */
  peak_bytes: number;
  /** Highest `byCategory.activation` right after a timed forward. */
  activation_bytes: number;
  /** Median step time (ms). */
  step_ms: number;
  /** batch·seq / median step seconds. */
  tokens_per_second: number;
  /** Every timed step (ms), in order. */
  step_ms_all: number[];
  /**
   * Median CPU time of this process per timed step (ms; null where /proc is missing). On the
   * software adapter the GPU is this process's threads, so this measures the step's work and is
   * far less sensitive than wall time to other processes on a shared machine.
   */
  step_cpu_ms: number | null;
  /** Warm-up step times (ms), the first includes pipeline compiles. */
  warmup_ms: number[];
  /** Loss of the last timed step (read after timing). */
  loss: number;
  /** Cores' worth of CPU other processes used during the timed steps (null: unknown). */
  others_load: number | null;
  /** Live bytes after disposing the model and optimizer, minus before building them. */
  leaked_bytes: number;
  /** Trainable parameters. */
  parameters: number;
  /** Peak bytes of parameters + gradients + optimizer state (independent of batch × seq). */
  static_bytes: number;
  /** Peak bytes of parameters + optimizer state (gradients are freed by zero_grad). */
  param_opt_bytes: number;
  /**
   * Reserved bytes after the timed steps: live + the pool's free buffers (PyTorch's
   * `memory_reserved()`; the pool only grows in a steady loop, so this is its peak).
   */
  reserved_bytes: number;
  /** CPU ms of every timed step (empty where /proc is missing). */
  step_cpu_all: number[];
  /** VeLoRA layers patched (0 for other modes). */
  velora_layers: number;
}

/** Options of {@linkcode measureMode}. */
export interface MeasureModeOptions {
  /** Model shapes. */
  shape: ModelShape;
  /** Mode. */
  mode: BenchMode;
  /** The batch (already uploaded; its bytes are part of the baseline). */
  batch: GpuBatch;
  /** Rows and tokens per row of `batch`. */
  dims: { batch: number; seq: number };
  /** Untimed steps first (the first compiles pipelines and initialises VeLoRA's v). */
  warmup: number;
  /** Timed steps (median). */
  steps: number;
  /** Model init and dropout seed (same for every mode). */
  seed: number;
  /** Progress lines. */
  log?: (m: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * A randomly initialised BERT of `shape` in training mode, set up for `mode` (VeLoRA patching with
 * G = NUM_GROUPS, gradient checkpointing, or LoRA adapters on the frozen model: then `model` is
 * the PeftModel). Returns the number of VeLoRA layers (VeLoRA adapters in lora-velora).
 */
export function buildBenchModel(
  device: Device,
  shape: ModelShape,
  seq: number,
  mode: BenchMode,
  seed: number,
): { model: BertForSequenceClassification | PeftModel | LlamaForCausalLM; veloraLayers: number } {
  if (shape.kind === "llama") return buildLlamaBenchModel(device, shape, seq, mode, seed);
  const config = new BertConfig({
    ...configFields(shape),
    max_position_embeddings: Math.max(512, seq),
    num_labels: 2,
  });
  if (mode === "lean") config.attn_implementation = "flash_attention_2";
  const model = new BertForSequenceClassification(device, config, { seed });
  model.train();
  let veloraLayers = 0;
  if (mode === "checkpointing") model.gradient_checkpointing_enable();
  if (mode === "lean") enableHalfSavedActivations(model);
  if (mode === "lora" || mode === "lora-velora") {
    const peft = get_peft_model(
      model,
      new LoraConfig({
        ...LORA_BENCH,
        target_modules: [...LORA_BENCH.target_modules],
        task_type: "SEQ_CLS",
        seed,
        velora_config: mode === "lora-velora"
          ? { num_groups: NUM_GROUPS, init_type: "batch_average_once" }
          : null,
      }),
    );
    peft.train();
    const adapters = mode === "lora-velora" ? peft.base_model.loraLayers().length : 0;
    return { model: peft, veloraLayers: adapters };
  }
  if (mode === "velora-vd" || mode === "velora-all" || mode === "lean") {
    const report = applyVeLoRA(model, {
      target_modules: VELORA_PRESETS[mode === "velora-vd" ? "vd" : "all"],
      num_groups: NUM_GROUPS,
      init_type: "batch_average_once",
    });
    veloraLayers = report.layers.length;
  }
  return { model, veloraLayers };
}

/** The HF config fields `shape` sets (either family's names are the same). */
function configFields(shape: ModelShape) {
  return {
    vocab_size: shape.vocab,
    hidden_size: shape.hidden,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediate,
  };
}

/**
 * A randomly initialised LLaMA of `shape` (MHA, untied lm_head) in training mode, set up for
 * `mode` as `deno task pretrain` does (`setupPretrainMode`): VeLoRA with the paper's groups (64
 * sub-tokens per token for layers reading the hidden state, 86 for down_proj) on
 * `DECODER_VELORA_PRESETS.vd` or `.all`, gradient checkpointing, or `lean` (VeLoRA-all + recomputed
 * attention + f16 saved activations + the lm_head fused with the loss).
 * @throws {Error} for the LoRA modes (not benchmarked on decoders).
 */
export function buildLlamaBenchModel(
  device: Device,
  shape: ModelShape,
  seq: number,
  mode: BenchMode,
  seed: number,
): { model: LlamaForCausalLM; veloraLayers: number } {
  if (mode === "lora" || mode === "lora-velora") {
    throw new Error(`bench: mode ${mode} is not benchmarked on ${shape.name}`);
  }
  const pretrainMode = mode === "velora-vd" || mode === "velora-all" ? "velora" : mode;
  const config = pretrainModeConfig(
    new LlamaConfig({
      ...configFields(shape),
      max_position_embeddings: Math.max(1024, seq),
    }),
    pretrainMode,
  );
  const model = new LlamaForCausalLM(device, config, { seed });
  model.train();
  const reports = setupPretrainMode(model, pretrainMode, {
    veloraLayers: mode === "velora-vd" ? "vd" : "all",
    seed,
  });
  const veloraLayers = (reports ?? []).reduce((n, r) => n + r.layers.length, 0);
  return { model, veloraLayers };
}

/** Builds a fresh model in `mode`, trains warmup + steps steps, measures, frees everything. */
export async function measureMode(device: Device, o: MeasureModeOptions): Promise<ModeResult> {
  const log = o.log ?? (() => {});
  await device.sync();
  device.emptyCache();
  const baseline = device.memory.liveBytes;
  const { shape } = o;
  const { model, veloraLayers } = buildBenchModel(device, shape, o.dims.seq, o.mode, o.seed);
  const params = [...model.named_parameters()].filter(([, p]) => p.requiresGrad);
  const plain = params.map(([, p]) => p);
  const optimizer = new AdamW(params, { lr: D.learning_rate, weight_decay: D.weight_decay });
  const { batch } = o;
  let activation = 0;
  let lastLoss: Tensor | null = null;
  const cpu: number[] = [];
  const step = async (keepLoss: boolean): Promise<number> => {
    const c0 = cpuClock();
    const t0 = performance.now();
    const r = await trainStep({ model, optimizer, params: plain, max_grad_norm: D.max_grad_norm }, [
      batch,
    ]);
    const [loss] = r.losses;
    r.gradNorm.dispose();
    activation = Math.max(activation, r.activationBytes);
    if (keepLoss) {
      lastLoss?.dispose();
      lastLoss = loss;
    } else loss.dispose();
    await device.sync();
    const ms = performance.now() - t0;
    const c1 = cpuClock();
    if (c0 && c1) cpu.push(c1.self - c0.self);
    return ms;
  };
  const warmupMs: number[] = [];
  const times: number[] = [];
  let others: number | null = null;
  let reserved = 0;
  try {
    for (let i = 0; i < o.warmup; i++) {
      warmupMs.push(await step(false));
      log(
        `  ${shape.name}/${o.mode}: warm-up ${i + 1}/${o.warmup} ${warmupMs.at(-1)!.toFixed(0)} ms`,
      );
    }
    activation = 0;
    cpu.length = 0;
    device.memory.resetPeak();
    const c0 = cpuClock();
    const w0 = performance.now();
    for (let i = 0; i < o.steps; i++) {
      times.push(await step(i === o.steps - 1));
      log(`  ${shape.name}/${o.mode}: step ${i + 1}/${o.steps} ${times.at(-1)!.toFixed(0)} ms`);
    }
    others = othersLoad(c0, cpuClock(), performance.now() - w0);
    await device.sync();
    reserved = device.memory.liveBytes + device.memory.pooledBytes;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  const peak = device.memory.peakBytes;
  const pc = device.memory.peakByCategory;
  const staticBytes = pc.parameter + pc.gradient + pc.optimizer;
  const loss = lastLoss ? await (lastLoss as Tensor).item() : NaN;
  (lastLoss as Tensor | null)?.dispose();
  await device.sync();
  device.emptyCache();
  const leaked = device.memory.liveBytes - baseline;
  const ms = median(times);
  const tokens = o.dims.batch * o.dims.seq;
  return {
    model: shape.name,
    mode: o.mode,
    batch: o.dims.batch,
    seq: o.dims.seq,
    peak_bytes: peak,
    activation_bytes: activation,
    step_ms: ms,
    tokens_per_second: tokens / (ms / 1000),
    step_ms_all: times,
    step_cpu_ms: cpu.length === times.length ? median(cpu) : null,
    warmup_ms: warmupMs,
    loss,
    others_load: others,
    leaked_bytes: leaked,
    parameters: plain.reduce((s, p) => s + p.numel, 0),
    velora_layers: veloraLayers,
    static_bytes: staticBytes,
    param_opt_bytes: pc.parameter + pc.optimizer,
    reserved_bytes: reserved,
    step_cpu_all: cpu.length === times.length ? [...cpu] : [],
  };
}

/** What {@linkcode measureGeneration} measured. */
export interface GenerationResult {
  /** Prompt tokens per row. */
  prompt: number;
  /** New tokens per row. */
  new_tokens: number;
  /** Rows. */
  batch: number;
  /** Time to the first new token (prefill + one readback), ms. */
  prefill_ms: number;
  /** New tokens after the first, per second (decode steps with the KV cache). */
  decode_tokens_per_second: number;
}

/**
 * Greedy KV-cached generation speed of a randomly initialised LLaMA of `shape` (eval mode, no
 * grad): one untimed warm-up call (pipeline compiles), then one timed call; the per-token
 * callback timestamps the steps.
 */
export async function measureGeneration(
  device: Device,
  shape: ModelShape,
  o: { batch: number; prompt: number; new_tokens: number; seed: number },
): Promise<GenerationResult> {
  const config = new LlamaConfig({
    ...configFields(shape),
  });
  const model = new LlamaForCausalLM(device, config, { seed: o.seed }).eval();
  try {
    const r = mulberry32(o.seed + 1);
    const ids = Array.from(
      { length: o.batch },
      () => Array.from({ length: o.prompt }, () => 1000 + Math.floor(r() * (shape.vocab - 1000))),
    );
    await model.generate(ids, { max_new_tokens: 2, eos_token_id: null });
    const stamps: number[] = [];
    const t0 = performance.now();
    await model.generate(ids, {
      max_new_tokens: o.new_tokens,
      eos_token_id: null,
      callback: () => stamps.push(performance.now()),
    });
    const decodeS = (stamps[stamps.length - 1] - stamps[0]) / 1000;
    return {
      prompt: o.prompt,
      new_tokens: o.new_tokens,
      batch: o.batch,
      prefill_ms: stamps[0] - t0,
      decode_tokens_per_second: ((stamps.length - 1) * o.batch) / decodeS,
    };
  } finally {
    model.dispose();
  }
}
