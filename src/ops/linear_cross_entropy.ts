import { record, willRecord } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import { matmulInto } from "./matmul.ts";
import { accumulate, sumTo } from "./basic.ts";
import {
  crossEntropyBackward,
  crossEntropyMean,
  crossEntropyRows,
  scaleByGradOverCount,
} from "./loss.ts";

/** Options of {@linkcode linearCrossEntropy}. */
export interface LinearCrossEntropyOptions {
  /** Rows with this label add nothing to the loss or the count (PyTorch default -100). */
  ignoreIndex?: number;
  /**
   * Return the logits [..., V]. Default true. With false the logits are never materialised: the
   * forward works on row chunks, so besides what is saved only one chunk of logits (and its
   * gradient) is alive at a time, and `logits` is null.
   */
  returnLogits?: boolean;
  /** Rows per chunk; default ⌊2²² / V⌋ (about 16 MiB of f32 logits), at least 1. */
  chunkRows?: number;
}

/** What {@linkcode linearCrossEntropy} returns. */
export interface LinearCrossEntropyOutput {
  /**
   * The logits [..., V] (no gradient: the loss's graph does not go through them); null with
   * `returnLogits: false`.
   */
  logits: Tensor | null;
  /** Mean cross-entropy, a scalar that records the fused backward. */
  loss: Tensor;
}

/**
 * A linear layer followed by cross-entropy, `F.cross_entropy(F.linear(x, weight, bias), labels,
 * ignore_index)`, that never keeps the logits: when autograd records (grad mode on and x, the
 * weight or the bias requires grad) the forward computes the gradients itself, chunk by chunk of
 * rows, from the logits it makes for the loss, and keeps those instead (the "fused linear
 * cross-entropy" of Liger-Kernel, Hsu et al. 2024, arXiv 2410.10989, §3.3). For a language-model
 * head the logits [tokens, vocab] are the largest tensor a step would save (LLaMA 60M at 256
 * tokens: 31 MiB against 0.5 MiB for dx), and no product is recomputed: the step does the three
 * products of an unfused head (x·Wᵀ, dlogits·W, dlogitsᵀ·x), all in the forward.
 *
 * Shapes: x f32 [..., D], weight f32 [V, D], bias f32 [V] or null, labels i32 [...] (x's leading
 * dims) → logits [..., V] (a plain tensor the caller disposes, or null) and the scalar loss.
 * Loss and gradients are those of `crossEntropy(linear(x, weight, bias), labels)`.
 *
 * Forward per chunk: logits = x·Wᵀ + b, per-row logsumexp and loss, δ = softmax − onehot (0 on
 * ignored rows), dx = δ·W, dW += δᵀ·x, db += Σ δ. Saves (when recording): dx [..., D] (f32,
 * "activation" memory), dW [V, D] and db [V] (counted as "gradient" memory: backward hands these
 * buffers to the parameters, so a step's peak is no higher than the unfused head's) and the count
 * of non-ignored rows. Backward scales them in place by g / count.
 * A forward that records but is never backpropagated (an eval forward with grad on) still pays
 * for the two gradient products: evaluate under `noGrad`.
 *
 * @throws {Error} when a tensor is not f32 (labels i32), weight is not [V, D] for x [..., D],
 * bias is not [V], labels' shape is not x's leading dims (the message names the shapes), or
 * chunkRows is not a positive integer.
 */
