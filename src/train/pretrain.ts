/**
 * Causal-LM pre-training from scratch (the VeLoRA paper's C4 LLaMA setting at small scale):
 * model presets, the training loop (AdamW, linear warm-up + cosine decay, global-norm clipping,
 * the shared {@linkcode trainStep}), held-out perplexity and the per-mode metrics of
 * `examples/pretrain_llama.ts`.
 *
 * @module
 */

import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import { tidy } from "../tensor/scope.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { AdamW } from "../optim/adamw.ts";
import { getCosineScheduleWithWarmup, LambdaLR } from "../optim/schedule.ts";
import { LlamaConfig, type LlamaConfigInput } from "../models/llama/config.ts";
import { LlamaForCausalLM } from "../models/llama/modeling_llama.ts";
import { enableHalfSavedActivations } from "../nn/half_saved.ts";
import { applyVeLoRA, type VeLoRAReport } from "../velora/apply.ts";
import { DECODER_VELORA_PRESETS } from "../velora/presets.ts";
import { trainStep } from "./step.ts";

/** Model presets of `--config` (LlamaConfig fields; vocab_size comes from the tokenizer). */
export const PRETRAIN_CONFIGS: Record<string, LlamaConfigInput> = {
  /** The paper's LLaMA 60M (Miles et al. 2024, Table 3; GaLore's llama_60m): 512 wide, 8 layers. */
  llama_60m: {
    hidden_size: 512,
    intermediate_size: 1376,
    num_hidden_layers: 8,
    num_attention_heads: 8,
    max_position_embeddings: 1024,
  },
  /** The default: small enough that `deno task pretrain` ends in minutes on a 2-core CPU. */
  small: {
    hidden_size: 128,
    intermediate_size: 344,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    max_position_embeddings: 512,
  },
};

/**
 * Training modes. `lean`: VeLoRA on every linear input (the `all` preset: q/k/v share one
 * compressed input, gate/up another; the paper's groups) + recomputed attention
 * (`attn_implementation: "flash_attention_2"`) + f16 saved activations + the lm_head fused with
 * the loss (`fusedLinearCrossEntropy`: gradients computed in the forward, logits never kept).
 */
export type PretrainMode = "full" | "velora" | "checkpointing" | "lean";

/** Options of one pre-training run. */
export interface PretrainRunOptions {
  /** Key of {@linkcode PRETRAIN_CONFIGS}, or LlamaConfig fields. */
  config: string | LlamaConfigInput;
  /** Tokenizer vocabulary size. */
  vocabSize: number;
  /** Optimizer steps. */
  maxSteps: number;
  /** Rows per step. */
  batchSize: number;
  /** Tokens per row. */
  seqLen: number;
  /** Peak learning rate. */
  lr: number;
  /** Share of steps spent warming up. Default 0.1. */
  warmupRatio?: number;
  /** The cosine decays to lr · minLrRate. Default 0.1. */
  minLrRate?: number;
  /** AdamW weight decay. Default 0. */
  weightDecay?: number;
  /** Seed of the weights and the row order. */
  seed: number;
  /** "vd", "qkvd", "all" or a comma-separated list of module names. Default "vd". */
  veloraLayers?: string;
  /**
   * Sub-tokens per token for every VeLoRA layer; default the paper's for the 60M model: 64 for
   * layers reading the hidden state (v_proj and the rest), 86 for down_proj.
   */
  numGroups?: number;
  /** Held-out rows evaluated (each seqLen tokens). */
  evalRows: number;
  /** Called after each step with the loss (for progress output). */
  onStep?: (step: number, loss: number, lr: number) => void;
}

/** The metrics of one run (API.md "Training API and jobs": pretrain metrics.json). */
export interface PretrainMetrics {
  /** Training mode. */
  mode: PretrainMode;
  /** The preset name, or "custom". */
  config: string;
  /** Optimizer steps taken. */
  steps: number;
  /** Mean training loss over all steps. */
  train_loss: number;
  /** Mean loss of the last 10% of steps. */
  final_loss: number;
  /** Mean token cross-entropy over the held-out rows. */
  eval_loss: number;
  /** exp(eval_loss). */
  eval_perplexity: number;
  /** Highest live GPU bytes during training (parameters, gradients, optimizer state included). */
  peak_bytes: number;
  /** Highest bytes saved for backward, right after a forward. */
  activation_bytes: number;
  /** Training tokens per second of wall time (evaluation excluded). */
  tokens_per_second: number;
  /** Training wall time (s). */
  seconds: number;
  /** Per patched layer: whether its input was freed (VeLoRA runs only). */
  velora_inputs_freed?: { name: string; freed: boolean | null }[];
}

