/**
 * The in-page training loop of the browser example: AdamW with linear warm-up and decay and
 * global gradient clipping, as the Trainer does, but reading the loss back after every step (the
 * readback's `await` hands the event loop to the page, so a tab stays responsive) and stoppable
 * between steps. No file system: checkpoints are the page's download button.
 *
 * @module
 */

import {
  AdamW,
  applyVeLoRA,
  type BertForSequenceClassification,
  clipGradNormCoef,
  type Device,
  enableHalfSavedActivations,
  getLinearScheduleWithWarmup,
  LambdaLR,
  MEMORY_CATEGORIES,
  type MemoryCategory,
  noGrad,
  type PreTrainedTokenizer,
  tidy,
} from "../../mod.ts";
import { disposeBatch, makeBatch } from "../../src/train/batch.ts";
import type { Example } from "../../src/data/types.ts";
import { epochPermutation } from "../../src/data/split.ts";
import { VELORA_PRESETS } from "../../src/velora/presets.ts";

/** Training modes offered by the page (those of `deno task finetune` that fit a page). */
export type BrowserMode = "full" | "velora" | "lean";

/** The modes the page lists, with a one-line description. */
export const BROWSER_MODES: Record<BrowserMode, string> = {
  full: "full fine-tuning (every activation kept for backward)",
  velora: "VeLoRA on the six encoder linear types (rank-1 sub-token projections)",
  lean: "VeLoRA + recomputed attention + f16 saved activations (least memory)",
};

/**
 * The attention implementation a mode needs when the model is built (`lean` recomputes attention
 * in backward, as `deno task finetune --mode lean`), else undefined.
 */
export function attnImplementationFor(mode: BrowserMode): string | undefined {
  return mode === "lean" ? "flash_attention_2" : undefined;
}

/** Settings of one run. */
export interface LoopOptions {
  mode: BrowserMode;
  epochs: number;
  /** Stop after this many optimizer steps (0: run every epoch). */
  maxSteps: number;
  batchSize: number;
  maxLength: number;
  /** Peak learning rate. */
  lr: number;
  /** Fraction of the steps spent warming up, in [0, 1]. */
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  /** VeLoRA sub-tokens per token. */
  numGroups: number;
  /**
   * Examples whose mean loss is measured (eval mode, no graph) before the first step and after
   * the last: a steadier "did it learn" than single-batch losses. Default: none.
   */
  probe?: readonly Example[];
}

/** What the page shows after each step. */
export interface StepReport {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  /** Padded tokens per second over the run so far. */
  tokensPerSecond: number;
  /** Live device memory by category, bytes. */
  memory: Record<MemoryCategory, number>;
  /** Highest activation bytes (saved for backward) at the end of a forward. */
  activationPeak: number;
  /** Highest live bytes of the run. */
  peakBytes: number;
  /** Highest bytes of each category during the run. */
  peakMemory: Record<MemoryCategory, number>;
}

/** Result of {@link trainLoop}. */
export interface LoopResult {
  steps: number;
  stopped: boolean;
  firstLoss: number;
  lastLoss: number;
  seconds: number;
  /** Names of the VeLoRA-patched layers (empty in full mode). */
  veloraLayers: string[];
  /** Mean loss over `probe` before training and after it (NaN without a probe). */
  probeBefore: number;
  probeAfter: number;
}

/** Mean loss of `model` over `examples` in eval mode (batches of 32, no graph). */
export async function meanLoss(
  device: Device,
  model: BertForSequenceClassification,
  tokenizer: PreTrainedTokenizer,
  examples: readonly Example[],
  maxLength: number,
): Promise<number> {
  if (examples.length === 0) return NaN;
  const wasTraining = model.training;
  model.eval();
  let sum = 0;
  try {
    for (let i = 0; i < examples.length; i += 32) {
      const batch = makeBatch(device, tokenizer, examples.slice(i, i + 32), { maxLength });
      const loss = noGrad(() => tidy(() => model.forward(batch).loss!.keep()));
      sum += (await loss.item()) * batch.size;
      loss.dispose();
      disposeBatch(batch);
    }
  } finally {
    model.train(wasTraining);
  }
  return sum / examples.length;
}

/**
 * Trains `model` on `examples` (labels are class ids).
 *
 * @param onStep called after every optimizer step with the loss read back
 * @param shouldStop polled between steps; true ends the run after the current step
 * For `lean`, build the model with {@link attnImplementationFor}'s attention implementation.
 *
 * @throws Error when the data set is empty, an option is out of range, or the loss is not finite
 * (naming the step).
 */