export function linearCrossEntropy(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  labels: Tensor,
  options: LinearCrossEntropyOptions = {},
): LinearCrossEntropyOutput {
  const ignore = options.ignoreIndex ?? -100;
  const what = `x ${x.dtype} [${x.shape}], weight ${weight.dtype} [${weight.shape}]`;
  if (x.dtype !== "f32" || weight.dtype !== "f32" || x.ndim < 1 || weight.ndim !== 2) {
    throw new Error(`linearCrossEntropy: ${what} must be f32 [..., D] and [V, D]`);
  }
  const [vocab, inF] = weight.shape;
  if (x.shape[x.ndim - 1] !== inF || vocab === 0) {
    throw new Error(`linearCrossEntropy: ${what} do not match (need [..., D] and [V ≥ 1, D])`);
  }
  if (bias && (bias.dtype !== "f32" || bias.shape.join() !== `${vocab}`)) {
    throw new Error(
      `linearCrossEntropy: bias ${bias.dtype} [${bias.shape}] must be f32 [${vocab}]`,
    );
  }
  if (
    labels.dtype !== "i32" || labels.ndim !== x.ndim - 1 ||
    labels.shape.join() !== x.shape.slice(0, -1).join()
  ) {
    throw new Error(
      `linearCrossEntropy: labels ${labels.dtype} [${labels.shape}] must be i32 with x's ` +
        `leading dims (x [${x.shape}])`,
    );
  }
  if (!Number.isInteger(ignore) || ignore < -(2 ** 31) || ignore >= 2 ** 31) {
    throw new Error(`linearCrossEntropy: ignoreIndex must be a 32-bit integer, got ${ignore}`);
  }
  const chunk = options.chunkRows ?? Math.max(1, Math.floor(2 ** 22 / vocab));
  if (!Number.isSafeInteger(chunk) || chunk < 1) {
    throw new Error(`linearCrossEntropy: chunkRows must be a positive integer, got ${chunk}`);
  }
  const device = x.device;
  const rows = labels.numel;
  /** logits [n, V] (or `shape`) = xs·Wᵀ + b for the n rows of xs. */
  const project = (xs: Tensor, n: number, shape = [n, vocab]) =>
    matmulInto(Tensor.empty(device, shape), xs, weight, { batch: 1, m: n, n: vocab, k: inF }, {
      transB: true,
      bias: bias ?? undefined,
    });
  // record()'s own condition: when it holds, the gradients are computed here, from the logits
  // this forward makes anyway, and backward only scales them.
  const recording = willRecord([x, weight, bias, labels]);
  const dx = recording && x.requiresGrad ? Tensor.empty(device, x.shape) : null;
  // dW and db are the parameters' gradients ahead of time: counted as gradient memory, and
  // backward hands these very buffers to the parameters.
  const dw = recording && weight.requiresGrad
    ? Tensor.empty(device, weight.shape, { category: "gradient" })
    : null;
  const db = recording && bias?.requiresGrad
    ? Tensor.empty(device, bias.shape, { category: "gradient" })
    : null;
  const returnLogits = options.returnLogits ?? true;
  const logits = returnLogits ? project(x, rows, [...x.shape.slice(0, -1), vocab]) : null;
  const stats = Tensor.empty(device, [rows + 1]);
  const rowloss = Tensor.empty(device, [rows]);
  // With the logits returned they are one chunk; otherwise chunks of rows, one alive at a time.
  forChunks(rows, logits ? Math.max(rows, 1) : chunk, (r0, n) => {
    const xs = rowSlice(x, r0, n, inF, rows);
    const ys = rowSlice(labels, r0, n, 1, rows);
    const part = logits ?? project(xs, n);
    const whole = n === rows;
    const st = whole ? stats : Tensor.empty(device, [n + 1]);
    const rl = whole ? rowloss : Tensor.empty(device, [n]);
    crossEntropyRows(part, ys, st, rl, ignore);
    if (dx || dw || db) {
      // Unscaled dlogits = softmax − onehot; backward applies g / count.
      const dl = crossEntropyBackward(part, ys, st, null, ignore);
      if (dx) {
        const dxs = whole ? dx : Tensor.empty(device, [n, inF]);
        matmulInto(dxs, dl, weight, { batch: 1, m: n, n: inF, k: vocab });
        if (!whole) {
          device.copy(dxs, dx, n * inF * 4, 0, r0 * inF * 4);
          dxs.dispose();
        }
      }
      if (dw) {
        matmulInto(dw, dl, xs, { batch: 1, m: vocab, n: inF, k: n }, {
          transA: true,
          accumulate: r0 > 0,
        });
      }
      if (db) {
        const sum = sumTo(dl, [vocab]);
        if (r0 === 0) device.copy(sum, db, vocab * 4);
        else accumulate(db, sum);
        sum.dispose();
      }
      dl.dispose();
    }
    if (!whole) {
      device.copy(st, stats, n * 4, 0, r0 * 4);
      device.copy(rl, rowloss, n * 4, 0, r0 * 4);
      st.dispose();
      rl.dispose();
    }
    if (part !== logits) part.dispose();
    if (xs !== x) xs.dispose();
    if (ys !== labels) ys.dispose();
  });
  const loss = crossEntropyMean(labels, rowloss, stats, ignore);
  rowloss.dispose();
  const out = record(loss, [x, weight, bias, labels], "LinearCrossEntropyBackward", (save) => {
    // The count of non-ignored rows (stats[N]), for the mean's 1/count.
    const count = Tensor.empty(device, [1]);
    device.copy(stats, count, 4, rows * 4, 0);
    const sc = save(count);
    count.dispose();
    const saves = [dx, dw, db].map((t) => t && save(t));
    return (g) =>
      saves.map((s) => {
        if (!s) return null;
        // The saved buffer itself becomes the gradient: released right after this backward.
        scaleByGradOverCount(s.tensor, g, sc.tensor);
        return s.tensor.view();
      }).concat(null);
  });
  stats.dispose();
  for (const t of [dx, dw, db]) t?.dispose();
  return { logits, loss: out };
}

/** Calls `fn(first row, rows)` for consecutive chunks of ≤ `chunk` of `rows` rows (once if 0). */
function forChunks(rows: number, chunk: number, fn: (r0: number, n: number) => void): void {
  if (rows === 0) return fn(0, 0);
  for (let r0 = 0; r0 < rows; r0 += chunk) fn(r0, Math.min(chunk, rows - r0));
}

/** Rows r0..r0+n of t viewed as [rows, width] (t itself when that is all of it, else a copy). */
function rowSlice(t: Tensor, r0: number, n: number, width: number, rows: number): Tensor {
  if (n === rows) return t;
  const out = Tensor.empty(t.device, width === 1 ? [n] : [n, width], { dtype: t.dtype });
  t.device.copy(t, out, n * width * 4, r0 * width * 4, 0);
  return out;
}
