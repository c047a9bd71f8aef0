/**
 * `Trainer`: Hugging Face `transformers.Trainer` for sequence classification on WebGPU.
 *
 * @module
 */
import type { Device } from "../runtime/device.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { tidy } from "../tensor/scope.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { AdamW } from "../optim/adamw.ts";
import { getLinearScheduleWithWarmup, LambdaLR } from "../optim/schedule.ts";
import type { PreTrainedTokenizer } from "../data/auto_tokenizer.ts";
import type { Example } from "../data/types.ts";
import { epochPermutation } from "../data/split.ts";
import { accuracy, argmaxRows, f1Binary } from "./report/metrics.ts";
import { createProgress, type Progress } from "./report/progress.ts";
import { disposeBatch, makeBatch } from "./batch.ts";
import { type MicroBatch, type TrainableModel, trainStep } from "./step.ts";
import { TrainingArguments, type TrainingArgumentsInit } from "./training_args.ts";
import { describeFlags, TrainingMonitor } from "./monitor.ts";
import { ensureWritableDir } from "../util/write_atomic.ts";
import {
  listCheckpoints,
  loadCheckpoint,
  type LogEntry,
  removeStaleTemporaries,
  saveCheckpoint,
  type TrainerState,
} from "./checkpoint_io.ts";
export type { LogEntry, TrainerState } from "./checkpoint_io.ts";
export type { TrainableModel } from "./step.ts";

/** Evaluation results (HF `eval_` names): `eval_loss` plus what `compute_metrics` returns. */
export interface EvalMetrics {
  /** Mean cross-entropy (classification) or MSE (regression) over the eval set. */
  eval_loss: number;
  /** Examples evaluated. */
  eval_examples: number;
  /** `eval_<name>` for each metric of `compute_metrics` (default: accuracy, F1 when binary). */
  [metric: `eval_${string}`]: number;
}

/** HF `EvalPrediction`: what `compute_metrics` receives. */
export interface EvalPrediction {
  /** Logits, row-major [examples, num_labels]. */
  predictions: Float32Array;
  /** Labels, one per example (class ids, or targets for regression). */
  label_ids: number[];
  /** num_labels (columns of `predictions`). */
  num_labels: number;
}

/** HF `compute_metrics`: metric name (without `eval_`) → value. */
export type ComputeMetrics = (p: EvalPrediction) => Record<string, number>;

/**
 * The default `compute_metrics`: accuracy (predicted class = argmax) and binary F1 of class 1
 * when the labels have at most two values; for one column (regression) MSE, Pearson r and the
 * accuracy of the rounded prediction.
 */
export function classificationMetrics(p: EvalPrediction): Record<string, number> {
  const rows = p.label_ids.length;
  if (p.num_labels === 1) {
    // Regression (HF run_glue.py's STS-B metrics): MSE and Pearson r; accuracy of the rounded
    // prediction is kept so every run reports eval_accuracy.
    const x = p.predictions;
    const y = p.label_ids;
    let mse = 0, mx = 0, my = 0;
    for (let i = 0; i < rows; i++) {
      mse += (x[i] - y[i]) ** 2;
      mx += x[i];
      my += y[i];
    }
    mx /= rows;
    my /= rows;
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < rows; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) ** 2;
      syy += (y[i] - my) ** 2;
    }
    return {
      accuracy: accuracy(Array.from(x, Math.round), y.map(Math.round)),
      mse: mse / rows,
      pearson: sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN,
    };
  }
  const preds = p.num_labels === 1
    ? Array.from(p.predictions, (v) => Math.round(v))
    : Array.from(argmaxRows(p.predictions, rows, p.num_labels));
  const out: Record<string, number> = { accuracy: accuracy(preds, p.label_ids) };
  if (p.num_labels > 1 && new Set(p.label_ids).size <= 2) out.f1 = f1Binary(preds, p.label_ids);
  return out;
}

