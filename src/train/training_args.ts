/**
 * `TrainingArguments`: the hyperparameters of {@linkcode Trainer}, with Hugging Face
 * `transformers.TrainingArguments` names and defaults (the defaults live here and nowhere else).
 *
 * @module
 */

/** When to evaluate during training (HF `IntervalStrategy`). */
export type EvalStrategy = "no" | "steps" | "epoch";

/** What `new TrainingArguments(...)` accepts: `output_dir` and any subset of the rest. */
export interface TrainingArgumentsInit {
  /** Where checkpoints (`checkpoint-<step>/`) go. */
  output_dir: string;
  /** Epochs (fractions allowed, as HF). Default 3. */
  num_train_epochs?: number;
  /** Optimizer steps of the run when > 0 (overrides epochs). Default -1. */
  max_steps?: number;
  /** Training rows per micro-batch. Default 8. */
  per_device_train_batch_size?: number;
  /** Evaluation rows per batch. Default 8. */
  per_device_eval_batch_size?: number;
  /** Peak AdamW learning rate. Default 5e-5. */
  learning_rate?: number;
  /** AdamW decoupled weight decay. Default 0. */
  weight_decay?: number;
  /** Fraction of the optimizer steps spent in linear warm-up, in [0, 1]. Default 0. */
  warmup_ratio?: number;
  /** Global L2 gradient-norm clip (0 = no clipping). Default 1. */
  max_grad_norm?: number;
  /** Micro-batches per optimizer step. Default 1. */
  gradient_accumulation_steps?: number;
  /**
   * Read the training loss back and log it every N optimizer steps (and the non-finite check's
   * flag with it; nothing is read from the GPU in between). Default 500.
   */
  logging_steps?: number;
  /** Evaluate every `eval_steps` steps ("steps"), at each epoch end ("epoch") or not. Default "no". */
  eval_strategy?: EvalStrategy;
  /** Steps between evaluations with `eval_strategy: "steps"`. Default: `logging_steps`. */
  eval_steps?: number | null;
  /** Write a checkpoint every N optimizer steps (0 = never). Default 500. */
  save_steps?: number;
  /** Checkpoints kept, the newest (null = all). Default null. */
  save_total_limit?: number | null;
  /** Seed of the data order and dropout. Default 42. */
  seed?: number;
  /** Not an HF argument: tokens per example after truncation. Default 128. */
  max_length?: number;
  /** HF `disable_tqdm`: plain log lines instead of a progress bar. Default false. */
  disable_tqdm?: boolean;
}

/** The default of every argument (HF's, except `max_length`, which HF leaves to the tokenizer). */
export const TRAINING_ARGS_DEFAULTS = {
  num_train_epochs: 3,
  max_steps: -1,
  per_device_train_batch_size: 8,
  per_device_eval_batch_size: 8,
  learning_rate: 5e-5,
  weight_decay: 0,
  warmup_ratio: 0,
  max_grad_norm: 1,
  gradient_accumulation_steps: 1,
  logging_steps: 500,
  eval_strategy: "no" as EvalStrategy,
  eval_steps: null as number | null,
  save_steps: 500,
  save_total_limit: null as number | null,
  seed: 42,
  max_length: 128,
  disable_tqdm: false,
};

const POSITIVE_INTS = [
  "per_device_train_batch_size",
  "per_device_eval_batch_size",
  "gradient_accumulation_steps",
  "logging_steps",
  "max_length",
] as const;

/**
 * Resolved, validated training arguments (HF `TrainingArguments`).
 *
 * @example
 * ```ts
 * import { TrainingArguments } from "./mod.ts";
 * const args = new TrainingArguments({ output_dir: "out", learning_rate: 2e-5, eval_strategy: "epoch" });
 * ```
 */
export class TrainingArguments {
  /** Where checkpoints go. */
  output_dir: string;
  /** Epochs. */
  num_train_epochs: number;
  /** Optimizer steps cap (-1 = from epochs). */
  max_steps: number;
  /** Training rows per micro-batch. */
  per_device_train_batch_size: number;
  /** Evaluation rows per batch. */
  per_device_eval_batch_size: number;
  /** Peak learning rate. */
  learning_rate: number;
  /** AdamW weight decay. */
  weight_decay: number;
  /** Warm-up fraction in [0, 1]. */
  warmup_ratio: number;
  /** Gradient-norm clip (0 = none). */
  max_grad_norm: number;
  /** Micro-batches per optimizer step. */
  gradient_accumulation_steps: number;
  /** Loss readback / log interval in optimizer steps. */
  logging_steps: number;
  /** When to evaluate. */
  eval_strategy: EvalStrategy;
  /** Steps between evaluations ("steps" strategy); null = `logging_steps`. */
  eval_steps: number | null;
  /** Checkpoint interval in optimizer steps (0 = never). */
  save_steps: number;
  /** Checkpoints kept (null = all). */
  save_total_limit: number | null;
  /** Data order and dropout seed. */
  seed: number;
  /** Tokens per example after truncation. */
  max_length: number;
  /** No progress bar. */
  disable_tqdm: boolean;