export async function trainLoop(
  device: Device,
  model: BertForSequenceClassification,
  tokenizer: PreTrainedTokenizer,
  examples: readonly Example[],
  o: LoopOptions,
  onStep: (r: StepReport) => void,
  shouldStop: () => boolean = () => false,
): Promise<LoopResult> {
  if (examples.length === 0) throw new Error("training set is empty");
  for (const k of ["epochs", "batchSize", "maxLength", "numGroups"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) {
      throw new Error(`option ${k}: expected a positive integer, got ${o[k]}`);
    }
  }
  if (!(o.lr > 0)) throw new Error(`option lr: expected a positive number, got ${o.lr}`);
  if (!(o.warmupRatio >= 0 && o.warmupRatio <= 1)) {
    throw new Error(`option warmupRatio: expected a number in [0, 1], got ${o.warmupRatio}`);
  }
  if (o.mode === "lean") enableHalfSavedActivations(model);
  const veloraLayers = o.mode !== "full"
    ? applyVeLoRA(model, { target_modules: VELORA_PRESETS.all, num_groups: o.numGroups }).layers
      .map(
        (l) => l.name,
      )
    : [];
  const params = [...model.named_parameters()].filter(([, p]) => p.requiresGrad);
  const optimizer = new AdamW(params, { lr: o.lr, weight_decay: o.weightDecay });
  const perEpoch = Math.ceil(examples.length / o.batchSize);
  const total = o.maxSteps > 0 ? Math.min(o.maxSteps, perEpoch * o.epochs) : perEpoch * o.epochs;
  const scheduler = new LambdaLR(
    optimizer,
    getLinearScheduleWithWarmup(Math.round(total * o.warmupRatio), total),
  );
  const probeBefore = o.probe
    ? await meanLoss(device, model, tokenizer, o.probe, o.maxLength)
    : NaN;
  model.train();
  device.memory.resetPeak();
  const start = performance.now();
  let tokens = 0;
  let step = 0;
  let firstLoss = NaN;
  let lastLoss = NaN;
  let activationPeak = 0;
  let stopped = false;
  try {
    outer: for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = epochPermutation(examples.length, o.seed, epoch);
      for (let b = 0; b < perEpoch; b++) {
        if (step >= total) break outer;
        if (shouldStop()) {
          stopped = true;
          break outer;
        }
        const rows = Array.from(
          order.subarray(b * o.batchSize, (b + 1) * o.batchSize),
          (i) => examples[i],
        );
        const batch = makeBatch(device, tokenizer, rows, { maxLength: o.maxLength });
        const loss = tidy(() => model.forward(batch).loss!.keep());
        activationPeak = Math.max(activationPeak, device.memory.byCategory.activation);
        loss.backward();
        disposeBatch(batch);
        const clip = clipGradNormCoef(params, o.maxGradNorm);
        optimizer.step({ gradScale: clip.clipCoef });
        clip.totalNorm.dispose();
        clip.clipCoef.dispose();
        optimizer.zero_grad();
        const lr = optimizer.lr;
        scheduler.step();
        step++;
        tokens += batch.tokens;
        const value = await loss.item(); // the page gets the event loop while the GPU works
        loss.dispose();
        if (!Number.isFinite(value)) {
          throw new Error(`loss is ${value} at step ${step}: lower the learning rate`);
        }
        if (step === 1) firstLoss = value;
        lastLoss = value;
        const memory = Object.fromEntries(
          MEMORY_CATEGORIES.map((c) => [c, device.memory.byCategory[c]]),
        ) as Record<MemoryCategory, number>;
        onStep({
          step,
          totalSteps: total,
          epoch,
          loss: value,
          lr,
          tokensPerSecond: tokens / ((performance.now() - start) / 1000),
          memory,
          activationPeak,
          peakBytes: device.memory.peakBytes,
          peakMemory: { ...device.memory.peakByCategory },
        });
        // A macrotask between steps, so input events and painting run even when the GPU is idle.
        await new Promise((r) => setTimeout(r, 0));
      }
    }
  } finally {
    optimizer.dispose();
    model.eval();
  }
  const probeAfter = o.probe ? await meanLoss(device, model, tokenizer, o.probe, o.maxLength) : NaN;
  return {
    probeBefore,
    probeAfter,
    steps: step,
    stopped,
    firstLoss,
    lastLoss,
    seconds: (performance.now() - start) / 1000,
    veloraLayers,
  };
}

/**
 * Classifies texts with `model` (eval mode, no graph).
 *
 * @returns per text: the label (from `config.id2label`, else the id) and the softmax scores
 */
export async function classifyTexts(
  device: Device,
  model: BertForSequenceClassification,
  tokenizer: PreTrainedTokenizer,
  texts: string[],
  maxLength: number,
): Promise<{ label: string; score: number; scores: number[] }[]> {
  const batch = makeBatch(device, tokenizer, texts.map((text) => ({ text, label: 0 })), {
    maxLength,
  });
  const logits = noGrad(() => tidy(() => model.forward(batch).logits.keep()));
  const values = await logits.toArray() as Float32Array;
  logits.dispose();
  disposeBatch(batch);
  const cols = values.length / texts.length;
  const id2label = model.config.id2label as Record<number, string>;
  return texts.map((_, r) => {
    const row = Array.from(values.subarray(r * cols, (r + 1) * cols));
    const max = Math.max(...row);
    const exps = row.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    const scores = exps.map((e) => e / sum);
    const best = scores.indexOf(Math.max(...scores));
    return { label: id2label?.[best] ?? String(best), score: scores[best], scores };
  });
}