/** What {@linkcode Trainer.train} returns. */
export interface TrainOutput {
  /** Optimizer steps done in total (including before a resume). */
  global_step: number;
  /** Mean training loss over every step of the run, resumed steps included (HF `train_loss`). */
  training_loss: number;
  /** Mean loss of the last logging window. */
  final_loss: number;
  /** HF `trainer_state.json` `log_history`: one entry per logging step and per evaluation. */
  log_history: LogEntry[];
  /** Highest `device.memory.liveBytes` during training (bytes). */
  peak_bytes: number;
  /** Highest activation bytes (saved for backward) at the end of a forward (bytes). */
  activation_bytes: number;
  /** Padded tokens per second of training time (tokens/s). */
  tokens_per_second: number;
  /** Wall-clock seconds of this call, evaluation included. */
  seconds: number;
  /** Evaluation of the final model (what training leaves), when there is an eval set. */
  eval?: EvalMetrics;
}

/** Everything the trainer needs (HF `Trainer(...)` keyword names). */
export interface TrainerInit {
  /** The model (its parameters that require grad are trained). */
  model: TrainableModel;
  /** Hyperparameters (a `TrainingArguments` or what its constructor takes). */
  args: TrainingArguments | TrainingArgumentsInit;
  /** Training examples. */
  train_dataset: readonly Example[];
  /** Evaluation examples. */
  eval_dataset?: readonly Example[];
  /** Tokenizer for both. */
  tokenizer: PreTrainedTokenizer;
  /** Metrics of an evaluation; default {@linkcode classificationMetrics}. */
  compute_metrics?: ComputeMetrics;
  /** Regression (num_labels = 1): labels are floats and the loss MSE. */
  regression?: boolean;
  /** Log sink; default console.log. */
  log?: (message: string) => void;
  /**
   * Called after every optimizer step, the last one included (after a checkpoint at that step is
   * written); returning true stops training there, like HF `TrainerControl.should_training_stop`.
   */
  on_step_end?: (state: Readonly<TrainerState>) => boolean | void;
}

/**
 * Training diverged: a loss, the gradient norm or a parameter became Inf or NaN (checked on the
 * GPU every step, read every `logging_steps` and before every checkpoint); training stops and
 * the message names the newest checkpoint known to be finite.
 */
export class NonFiniteLossError extends Error {}

/**
 * HF `Trainer`: AdamW with linear warm-up and decay, global gradient clipping, gradient
 * accumulation, evaluation (`eval_strategy` "epoch" evaluates every epoch end, the last one
 * too), checkpoints every `save_steps` written atomically, exact resume
 * (`train({ resume_from_checkpoint: true })` continues from the newest checkpoint with the same
 * results as an uninterrupted run), and memory/throughput figures.
 */
export class Trainer {
  /** The model. */
  readonly model: TrainableModel;
  /** Resolved arguments. */
  readonly args: TrainingArguments;
  /** The optimizer. */
  readonly optimizer: AdamW;
  readonly #init: TrainerInit;
  readonly #log: (message: string) => void;
  readonly #device: Device;
  readonly #params: Tensor[];
  #progress: Progress | null = null;

  /**
   * A trainer over `init.model`'s trainable parameters (AdamW with `args.learning_rate` and
   * `args.weight_decay`).
   * @throws {Error} for invalid arguments, an empty train set or nothing to train.
   */
  constructor(init: TrainerInit) {
    this.#init = init;
    this.model = init.model;
    this.#log = init.log ?? ((m) => console.log(m));
    this.args = init.args instanceof TrainingArguments
      ? init.args
      : new TrainingArguments(init.args);
    if (!init.train_dataset.length) throw new Error("Trainer: train_dataset is empty");
    const named = [...this.model.named_parameters()].filter(([, p]) => p.requiresGrad);
    if (!named.length) throw new Error("Trainer: the model has no trainable parameters");
    this.#params = named.map(([, p]) => p);
    this.#checkFits();
    this.#device = named[0][1].device;
    this.optimizer = new AdamW(named, {
      lr: this.args.learning_rate,
      weight_decay: this.args.weight_decay,
    });
  }

