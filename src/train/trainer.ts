import type { Device } from "../runtime/device.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { tidy } from "../tensor/scope.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { scale } from "../ops/basic.ts";
import type { Module } from "../nn/module.ts";
import { AdamW } from "../optim/adamw.ts";
import { clipGradNormCoef } from "../optim/clip.ts";
import { getLinearScheduleWithWarmup, LambdaLR } from "../optim/schedule.ts";
import type { PreTrainedTokenizer } from "../data/auto_tokenizer.ts";
import type { Example } from "../data/types.ts";
import { epochPermutation } from "../data/split.ts";
import { accuracy, argmaxRows, f1Binary } from "./report/metrics.ts";
import { createProgress, type Progress } from "./report/progress.ts";
import { disposeBatch, makeBatch, type TensorBatch } from "./batch.ts";
export type { TrainerState } from "./checkpoint_io.ts";
import {
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
  type TrainerState,
} from "./checkpoint_io.ts";

/** A model the trainer can drive: HF-style forward returning logits and loss. */
export interface TrainableModel extends Module {
  /** Forward with labels → loss. */
  forward(inputs: {
    input_ids: Tensor;
    attention_mask?: Tensor | null;
    token_type_ids?: Tensor | null;
    labels?: Tensor | null;
  }): { logits: Tensor; loss: Tensor | null };
  /** HF `save_pretrained`. */
  save_pretrained(dir: string): Promise<void>;
}

/** HF `TrainingArguments` subset (HF names and defaults unless noted). */
export interface TrainingArguments {
  /** Where checkpoints go. */
  output_dir: string;
  /** Default 3. */
  num_train_epochs?: number;
  /** Stop after this many optimizer steps (overrides epochs when > 0). Default -1. */
  max_steps?: number;
  /** Default 16. */
  per_device_train_batch_size?: number;
  /** Default 64. */
  per_device_eval_batch_size?: number;
  /** Peak learning rate. Default 5e-5. */
  learning_rate?: number;
  /** AdamW decoupled weight decay. Default 0.0 (HF). */
  weight_decay?: number;
  /** Fraction of steps for linear warm-up. Default 0.0. */
  warmup_ratio?: number;
  /** Global gradient-norm clip. Default 1.0. */
  max_grad_norm?: number;
  /** Micro-batches per optimizer step. Default 1. */
  gradient_accumulation_steps?: number;
  /** Data order and dropout seed. Default 42. */
  seed?: number;
  /** Read and log the loss every N optimizer steps (no GPU readback in between). Default 10. */
  logging_steps?: number;
  /** Write a checkpoint every N optimizer steps (0 = never). Default 0. */
  save_steps?: number;
  /** Checkpoints kept. Default 2. */
  save_total_limit?: number;
  /** Tokens per example after truncation. Default 128. */
  max_length?: number;
  /** Evaluate after each epoch ("epoch") or only when asked ("no"). Default "epoch". */
  eval_strategy?: "epoch" | "no";
  /** Show a progress bar. Default true. */
  progress?: boolean;
}

/** Evaluation results (HF `eval_` names). */
export interface EvalMetrics {
  /** Fraction correct. */
  eval_accuracy: number;
  /** Binary F1 of class 1 (binary tasks only). */
  eval_f1?: number;
  /** Mean cross-entropy (classification) or MSE (regression). */
  eval_loss: number;
  /** Examples evaluated. */
  eval_examples: number;
}

/** What {@linkcode Trainer.train} returns. */
export interface TrainOutput {
  /** Optimizer steps done in total (including before a resume). */
  global_step: number;
  /** Mean training loss over every step of the run, resumed steps included (HF `train_loss`). */
  training_loss: number;
  /** Mean loss of the last logging window. */
  final_loss: number;
  /** Every logged point (step, loss). */
  log_history: { step: number; loss: number }[];
  /** Highest `device.memory.liveBytes` during training (bytes). */
  peak_bytes: number;
  /** Highest activation bytes (saved for backward) at the end of a forward (bytes). */
  activation_bytes: number;
  /** Padded tokens per second of training time (tokens/s). */
  tokens_per_second: number;
  /** Wall-clock seconds of this call, evaluation included. */
  seconds: number;
  /** Evaluation after the last epoch, if an eval set was given. */
  eval?: EvalMetrics;
}

