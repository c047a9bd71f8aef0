/**
 * Learning-rate schedules: Hugging Face `get_linear_schedule_with_warmup` and a PyTorch
 * `LambdaLR`-like scheduler that sets the optimizer's lr each step.
 *
 * @module
 */

/** An optimizer whose groups' `lr` a scheduler sets (e.g. `AdamW`). */
export interface SchedulableOptimizer {
  /** Groups whose `lr` is set. */
  param_groups: { lr: number; initial_lr?: number }[];
}

/** Maps a step count to a multiplier of the base learning rate. */
export type LrLambda = (step: number) => number;

/**
 * Hugging Face `get_linear_schedule_with_warmup`'s multiplier: rises linearly from 0 to 1 over
 * `numWarmupSteps`, then falls linearly to 0 at `numTrainingSteps` (and stays 0):
 * step < warmup ? step / max(1, warmup) : max(0, (total − step) / max(1, total − warmup)).
 */
export function getLinearScheduleWithWarmup(
  numWarmupSteps: number,
  numTrainingSteps: number,
): LrLambda {
  return (step) => {
    if (step < numWarmupSteps) return step / Math.max(1, numWarmupSteps);
    return Math.max(0, (numTrainingSteps - step) / Math.max(1, numTrainingSteps - numWarmupSteps));
  };
}

/** HF transformers `get_constant_schedule_with_warmup`'s multiplier. */
export function getConstantScheduleWithWarmup(numWarmupSteps: number): LrLambda {
  return (step) => step < numWarmupSteps ? step / Math.max(1, numWarmupSteps) : 1;
}

/**
 * PyTorch `torch.optim.lr_scheduler.LambdaLR`: lr of group i = initial_lr_i · lambda_i(last_epoch).
 * Construction records each group's `initial_lr` (once) and applies step 0 (as PyTorch does);
 * call `step()` after each `optimizer.step()`.
 */
export class LambdaLR {
  /** Steps taken (`-1` before construction finished, then 0, 1, ...). */
  last_epoch: number;
  /** Each group's initial lr. */
  readonly base_lrs: number[];
  readonly #lambdas: LrLambda[];

  /**
   * A scheduler that sets `optimizer`'s lr now (step 0) and at every `step()`.
   * @param optimizer its groups' lr are set
   * @param lrLambda one multiplier function, or one per group
   * @param last_epoch −1 to start; otherwise every group needs `initial_lr`
   */
  constructor(
    /** The optimizer whose lr is set. */
    readonly optimizer: SchedulableOptimizer,
    lrLambda: LrLambda | LrLambda[],
    last_epoch = -1,
  ) {
    const groups = optimizer.param_groups;
    const lambdas = Array.isArray(lrLambda) ? lrLambda : groups.map(() => lrLambda);
    if (lambdas.length !== groups.length) {
      throw new Error(`LambdaLR: expected ${groups.length} lr_lambdas, got ${lambdas.length}`);
    }
    this.#lambdas = lambdas;
    for (const g of groups) {
      if (last_epoch === -1) g.initial_lr ??= g.lr;
      else if (g.initial_lr === undefined) {
        throw new Error("LambdaLR: param 'initial_lr' is not specified when resuming an optimizer");
      }
    }
    this.base_lrs = groups.map((g) => g.initial_lr!);
    this.last_epoch = last_epoch;
    this.step();
  }

  /** Advances one step and sets every group's lr. */
  step(): void {
    this.last_epoch += 1;
    this.optimizer.param_groups.forEach((g, i) => {
      g.lr = this.base_lrs[i] * this.#lambdas[i](this.last_epoch);
    });
  }

  /** The lr of each group set by the last `step()` (PyTorch `get_last_lr`). */
  get_last_lr(): number[] {
    return this.optimizer.param_groups.map((g) => g.lr);
  }

  /** `{ last_epoch, base_lrs }`, for resuming. */
  state_dict(): { last_epoch: number; base_lrs: number[] } {
    return { last_epoch: this.last_epoch, base_lrs: [...this.base_lrs] };
  }

  /** Restores `state_dict()` output and re-applies the lr of that step. */
  load_state_dict(sd: { last_epoch: number; base_lrs?: number[] }): void {
    if (sd.base_lrs) {
      if (sd.base_lrs.length !== this.base_lrs.length) {
        throw new Error(
          `LambdaLR.load_state_dict: ${sd.base_lrs.length} base lrs for ${this.base_lrs.length} groups`,
        );
      }
      this.base_lrs.splice(0, this.base_lrs.length, ...sd.base_lrs);
    }
    this.last_epoch = sd.last_epoch - 1;
    this.step();
  }
}

/**
 * HF transformers `get_linear_schedule_with_warmup(optimizer, num_warmup_steps,
 * num_training_steps)`: a {@linkcode LambdaLR} with {@linkcode getLinearScheduleWithWarmup}.
 */
export function get_linear_schedule_with_warmup(
  optimizer: SchedulableOptimizer,
  num_warmup_steps: number,
  num_training_steps: number,
  last_epoch = -1,
): LambdaLR {
  return new LambdaLR(
    optimizer,
    getLinearScheduleWithWarmup(num_warmup_steps, num_training_steps),
    last_epoch,
  );
}

/**
 * Hugging Face `get_cosine_with_min_lr_schedule_with_warmup`'s multiplier (with `num_cycles`
 * 0.5): linear warm-up from 0 to 1 over `numWarmupSteps`, then a half cosine from 1 down to
 * `minLrRate` at `numTrainingSteps` (and `minLrRate` after). `minLrRate` 0 is HF
 * `get_cosine_schedule_with_warmup`; the VeLoRA/GaLore LLaMA pre-training runs decay to 0.1.
 */
export function getCosineScheduleWithWarmup(
  numWarmupSteps: number,
  numTrainingSteps: number,
  minLrRate = 0,
): LrLambda {
  return (step) => {
    if (step < numWarmupSteps) return step / Math.max(1, numWarmupSteps);
    const progress = Math.min(
      1,
      (step - numWarmupSteps) / Math.max(1, numTrainingSteps - numWarmupSteps),
    );
    const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
    return minLrRate + (1 - minLrRate) * cosine;
  };
}