  /**
   * What would otherwise fail mid-run (or in the final eval, losing the model): sequences longer
   * than the model's position table, and a tokenizer whose ids exceed the model's vocabulary.
   */
  #checkFits(): void {
    const config = (this.model as { config?: Record<string, unknown> }).config;
    if (!config) return;
    const positions = config.max_position_embeddings;
    if (typeof positions === "number") {
      // RoBERTa's positions start after pad_token_id (HF create_position_ids_from_input_ids).
      const offset = config.model_type === "roberta" ? Number(config.pad_token_id ?? 1) + 1 : 0;
      const limit = positions - offset;
      if (this.args.max_length > limit) {
        throw new Error(
          `max_length (--max-length) ${this.args.max_length} exceeds the model's ` +
            `max_position_embeddings ${positions}` +
            (offset ? ` (${limit} usable positions for model_type "roberta")` : "") +
            `: use at most ${limit}`,
        );
      }
    }
    const vocab = config.vocab_size;
    const tokens = this.#init.tokenizer.vocab_size;
    if (typeof vocab === "number" && tokens > vocab) {
      throw new Error(
        `the tokenizer has ${tokens} tokens but the model's vocab_size is ${vocab}: ids ≥ ${vocab} ` +
          "have no embedding (a tokenizer from another model?)",
      );
    }
  }

  /** Micro-batches per epoch. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.#init.train_dataset.length / this.args.per_device_train_batch_size);
  }

  /** Optimizer steps per epoch (the last one of an epoch may take fewer micro-batches). */
  get stepsPerEpoch(): number {
    return Math.ceil(this.batchesPerEpoch / this.args.gradient_accumulation_steps);
  }

  /** Optimizer steps of the whole run. */
  get totalSteps(): number {
    if (this.args.max_steps > 0) return this.args.max_steps;
    return Math.max(1, Math.ceil(this.stepsPerEpoch * this.args.num_train_epochs));
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

  #say(message: string): void {
    if (this.#progress) this.#progress.log(message);
    else this.#log(message);
  }

  /** The micro-batches of the next optimizer step, tokenized and uploaded lazily. */
  *#microBatches(state: TrainerState, count: number): Generator<MicroBatch & { tokens: number }> {
    for (let i = 0; i < count; i++) {
      const batch = makeBatch(
        this.#device,
        this.#init.tokenizer,
        this.#epochBatch(state.epoch, state.step_in_epoch + i),
        { maxLength: this.args.max_length, regression: this.#init.regression },
      );
      yield { ...batch, dispose: () => disposeBatch(batch) };
    }
  }

  /**
   * Trains for `num_train_epochs` (or `max_steps`). With `resume_from_checkpoint` (true = newest
   * in output_dir, or a folder), continues exactly where that checkpoint stopped.
   * @throws {NonFiniteLossError} when training diverges (the checkpoints written stay good).
   */
  async train(options: { resume_from_checkpoint?: boolean | string } = {}): Promise<TrainOutput> {
    const start = performance.now();
    const args = this.args;
    const device = this.#device;
    const total = this.totalSteps;
    const accum = args.gradient_accumulation_steps;
    const warmup = Math.ceil(total * args.warmup_ratio);
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
    if (args.save_steps > 0) await ensureWritableDir(args.output_dir, "output_dir");
    for (const stale of await removeStaleTemporaries(args.output_dir)) {
      this.#log(`removed ${stale}, left by a run killed while saving`);
    }
    let resumedFrom: string | null = null;
    if (options.resume_from_checkpoint) {
      const path = typeof options.resume_from_checkpoint === "string"
        ? options.resume_from_checkpoint
        : (await listCheckpoints(args.output_dir)).at(-1)?.path;
      if (!path) throw new Error(`--resume: no checkpoint-* folder in ${args.output_dir}`);
      state = await loadCheckpoint(path, this.model, this.optimizer);
      if (state.step_in_epoch > this.batchesPerEpoch) {
        throw new Error(
          `${path}: cannot resume: trainer_state.json is at batch ${state.step_in_epoch} of an ` +
            `epoch, but this train_dataset has ${this.batchesPerEpoch} batches per epoch ` +
            "(a different data set or batch size?)",
        );
      }
      resumedFrom = path;
      scheduler.load_state_dict(state.scheduler);
      this.#setRngStates(state.rng_states);
      this.#log(`Resuming from ${path} (step ${state.global_step}, epoch ${state.epoch})`);
    }
    this.model.train();
    this.#progress = args.disable_tqdm
      ? null
      : createProgress({ total, label: "train", initial: state.global_step });
    device.memory.resetPeak();
    let activationPeak = 0;
    const monitor = new TrainingMonitor(device);
    let pendingMicro = 0; // micro-batch losses summed on the GPU since the last readback
    let windowTokens = 0;
    let windowStart = performance.now();
    let lastLoss = NaN;
    let evalMetrics: EvalMetrics | undefined;
    let evaluatedAt = -1;
    let checkedStep = state.global_step; // the monitor was clear up to this step
    // The newest checkpoint known to hold finite weights: one this run wrote after a clear
    // check, or the one it resumed from (scanned on load).
    let lastGood: string | null = resumedFrom;
    const perEpoch = this.batchesPerEpoch;
    const readLosses = async (): Promise<number> => {
      if (!pendingMicro) return lastLoss;
      const { flags, lossSum } = await monitor.read();
      monitor.resetLoss();
      const mean = lossSum / pendingMicro * accum;
      if (flags !== 0 || !Number.isFinite(mean)) {
        throw new NonFiniteLossError(
          `training diverged: ${describeFlags(flags) || "the loss"} became Inf or NaN between ` +
            `step ${checkedStep + 1} and step ${state.global_step} (the mean loss of those steps ` +
            `reads ${mean}); stopping. ` +
            (lastGood
              ? `The last good checkpoint is ${lastGood}.`
              : "No checkpoint with finite weights was written by this run.") +
            " Try a lower --learning_rate or a smaller --max_grad_norm.",
        );
      }
      checkedStep = state.global_step;
      lastLoss = mean;
      state.loss_sum = (state.loss_sum ?? 0) + mean * pendingMicro;
      state.loss_count = (state.loss_count ?? 0) + pendingMicro;
      pendingMicro = 0;
      return mean;
    };
    const runEval = async () => {
      const t0 = performance.now();
      evalMetrics = await this.evaluate();
      evaluatedAt = state.global_step;
      windowStart += performance.now() - t0;
      state.log_history.push({
        ...evalMetrics,
        step: state.global_step,
        epoch: state.epoch + state.step_in_epoch / perEpoch,
      });
      this.#say(
        `step ${state.global_step} (epoch ${
          (state.epoch + state.step_in_epoch / perEpoch)
            .toFixed(2)
        }): ` + formatMetrics(evalMetrics),
      );
    };
    const hasEval = Boolean(this.#init.eval_dataset?.length);
    try {
      while (state.global_step < total) {
        const count = Math.min(accum, perEpoch - state.step_in_epoch);
        let tokens = 0;
        const batches = [...this.#microBatches(state, count)];
        for (const b of batches) tokens += b.tokens;
        const result = await trainStep({
          model: this.model,
          optimizer: this.optimizer,
          params: this.#params,
          max_grad_norm: args.max_grad_norm,
          accumulation: accum,
          monitor,
        }, batches);
        result.gradNorm.dispose();
        result.losses.forEach((l) => l.dispose());
        pendingMicro += result.losses.length;
        activationPeak = Math.max(activationPeak, result.activationBytes);
        scheduler.step();
        state.step_in_epoch += count;
        state.tokens_seen += tokens;
        windowTokens += tokens;
        state.global_step++;
        const step = state.global_step;
        const epochEnd = state.step_in_epoch >= perEpoch;
        const last = step >= total;
        const logNow = step % args.logging_steps === 0 || last || epochEnd;
        const saveNow = args.save_steps > 0 && step % args.save_steps === 0;
        if (logNow || saveNow) {
          const lr = this.optimizer.lr;
          const mean = await readLosses();
          const now = performance.now();
          state.train_seconds += (now - windowStart) / 1000;
          const tps = windowTokens / ((now - windowStart) / 1000);
          windowTokens = 0;
          windowStart = now;
          state.log_history.push({
            step,
            epoch: state.epoch + state.step_in_epoch / perEpoch,
            loss: mean,
            learning_rate: lr,
          });
          if (this.#progress) {
            this.#progress.update(step, { loss: mean, tokensPerSecond: tps, lr });
          } else {
            this.#log(
              `step ${step}/${total}: loss ${mean.toFixed(4)}, ${tps.toFixed(0)} tokens/s, ` +
                `lr ${lr.toExponential(2)}`,
            );
          }
        }
        if (epochEnd) {
          state.epoch++;
          state.step_in_epoch = 0;
        }
        const evalNow = hasEval && (
          (args.eval_strategy === "epoch" && epochEnd) ||
          (args.eval_strategy === "steps" && step % args.evalInterval === 0)
        );
        if (evalNow) await runEval();
        if (saveNow) {
          // readLosses() above has just found weights and optimizer state finite.
          state.scheduler = scheduler.state_dict();
          state.rng_states = this.#rngStates();
          const t0 = performance.now();
          const path = await saveCheckpoint(
            args.output_dir,
            state,
            this.model,
            this.optimizer,
            args.save_total_limit ?? Infinity,
            this.#init.tokenizer,
          );
          windowStart += performance.now() - t0;
          lastGood = path;
          this.#say(`saved ${path}`);
        }
        if (this.#init.on_step_end?.(state) === true) break;
      }
      await readLosses();
    } finally {
      monitor.dispose();
      this.#progress?.stop();
      this.#progress = null;
    }
    // The reported evaluation is that of the model training leaves (the one that is saved).
    if (hasEval && evaluatedAt !== state.global_step) await runEval();
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

  /**
   * HF `evaluate()`: `eval_loss` and the `compute_metrics` results (prefixed `eval_`) of the model
   * as it is now on `dataset` (default: the eval set), without recording any graph.
   */
  async evaluate(
    dataset: readonly Example[] = this.#init.eval_dataset ?? [],
  ): Promise<EvalMetrics> {
    const wasTraining = this.model.training;
    this.model.eval();
    const bs = this.args.per_device_eval_batch_size;
    const logits: Float32Array[] = [];
    const labels: number[] = [];
    let lossSum = 0;
    let cols = 1;
    const batches = Math.ceil(dataset.length / bs);
    const t0 = performance.now();
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
        const [l, loss] = await Promise.all([out.logits.toArray(), out.loss.item()]);
        out.logits.dispose();
        out.loss.dispose();
        disposeBatch(batch);
        lossSum += loss * batch.size;
        cols = l.length / batch.size;
        logits.push(l as Float32Array);
        labels.push(...batch.labelValues);
        const done = i / bs + 1;
        if (batches > 1 && (done === batches || done % Math.ceil(batches / 4) === 0)) {
          this.#say(
            `eval ${done}/${batches} batches (${
              Math.min(i + bs, dataset.length)
            }/${dataset.length} ` +
              `examples, ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
          );
        }
      }
    } finally {
      this.model.train(wasTraining);
    }
    const predictions = new Float32Array(labels.length * cols);
    let off = 0;
    for (const l of logits) {
      predictions.set(l, off);
      off += l.length;
    }
    const metrics = (this.#init.compute_metrics ?? classificationMetrics)({
      predictions,
      label_ids: labels,
      num_labels: cols,
    });
    const out: EvalMetrics = {
      eval_loss: lossSum / Math.max(1, dataset.length),
      eval_examples: dataset.length,
    };
    for (const [k, v] of Object.entries(metrics)) out[`eval_${k.replace(/^eval_/, "")}`] = v;
    return out;
  }

  /** Frees the optimizer state. */
  dispose(): void {
    this.optimizer.dispose();
  }
}

/** `eval_accuracy 0.9123, eval_f1 0.8800, eval_loss 0.2345` (eval_examples left out). */
export function formatMetrics(m: EvalMetrics): string {
  return Object.entries(m)
    .filter(([k]) => k !== "eval_examples")
    .map(([k, v]) => `${k} ${(v as number).toFixed(4)}`)
    .join(", ");
}
