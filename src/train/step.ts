/**
 * The one training step (forward with labels, backward, global-norm clip, AdamW step, zero_grad),
 * shared by {@linkcode Trainer} and the benchmarks (`bench/lib/step.ts`,
 * `bench/lib/profile_velora.ts`), so what is measured is what trains.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { tidy } from "../tensor/scope.ts";
import { scale } from "../ops/basic.ts";
import type { Module } from "../nn/module.ts";
import type { AdamW } from "../optim/adamw.ts";
import { clipGradNormCoef } from "../optim/clip.ts";
import { NON_FINITE, type TrainingMonitor } from "./monitor.ts";

/** Inputs of an HF-style forward with labels (`BertForSequenceClassification` and friends). */
export interface ModelInputs {
  /** i32 [batch, seq]. */
  input_ids: Tensor;
  /** i32 [batch, seq]. */
  attention_mask?: Tensor | null;
  /** i32 [batch, seq]. */
  token_type_ids?: Tensor | null;
  /** i32 [batch] (classification) or f32 [batch] (regression). */
  labels?: Tensor | null;
}

/** A model the trainer can drive: HF-style forward returning logits and (with labels) a loss. */
export interface TrainableModel extends Module {
  /** Forward; with labels the output carries the mean loss over the batch. */
  forward(inputs: ModelInputs): { logits: Tensor; loss?: Tensor | null };
  /** HF `save_pretrained`. */
  save_pretrained(dir: string): Promise<void>;
}

/** One micro-batch of a step; `dispose` (if given) runs right after its backward. */
export interface MicroBatch extends ModelInputs {
  /** Frees the batch's tensors. */
  dispose?(): void;
}

/** What {@linkcode trainStep} needs besides the data. */
export interface TrainStepContext {
  /** The model, in training mode. */
  model: TrainableModel;
  /** The optimizer over `params`. */
  optimizer: AdamW;
  /** Parameters that get gradients (for the global norm). */
  params: readonly Tensor[];
  /** Global L2 clip norm; 0 (or Infinity) computes the norm without clipping (HF: 0 = off). */
  max_grad_norm: number;
  /**
   * Micro-batches the step's losses are averaged over (HF divides each loss by
   * `gradient_accumulation_steps`). Default: the number of batches given.
   */
  accumulation?: number;
  /**
   * When given, every micro-batch loss is added into its GPU loss sum and the gradient norm and
   * the updated parameters are checked for Inf/NaN on the GPU (no readback).
   */
  monitor?: TrainingMonitor;
}

/** Awaited between the phases of a step (profilers put a GPU wait there); optional. */
export interface TrainStepHooks {
  /** After each micro-batch's forward. */
  afterForward?: () => void | Promise<void>;
  /** After each micro-batch's backward. */
  afterBackward?: () => void | Promise<void>;
}

/** What one step leaves behind (GPU tensors the caller disposes; nothing is read back). */
export interface TrainStepResult {
  /** Each micro-batch's mean loss divided by `accumulation` (f32 []), in order. */
  losses: Tensor[];
  /** ‖g‖₂ over every gradient before clipping, f32 []. */
  gradNorm: Tensor;
  /** Highest `device.memory.byCategory.activation` right after a forward (bytes). */
  activationBytes: number;
}

/**
 * One optimizer step over `batches` (gradient accumulation when there are several): for each
 * micro-batch forward in `tidy` (loss scaled by 1/accumulation), backward, then the global
 * gradient norm and clip coefficient (`clipGradNormCoef`, folded into `AdamW.step` as
 * `gradScale`), the update and `zero_grad`; with a `monitor`, the loss sum and Inf/NaN checks.
 * Queues GPU work only; waits only in `hooks`.
 * @throws {Error} when the model returns no loss (no labels).
 */
export async function trainStep(
  ctx: TrainStepContext,
  batches: Iterable<MicroBatch>,
  hooks: TrainStepHooks = {},
): Promise<TrainStepResult> {
  const list = [...batches];
  const accum = ctx.accumulation ?? list.length;
  const losses: Tensor[] = [];
  let activationBytes = 0;
  let done = 0;
  try {
    for (const batch of list) {
      const loss = tidy(() => {
        const out = ctx.model.forward(batch);
        if (!out.loss) throw new Error("trainStep: the model returned no loss (labels missing?)");
        return (accum > 1 ? scale(out.loss, 1 / accum) : out.loss).keep();
      });
      losses.push(loss);
      ctx.monitor?.addLoss(loss);
      const device = loss.device;
      activationBytes = Math.max(activationBytes, device.memory.byCategory.activation);
      await hooks.afterForward?.();
      loss.backward();
      batch.dispose?.();
      done++;
      await hooks.afterBackward?.();
    }
  } catch (e) {
    for (const b of list.slice(done)) b.dispose?.();
    for (const l of losses) l.dispose();
    ctx.optimizer.zero_grad();
    throw e;
  }
  const maxNorm = ctx.max_grad_norm > 0 ? ctx.max_grad_norm : Infinity;
  const clip = clipGradNormCoef(ctx.params, maxNorm);
  ctx.monitor?.checkFinite(clip.totalNorm, NON_FINITE.gradNorm);
  ctx.optimizer.step({ gradScale: clip.clipCoef });
  clip.clipCoef.dispose();
  ctx.optimizer.zero_grad();
  // A finite norm bounds every gradient, so m and v stay finite too; the weights may still
  // overflow under a huge learning rate, hence their own check.
  ctx.monitor?.checkParameters(ctx.params);
  return { losses, gradNorm: clip.totalNorm, activationBytes };
}