/** Everything the trainer needs. */
export interface TrainerInit {
  /** The model (its parameters that require grad are trained). */
  model: TrainableModel;
  /** Hyperparameters. */
  args: TrainingArguments;
  /** Training examples. */
  train_dataset: readonly Example[];
  /** Evaluation examples. */
  eval_dataset?: readonly Example[];
  /** Tokenizer for both. */
  tokenizer: PreTrainedTokenizer;
  /** Regression (num_labels = 1): labels are floats and the loss MSE. */
  regression?: boolean;
  /** Log sink; default console.log. */
  log?: (message: string) => void;
  /**
   * Called after every optimizer step (and after a checkpoint at that step is written); returning
   * true stops training there, like HF `TrainerControl.should_training_stop`.
   */
  on_step_end?: (state: Readonly<TrainerState>) => boolean | void;
}

/** A NaN or infinite loss: training stops, and the last good checkpoint is left untouched. */
export class NonFiniteLossError extends Error {}

/**
 * A small HF `Trainer`: AdamW with linear warm-up and decay, global gradient clipping, gradient
 * accumulation, evaluation each epoch, checkpoints every `save_steps` written atomically, exact
 * resume (`train({ resume_from_checkpoint: true })` continues from the newest checkpoint with the
 * same results as an uninterrupted run), and memory/throughput figures.
 */
export class Trainer {
  /** The model. */
  readonly model: TrainableModel;
  /** Resolved arguments. */
  readonly args: Required<TrainingArguments>;
  /** The optimizer. */
  readonly optimizer: AdamW;
  readonly #init: TrainerInit;
  readonly #log: (message: string) => void;
  readonly #device: Device;

  /** @throws {Error} for invalid arguments or a model without trainable parameters. */
  constructor(init: TrainerInit) {
    this.#init = init;
    this.model = init.model;
    this.#log = init.log ?? ((m) => console.log(m));
    const a = init.args;
    this.args = {
      output_dir: a.output_dir,
      num_train_epochs: a.num_train_epochs ?? 3,
      max_steps: a.max_steps ?? -1,
      per_device_train_batch_size: a.per_device_train_batch_size ?? 16,
      per_device_eval_batch_size: a.per_device_eval_batch_size ?? 64,
      learning_rate: a.learning_rate ?? 5e-5,
      weight_decay: a.weight_decay ?? 0,
      warmup_ratio: a.warmup_ratio ?? 0,
      max_grad_norm: a.max_grad_norm ?? 1,
      gradient_accumulation_steps: a.gradient_accumulation_steps ?? 1,
      seed: a.seed ?? 42,
      logging_steps: a.logging_steps ?? 10,
      save_steps: a.save_steps ?? 0,
      save_total_limit: a.save_total_limit ?? 2,
      max_length: a.max_length ?? 128,
      eval_strategy: a.eval_strategy ?? "epoch",
      progress: a.progress ?? true,
    };
    if (!(this.args.num_train_epochs > 0) && !(this.args.max_steps > 0)) {
      throw new Error(
        `TrainingArguments: num_train_epochs must be > 0 (or max_steps set), got ${this.args.num_train_epochs}`,
      );
    }
    for (
      const k of [
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
        "logging_steps",
        "max_length",
      ] as const
    ) {
      if (!Number.isInteger(this.args[k]) || this.args[k] < 1) {
        throw new Error(`TrainingArguments: ${k} must be a positive integer, got ${this.args[k]}`);
      }
    }
    if (!init.train_dataset.length) throw new Error("Trainer: train_dataset is empty");
    const params = [...this.model.named_parameters()].filter(([, p]) => p.requiresGrad);
    if (!params.length) throw new Error("Trainer: the model has no trainable parameters");
    this.#device = params[0][1].device;
    this.optimizer = new AdamW(params, {
      lr: this.args.learning_rate,
      weight_decay: this.args.weight_decay,
    });
  }

  /** Micro-batches per epoch. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.#init.train_dataset.length / this.args.per_device_train_batch_size);
  }

  /** Optimizer steps of the whole run. */
  get totalSteps(): number {
    if (this.args.max_steps > 0) return this.args.max_steps;
    const perEpoch = Math.ceil(this.batchesPerEpoch / this.args.gradient_accumulation_steps);
    return perEpoch * this.args.num_train_epochs;
  }

  #perm: { epoch: number; order: Uint32Array } | null = null;