  /**
   * Fills in defaults ({@linkcode TRAINING_ARGS_DEFAULTS}) and checks every value.
   * @throws {Error} naming the argument and value when one is out of range (e.g. `warmup_ratio`
   * outside [0, 1], a batch size that is not a positive integer, an unknown `eval_strategy`).
   */
  constructor(init: TrainingArgumentsInit) {
    const d = TRAINING_ARGS_DEFAULTS;
    this.output_dir = init.output_dir;
    this.num_train_epochs = init.num_train_epochs ?? d.num_train_epochs;
    this.max_steps = init.max_steps ?? d.max_steps;
    this.per_device_train_batch_size = init.per_device_train_batch_size ??
      d.per_device_train_batch_size;
    this.per_device_eval_batch_size = init.per_device_eval_batch_size ??
      d.per_device_eval_batch_size;
    this.learning_rate = init.learning_rate ?? d.learning_rate;
    this.weight_decay = init.weight_decay ?? d.weight_decay;
    this.warmup_ratio = init.warmup_ratio ?? d.warmup_ratio;
    this.max_grad_norm = init.max_grad_norm ?? d.max_grad_norm;
    this.gradient_accumulation_steps = init.gradient_accumulation_steps ??
      d.gradient_accumulation_steps;
    this.logging_steps = init.logging_steps ?? d.logging_steps;
    this.eval_strategy = init.eval_strategy ?? d.eval_strategy;
    this.eval_steps = init.eval_steps ?? d.eval_steps;
    this.save_steps = init.save_steps ?? d.save_steps;
    this.save_total_limit = init.save_total_limit ?? d.save_total_limit;
    this.seed = init.seed ?? d.seed;
    this.max_length = init.max_length ?? d.max_length;
    this.disable_tqdm = init.disable_tqdm ?? d.disable_tqdm;
    this.#validate();
  }

  /** Steps between evaluations under `eval_strategy: "steps"` (HF: eval_steps or logging_steps). */
  get evalInterval(): number {
    return this.eval_steps ?? this.logging_steps;
  }

  #validate(): void {
    const bad = (name: string, want: string, v: unknown): never => {
      throw new Error(`TrainingArguments: ${name} must be ${want}, got ${JSON.stringify(v)}`);
    };
    if (typeof this.output_dir !== "string" || !this.output_dir) {
      bad("output_dir", "a non-empty path", this.output_dir);
    }
    for (const k of POSITIVE_INTS) {
      if (!Number.isInteger(this[k]) || this[k] < 1) bad(k, "a positive integer", this[k]);
    }
    if (!Number.isInteger(this.max_steps) || this.max_steps === 0 || this.max_steps < -1) {
      bad("max_steps", "a positive integer or -1", this.max_steps);
    }
    if (this.max_steps < 0 && !(this.num_train_epochs > 0 && isFinite(this.num_train_epochs))) {
      bad("num_train_epochs", "> 0 (or max_steps set)", this.num_train_epochs);
    }
    if (!(this.learning_rate >= 0 && isFinite(this.learning_rate))) {
      bad("learning_rate", "a finite number ≥ 0", this.learning_rate);
    }
    if (!(this.weight_decay >= 0 && isFinite(this.weight_decay))) {
      bad("weight_decay", "a finite number ≥ 0", this.weight_decay);
    }
    if (!(this.warmup_ratio >= 0 && this.warmup_ratio <= 1)) {
      bad("warmup_ratio", "in [0, 1]", this.warmup_ratio);
    }
    if (!(this.max_grad_norm >= 0 && isFinite(this.max_grad_norm))) {
      bad("max_grad_norm", "a finite number ≥ 0 (0 = no clipping)", this.max_grad_norm);
    }
    if (!["no", "steps", "epoch"].includes(this.eval_strategy)) {
      bad("eval_strategy", `"no", "steps" or "epoch"`, this.eval_strategy);
    }
    if (this.eval_steps !== null && (!Number.isInteger(this.eval_steps) || this.eval_steps < 1)) {
      bad("eval_steps", "a positive integer or null", this.eval_steps);
    }
    if (!Number.isInteger(this.save_steps) || this.save_steps < 0) {
      bad("save_steps", "an integer ≥ 0", this.save_steps);
    }
    if (
      this.save_total_limit !== null &&
      (!Number.isInteger(this.save_total_limit) || this.save_total_limit < 1)
    ) {
      bad("save_total_limit", "a positive integer or null", this.save_total_limit);
    }
    if (!Number.isInteger(this.seed)) bad("seed", "an integer", this.seed);
  }
}