/** A finished run: its metrics, loss curve and trained model (the caller disposes the model). */
export interface PretrainRun {
  /** metrics.json fields of this run. */
  metrics: PretrainMetrics;
  /** The loss of every step. */
  losses: { step: number; loss: number }[];
  /** The trained model (in training mode). */
  model: LlamaForCausalLM;
}

/** The LlamaConfig of a preset (or of given fields). @throws {Error} naming an unknown preset. */
export function pretrainConfig(name: string | LlamaConfigInput, vocabSize: number): LlamaConfig {
  const preset = typeof name === "string" ? PRETRAIN_CONFIGS[name] : name;
  if (!preset) {
    throw new Error(
      `--config ${name} is not a preset (presets: ${Object.keys(PRETRAIN_CONFIGS).join(", ")})`,
    );
  }
  return new LlamaConfig({
    ...preset,
    model_type: "llama",
    vocab_size: vocabSize,
    bos_token_id: 0,
    eos_token_id: 0,
    pad_token_id: null,
    tie_word_embeddings: false,
    rms_norm_eps: 1e-6,
  });
}

/** Rows [batch, seqLen] of `tokens` for `step` (contiguous windows, wrapping around). */
function rows(tokens: Int32Array, step: number, batch: number, seq: number, order: number[]) {
  const out = new Int32Array(batch * seq);
  const perEpoch = order.length;
  for (let b = 0; b < batch; b++) {
    const r = order[(step * batch + b) % perEpoch];
    out.set(tokens.subarray(r * seq, (r + 1) * seq), b * seq);
  }
  return out;
}

/**
 * Prepares `config` for `mode` before the model is built (the attention kernel is chosen when the
 * layers are): `lean` sets `attn_implementation` "flash_attention_2". Returns `config`.
 */
export function pretrainModeConfig(config: LlamaConfig, mode: PretrainMode): LlamaConfig {
  if (mode === "lean") config.attn_implementation = "flash_attention_2";
  return config;
}

/**
 * Applies `mode` to `model` (built from {@linkcode pretrainModeConfig}); returns the VeLoRA
 * reports for "velora" and "lean" (which always uses the `all` preset).
 */
export function setupPretrainMode(
  model: LlamaForCausalLM,
  mode: PretrainMode,
  o: Pick<PretrainRunOptions, "veloraLayers" | "numGroups" | "seed">,
): VeLoRAReport[] | null {
  if (mode === "checkpointing") model.gradient_checkpointing_enable();
  if (mode === "lean") {
    enableHalfSavedActivations(model);
    model.fusedLinearCrossEntropy = true;
  }
  if (mode !== "velora" && mode !== "lean") return null;
  const spec = mode === "lean" ? "all" : o.veloraLayers ?? "vd";
  const targets = DECODER_VELORA_PRESETS[spec] ??
    spec.split(",").map((s) => s.trim()).filter(Boolean);
  const down = targets.filter((t) => /down_proj$/.test(t));
  const rest = targets.filter((t) => !/down_proj$/.test(t));
  const reports: VeLoRAReport[] = [];
  if (rest.length) {
    reports.push(applyVeLoRA(model, { target_modules: rest, num_groups: o.numGroups ?? 64 }));
  }
  if (down.length) {
    reports.push(applyVeLoRA(model, { target_modules: down, num_groups: o.numGroups ?? 86 }));
  }
  return reports;
}