  #epochBatch(epoch: number, index: number): Example[] {
    const data = this.#init.train_dataset;
    if (this.#perm?.epoch !== epoch) {
      this.#perm = { epoch, order: epochPermutation(data.length, this.args.seed, epoch) };
    }
    const perm = this.#perm.order;
    const bs = this.args.per_device_train_batch_size;
    return Array.from(
      perm.subarray(index * bs, Math.min((index + 1) * bs, data.length)),
      (i) => data[i],
    );
  }

  #rngStates(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, m] of this.model.named_modules()) {
      const r = m as unknown as { getRngState?: () => unknown };
      if (typeof r.getRngState === "function") out[name] = r.getRngState();
    }
    return out;
  }

  #setRngStates(states: Record<string, unknown>): void {
    for (const [name, m] of this.model.named_modules()) {
      const r = m as unknown as { setRngState?: (s: unknown) => void };
      if (name in states && typeof r.setRngState === "function") r.setRngState(states[name]);
    }
  }

  /**
   * Trains for `num_train_epochs` (or `max_steps`). With `resume_from_checkpoint` (true = newest
   * in output_dir, or a folder), continues exactly where that checkpoint stopped.
   * @throws {NonFiniteLossError} when the loss becomes NaN/Inf (the last good checkpoint stays).
   */
  async train(options: { resume_from_checkpoint?: boolean | string } = {}): Promise<TrainOutput> {
    const start = performance.now();
    const args = this.args;
    const device = this.#device;
    const total = this.totalSteps;
    const accum = args.gradient_accumulation_steps;
    const warmup = Math.round(total * args.warmup_ratio);
    const scheduler = new LambdaLR(this.optimizer, getLinearScheduleWithWarmup(warmup, total));
    let state: TrainerState = {
      global_step: 0,
      epoch: 0,
      step_in_epoch: 0,
      log_history: [],
      rng_states: {},
      scheduler: scheduler.state_dict(),
      tokens_seen: 0,
      train_seconds: 0,
      loss_sum: 0,
      loss_count: 0,
    };
    if (options.resume_from_checkpoint) {
      const path = typeof options.resume_from_checkpoint === "string"
        ? options.resume_from_checkpoint
        : (await listCheckpoints(args.output_dir)).at(-1)?.path;
      if (!path) throw new Error(`--resume: no checkpoint-* folder in ${args.output_dir}`);
      state = await loadCheckpoint(path, this.model, this.optimizer);
      scheduler.load_state_dict(state.scheduler);
      this.#setRngStates(state.rng_states);
      this.#log(`Resuming from ${path} (step ${state.global_step}, epoch ${state.epoch})`);
    }
    this.model.train();
    const params = [...this.model.parameters()].filter((p) => p.requiresGrad);
    const progress: Progress | null = args.progress
      ? createProgress({ total, label: "train" })
      : null;
    device.memory.resetPeak();
    let activationPeak = 0;
    let pending: Tensor[] = [];
    let windowTokens = 0;
    let windowStart = performance.now();
    let micro = 0;
    let lastLoss = NaN;
    let evalMetrics: EvalMetrics | undefined;
    const readLosses = async (): Promise<number> => {
      if (!pending.length) return lastLoss;
      const values = await Promise.all(pending.map((t) => t.item()));
      pending.forEach((t) => t.dispose());
      pending = [];
      const mean = values.reduce((a, b) => a + b, 0) / values.length * accum;
      if (!Number.isFinite(mean)) {
        const ckpts = await listCheckpoints(args.output_dir);
        throw new NonFiniteLossError(
          `the training loss became ${mean} at step ${state.global_step}; stopping. ` +
            (ckpts.length
              ? `The last good checkpoint is ${ckpts.at(-1)!.path}.`
              : "No checkpoint was written yet.") +
            " Try a lower --lr or a smaller --max-grad-norm.",
        );
      }
      lastLoss = mean;
      state.loss_sum = (state.loss_sum ?? 0) + mean * values.length;
      state.loss_count = (state.loss_count ?? 0) + values.length;
      return mean;
    };
    try {
      outer: while (state.global_step < total) {
        const perEpoch = this.batchesPerEpoch;
        while (state.step_in_epoch < perEpoch) {
          const batch: TensorBatch = makeBatch(
            device,
            this.#init.tokenizer,
            this.#epochBatch(state.epoch, state.step_in_epoch),
            {
              maxLength: args.max_length,
              regression: this.#init.regression,
            },
          );
          const loss = tidy(() => {
            const out = this.model.forward(batch);
            if (!out.loss) throw new Error("Trainer: the model returned no loss (labels missing?)");
            return (accum > 1 ? scale(out.loss, 1 / accum) : out.loss).keep();
          });
          activationPeak = Math.max(activationPeak, device.memory.byCategory.activation);
          loss.backward();
          pending.push(loss);
          disposeBatch(batch);
          state.step_in_epoch++;
          state.tokens_seen += batch.tokens;
          windowTokens += batch.tokens;
          micro++;
          const lastOfEpoch = state.step_in_epoch === perEpoch;
          if (micro % accum !== 0 && !lastOfEpoch) continue;
          const clip = clipGradNormCoef(params, args.max_grad_norm);
          this.optimizer.step({ gradScale: clip.clipCoef });
          clip.totalNorm.dispose();
          clip.clipCoef.dispose();
          this.optimizer.zero_grad();
          scheduler.step();
          state.global_step++;
          micro = 0;
          const step = state.global_step;
          const logNow = step % args.logging_steps === 0 || step === total || lastOfEpoch;
          const saveNow = args.save_steps > 0 && step % args.save_steps === 0;
          if (logNow || saveNow) {
            const mean = await readLosses();
            const now = performance.now();
            state.train_seconds += (now - windowStart) / 1000;
            const tps = windowTokens / ((now - windowStart) / 1000);
            windowTokens = 0;
            windowStart = now;
            state.log_history.push({ step, loss: mean });
            if (progress) {
              progress.update(step, { loss: mean, tokensPerSecond: tps, lr: this.optimizer.lr });
            } else {
              this.#log(
                `step ${step}/${total}: loss ${mean.toFixed(4)}, ${tps.toFixed(0)} tokens/s, ` +
                  `lr ${this.optimizer.lr.toExponential(2)}`,
              );
            }
          }
          if (saveNow) {
            state.scheduler = scheduler.state_dict();
            state.rng_states = this.#rngStates();
            const t0 = performance.now();
            const path = await saveCheckpoint(
              args.output_dir,
              state,
              this.model,
              this.optimizer,
              args.save_total_limit,
            );
            windowStart += performance.now() - t0;
            (progress ? (m: string) => progress.log(m) : this.#log)(`saved ${path}`);
          }
          if (step >= total || this.#init.on_step_end?.(state) === true) break outer;
        }
        state.epoch++;
        state.step_in_epoch = 0;
        if (args.eval_strategy === "epoch" && this.#init.eval_dataset?.length) {
          const t0 = performance.now();
          evalMetrics = await this.evaluate();
          windowStart += performance.now() - t0;
          (progress ? (m: string) => progress.log(m) : this.#log)(
            `epoch ${state.epoch}: eval_accuracy ${evalMetrics.eval_accuracy.toFixed(4)}` +
              (evalMetrics.eval_f1 !== undefined
                ? `, eval_f1 ${evalMetrics.eval_f1.toFixed(4)}`
                : "") +
              `, eval_loss ${evalMetrics.eval_loss.toFixed(4)}`,
          );
        }
      }
      await readLosses();
    } finally {
      pending.forEach((t) => t.dispose());
      progress?.stop();
    }
    if (this.#init.eval_dataset?.length && (!evalMetrics || args.eval_strategy === "no")) {
      evalMetrics = await this.evaluate();
    }
    return {
      global_step: state.global_step,
      training_loss: (state.loss_sum ?? NaN) / (state.loss_count || NaN),
      final_loss: lastLoss,
      log_history: state.log_history,
      peak_bytes: device.memory.peakBytes,
      activation_bytes: activationPeak,
      tokens_per_second: state.tokens_seen / Math.max(state.train_seconds, 1e-9),
      seconds: (performance.now() - start) / 1000,
      eval: evalMetrics,
    };
  }

  /** Accuracy (and F1 for two classes) on the eval set, without recording any graph. */
  async evaluate(
    dataset: readonly Example[] = this.#init.eval_dataset ?? [],
  ): Promise<EvalMetrics> {
    const wasTraining = this.model.training;
    this.model.eval();
    const bs = this.args.per_device_eval_batch_size;
    const preds: number[] = [];
    const labels: number[] = [];
    let lossSum = 0;
    try {
      for (let i = 0; i < dataset.length; i += bs) {
        const batch = makeBatch(this.#device, this.#init.tokenizer, dataset.slice(i, i + bs), {
          maxLength: this.args.max_length,
          regression: this.#init.regression,
        });
        const out = noGrad(() =>
          tidy(() => {
            const o = this.model.forward(batch);
            return { logits: o.logits.keep(), loss: o.loss!.keep() };
          })
        );
        const [logits, loss] = await Promise.all([out.logits.toArray(), out.loss.item()]);
        out.logits.dispose();
        out.loss.dispose();
        disposeBatch(batch);
        lossSum += loss * batch.size;
        const cols = logits.length / batch.size;
        const p = cols === 1
          ? Array.from(logits as Float32Array, (v) => Math.round(v))
          : Array.from(argmaxRows(logits as Float32Array, batch.size, cols));
        preds.push(...p);
        labels.push(...batch.labelValues);
      }
    } finally {
      this.model.train(wasTraining);
    }
    const binary = new Set(labels).size <= 2 && !this.#init.regression;
    return {
      eval_accuracy: accuracy(preds, labels),
      ...(binary ? { eval_f1: f1Binary(preds, labels) } : {}),
      eval_loss: lossSum / Math.max(1, dataset.length),
      eval_examples: dataset.length,
    };
  }

  /** Frees the optimizer state. */
  dispose(): void {
    this.optimizer.dispose();
  }
}
