/**
 * The losses of HF's task heads, shared by every model family (HF `problem_type` rules).
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { reshape } from "../ops/basic.ts";
import { toFloat } from "../ops/mask.ts";
import { crossEntropy, mseLoss } from "../ops/loss.ts";

/**
 * HF `*ForSequenceClassification` loss: num_labels == 1 → MSE against f32 (or i32) targets
 * (regression); otherwise the mean cross-entropy of i32 class ids (single_label_classification).
 * Shapes: logits [batch, num_labels], labels [batch] → scalar.
 * @throws {Error} naming `owner` when labels have the wrong size or dtype.
 */
export function sequenceClassificationLoss(
  logits: Tensor,
  labels: Tensor,
  owner: string,
): Tensor {
  const [batch, numLabels] = logits.shape;
  if (labels.numel !== batch) {
    throw new Error(`${owner}: labels ${labels} must have ${batch} elements`);
  }
  if (numLabels === 1) {
    const target = labels.dtype === "i32" ? toFloat(labels) : labels;
    return mseLoss(reshape(logits, [batch]), reshape(target, [batch]));
  }
  if (labels.dtype !== "i32") {
    throw new Error(`${owner}: classification labels must be i32, got ${labels}`);
  }
  return crossEntropy(logits, reshape(labels, [batch]));
}

/**
 * HF `*ForMaskedLM` loss: mean cross-entropy over the positions whose label is not -100.
 * Shapes: logits [batch, seq, vocab], labels i32 [batch, seq] → scalar.
 * @throws {Error} naming `owner` when labels are not i32 [batch, seq].
 */
export function maskedLMLoss(logits: Tensor, labels: Tensor, owner: string): Tensor {
  const [batch, seq, vocab] = logits.shape;
  if (labels.dtype !== "i32" || labels.shape.join() !== [batch, seq].join()) {
    throw new Error(`${owner}: labels ${labels} must be i32 [${batch}, ${seq}]`);
  }
  return crossEntropy(reshape(logits, [batch * seq, vocab]), reshape(labels, [batch * seq]));
}
