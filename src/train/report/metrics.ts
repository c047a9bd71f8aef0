/**
 * Classification metrics for evaluation batches, computed on the CPU from logits read back from
 * the GPU. Semantics follow scikit-learn (`accuracy_score`, `f1_score(average="binary",
 * zero_division=0)`) and NumPy (`argmax` picks the first maximum; a NaN wins).
 *
 * @module
 */

function checkSameLength(preds: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (preds.length !== labels.length) {
    throw new RangeError(
      `preds and labels differ in length: ${preds.length} vs ${labels.length}`,
    );
  }
}

function checkMatrix(logits: Float32Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`rows must be an integer >= 0 and cols >= 1, got ${rows}×${cols}`);
  }
  if (logits.length !== rows * cols) {
    throw new RangeError(
      `logits has ${logits.length} elements, expected rows × cols = ${rows}×${cols} = ${
        rows * cols
      }`,
    );
  }
}

/**
 * Fraction of positions where `preds[i] === labels[i]` (scikit-learn `accuracy_score`).
 *
 * @param preds Predicted class ids, one per example.
 * @param labels True class ids, same length as `preds`.
 * @returns Accuracy in [0, 1] (a fraction, not a percentage); `NaN` for empty inputs.
 * @throws {RangeError} When the lengths differ.
 */
export function accuracy(preds: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkSameLength(preds, labels);
  if (preds.length === 0) return NaN;
  let correct = 0;
  for (let i = 0; i < preds.length; i++) if (preds[i] === labels[i]) correct++;
  return correct / preds.length;
}

/** Counts of a binary confusion matrix for one positive class. */
export interface BinaryCounts {
  /** Predicted positive and labelled positive. */
  tp: number;
  /** Predicted positive, labelled otherwise. */
  fp: number;
  /** Predicted otherwise, labelled positive. */
  fn: number;
  /** Neither predicted nor labelled positive. */
  tn: number;
}

/**
 * Binary confusion counts treating `positive` as the positive class and every other value as
 * negative.
 *
 * @param preds Predicted class ids.
 * @param labels True class ids, same length as `preds`.
 * @param positive The class id counted as positive (default 1).
 * @throws {RangeError} When the lengths differ.
 */
export function binaryCounts(
  preds: ArrayLike<number>,
  labels: ArrayLike<number>,
  positive = 1,
): BinaryCounts {
  checkSameLength(preds, labels);
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (let i = 0; i < preds.length; i++) {
    const p = preds[i] === positive;
    const l = labels[i] === positive;
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
    else tn++;
  }
  return { tp, fp, fn, tn };
}

/**
 * Binary F1 score of class `positive`: `2·tp / (2·tp + fp + fn)`, as scikit-learn
 * `f1_score(labels, preds, average="binary", pos_label=positive, zero_division=0)`.
 * When the score is undefined (no positive predicted and none labelled, including empty inputs)
 * it is 0.
 *
 * @param preds Predicted class ids.
 * @param labels True class ids, same length as `preds`.
 * @param positive The class id counted as positive (default 1).
 * @returns F1 in [0, 1].
 * @throws {RangeError} When the lengths differ.
 */
export function f1Binary(
  preds: ArrayLike<number>,
  labels: ArrayLike<number>,
  positive = 1,
): number {
  const { tp, fp, fn } = binaryCounts(preds, labels, positive);
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom;
}

/**
 * Index of the largest value in each row of a row-major `[rows, cols]` matrix (NumPy
 * `argmax(axis=-1)`: ties go to the first index, and the first NaN in a row wins).
 *
 * @param logits Row-major values, `rows × cols` elements (e.g. classifier logits).
 * @param rows Number of rows (examples).
 * @param cols Number of columns (classes), at least 1.
 * @returns One column index per row.
 * @throws {RangeError} When `logits.length !== rows * cols`.
 */
export function argmaxRows(logits: Float32Array, rows: number, cols: number): Int32Array {
  checkMatrix(logits, rows, cols);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = 0;
    let bestValue = logits[base];
    if (!Number.isNaN(bestValue)) {
      for (let c = 1; c < cols; c++) {
        const v = logits[base + c];
        if (Number.isNaN(v)) {
          best = c;
          break;
        }
        if (v > bestValue) {
          best = c;
          bestValue = v;
        }
      }
    }
    out[r] = best;
  }
  return out;
}

/**
 * Softmax of each row of a row-major `[rows, cols]` matrix, computed in f64 with the row maximum
 * subtracted (stable for large logits). Rows containing NaN give NaN; a row of all `-Infinity`
 * gives NaN (as PyTorch).
 *
 * @param logits Row-major values, `rows × cols` elements.
 * @param rows Number of rows (examples).
 * @param cols Number of columns (classes), at least 1.
 * @returns A new array of probabilities; each row sums to 1.
 * @throws {RangeError} When `logits.length !== rows * cols`.
 */
export function softmaxRows(logits: Float32Array, rows: number, cols: number): Float32Array {
  checkMatrix(logits, rows, cols);
  const out = new Float32Array(rows * cols);
  const tmp = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, logits[base + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      tmp[c] = Math.exp(logits[base + c] - max);
      sum += tmp[c];
    }
    for (let c = 0; c < cols; c++) out[base + c] = tmp[c] / sum;
  }
  return out;
}