/** Mean token cross-entropy of `model` over the first `evalRows` rows of `tokens`. */
export async function evaluateLM(
  model: LlamaForCausalLM,
  tokens: Int32Array,
  o: { batchSize: number; seqLen: number; evalRows: number },
): Promise<number> {
  const device = model.model.embed_tokens.weight.device;
  const available = Math.floor(tokens.length / o.seqLen);
  const n = Math.min(o.evalRows, available);
  if (n === 0) throw new Error(`evaluation: the held-out split has fewer than ${o.seqLen} tokens`);
  const wasTraining = model.training;
  model.eval();
  const losses: Promise<number>[] = [];
  for (let r = 0; r < n; r += o.batchSize) {
    const b = Math.min(o.batchSize, n - r);
    const data = tokens.slice(r * o.seqLen, (r + b) * o.seqLen);
    const loss = noGrad(() =>
      tidy(() => {
        const ids = Tensor.from(device, data, [b, o.seqLen], { dtype: "i32" });
        return model.forward({ input_ids: ids, labels: ids }).loss!.keep();
      })
    );
    // Every row has seqLen − 1 targets: weight each batch by its rows.
    losses.push(loss.item().then((v) => (loss.dispose(), v * b)));
  }
  const total = (await Promise.all(losses)).reduce((a, v) => a + v, 0);
  model.train(wasTraining);
  return total / n;
}

/**
 * One pre-training run in `mode` on `train`, evaluated on `evalTokens`: the model is built from
 * the preset with `seed`, so runs of different modes start from the same weights and see the same
 * rows in the same order.
 */
export async function runPretrain(
  device: Device,
  mode: PretrainMode,
  train: Int32Array,
  evalTokens: Int32Array,
  o: PretrainRunOptions,
): Promise<PretrainRun> {
  const config = pretrainModeConfig(pretrainConfig(o.config, o.vocabSize), mode);
  const model = new LlamaForCausalLM(device, config, { seed: o.seed });
  model.train();
  const reports = setupPretrainMode(model, mode, o);
  const params = [...model.named_parameters()].map(([, p]) => p);
  const optimizer = new AdamW(params, {
    lr: o.lr,
    weight_decay: o.weightDecay ?? 0,
    betas: [0.9, 0.95],
  });
  const warmup = Math.round((o.warmupRatio ?? 0.1) * o.maxSteps);
  const schedule = new LambdaLR(
    optimizer,
    getCosineScheduleWithWarmup(warmup, o.maxSteps, o.minLrRate ?? 0.1),
  );
  const rowCount = Math.floor(train.length / o.seqLen);
  if (rowCount < 1) throw new Error(`pretrain: fewer than ${o.seqLen} training tokens`);
  const order = Array.from({ length: rowCount }, (_, i) => i);
  const r = (await import("../util/rng.ts")).mulberry32(o.seed + 17);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const losses: { step: number; loss: number }[] = [];
  let activation = 0;
  await device.sync();
  device.memory.resetPeak();
  const t0 = performance.now();
  try {
    for (let step = 0; step < o.maxSteps; step++) {
      const lr = optimizer.param_groups[0].lr;
      const ids = Tensor.from(device, rows(train, step, o.batchSize, o.seqLen, order), [
        o.batchSize,
        o.seqLen,
      ], { dtype: "i32" });
      const res = await trainStep(
        { model, optimizer, params, max_grad_norm: 1.0 },
        [{ input_ids: ids, labels: ids, dispose: () => ids.dispose() }],
      );
      schedule.step();
      activation = Math.max(activation, res.activationBytes);
      const loss = await res.losses[0].item();
      res.losses[0].dispose();
      res.gradNorm.dispose();
      losses.push({ step: step + 1, loss });
      o.onStep?.(step + 1, loss, lr);
    }
    await device.sync();
  } catch (e) {
    optimizer.dispose();
    model.dispose();
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const peak = device.memory.peakBytes;
  optimizer.dispose();
  const evalLoss = await evaluateLM(model, evalTokens, o);
  const tail = losses.slice(-Math.max(1, Math.round(losses.length / 10)));
  const metrics: PretrainMetrics = {
    mode,
    config: typeof o.config === "string" ? o.config : "custom",
    steps: o.maxSteps,
    train_loss: losses.reduce((a, l) => a + l.loss, 0) / Math.max(1, losses.length),
    final_loss: tail.reduce((a, l) => a + l.loss, 0) / tail.length,
    eval_loss: evalLoss,
    eval_perplexity: Math.exp(evalLoss),
    peak_bytes: peak,
    activation_bytes: activation,
    tokens_per_second: (o.maxSteps * o.batchSize * o.seqLen) / seconds,
    seconds,
  };
  if (reports) {
    metrics.velora_inputs_freed = reports.flatMap((rep) =>
      rep.inputsHeldElsewhere().map((e) => ({
        name: e.name,
        freed: e.held === null ? null : !e.held,
      }))
    );
  }
  return { metrics, losses, model };
}
