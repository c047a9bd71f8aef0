import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import { matmulInto } from "./matmul.ts";
import { accumulate, sumTo } from "./basic.ts";
import {
  crossEntropyBackward,
  crossEntropyForward,
  crossEntropyMean,
  crossEntropyRows,
} from "./loss.ts";

/** Options of {@linkcode linearCrossEntropy}. */
export interface LinearCrossEntropyOptions {
  /** Rows with this label add nothing to the loss or the count (PyTorch default -100). */
  ignoreIndex?: number;
  /**
   * Return the logits [..., V]. Default true. With false the logits are never materialised: the
   * forward and the backward both work on row chunks, so besides what is saved only one chunk of
   * logits (and its gradient) is alive at a time, and `logits` is null.
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
 * ignore_index)`, that keeps the inputs of the linear layer instead of the logits: backward
 * recomputes the logits from x and the weight, chunk by chunk of rows (the "fused linear
 * cross-entropy" of Liger-Kernel, Hsu et al. 2024, arXiv 2410.10989). For a language-model head
 * the logits [tokens, vocab] are the largest tensor a step saves (LLaMA 60M at 256 tokens: 31 MiB
 * against 0.5 MiB for x); the price is one more x·Wᵀ product in backward.
 *
 * Shapes: x f32 [..., D], weight f32 [V, D], bias f32 [V] or null, labels i32 [...] (x's leading
 * dims) → logits [..., V] (a plain tensor the caller disposes, or null) and the scalar loss.
 * Loss and gradients are those of `crossEntropy(linear(x, weight, bias), labels)`.
 *
 * Saves (when recording): x (f32: the logits are recomputed from it, so it is never rounded),
 * labels, per-row logsumexp and the count [N + 1]; the weight (a parameter) is referenced.
 * Backward per chunk of rows: logits = x·Wᵀ + b again, dlogits = g · (softmax − onehot) / count,
 * then dx = dlogits·W, dW += dlogitsᵀ·x, db += Σ dlogits.
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
  const project = (xs: Tensor, w: Tensor, n: number, shape = [n, vocab]) =>
    matmulInto(Tensor.empty(device, shape), xs, w, { batch: 1, m: n, n: vocab, k: inF }, {
      transB: true,
      bias: bias ?? undefined,
    });
  let logits: Tensor | null = null;
  let loss: Tensor;
  let stats: Tensor;
  if (options.returnLogits ?? true) {
    logits = project(x, weight, rows, [...x.shape.slice(0, -1), vocab]);
    ({ loss, stats } = crossEntropyForward(logits, labels, ignore));
  } else {
    stats = Tensor.empty(device, [rows + 1]);
    const rowloss = Tensor.empty(device, [rows]);
    forChunks(rows, chunk, (r0, n) => {
      const xs = rowSlice(x, r0, n, inF, rows);
      const ys = rowSlice(labels, r0, n, 1, rows);
      const part = project(xs, weight, n);
      if (n === rows) crossEntropyRows(part, ys, stats, rowloss, ignore);
      else {
        const ps = Tensor.empty(device, [n + 1]);
        const pl = Tensor.empty(device, [n]);
        crossEntropyRows(part, ys, ps, pl, ignore);
        device.copy(ps, stats, n * 4, 0, r0 * 4);
        device.copy(pl, rowloss, n * 4, 0, r0 * 4);
        ps.dispose();
        pl.dispose();
      }
      part.dispose();
      if (xs !== x) xs.dispose();
      if (ys !== labels) ys.dispose();
    });
    loss = crossEntropyMean(labels, rowloss, stats, ignore);
    rowloss.dispose();
  }
  const out = record(loss, [x, weight, bias, labels], "LinearCrossEntropyBackward", (save) => {
    const sx = save(x);
    const sw = save(weight);
    const sy = save(labels);
    const ss = save(stats);
    return (g) => {
      const xAll = sx.tensor;
      const w = sw.tensor;
      const dx = x.requiresGrad ? Tensor.empty(device, x.shape) : null;
      const dw = weight.requiresGrad ? Tensor.empty(device, weight.shape) : null;
      const db = bias?.requiresGrad ? Tensor.empty(device, bias.shape) : null;
      forChunks(rows, chunk, (r0, n) => {
        const xs = rowSlice(xAll, r0, n, inF, rows);
        const ys = rowSlice(sy.tensor, r0, n, 1, rows);
        // This chunk's logsumexp rows, then the count the kernel reads at index n.
        let st = ss.tensor;
        if (n !== rows) {
          st = Tensor.empty(device, [n + 1]);
          device.copy(ss.tensor, st, n * 4, r0 * 4, 0);
          device.copy(ss.tensor, st, 4, rows * 4, n * 4);
        }
        const part = project(xs, w, n);
        const dl = crossEntropyBackward(part, ys, st, g, ignore);
        part.dispose();
        const d = { batch: 1, m: n, n: vocab, k: inF };
        if (dx) {
          const dxs = n === rows ? dx : Tensor.empty(device, [n, inF]);
          matmulInto(dxs, dl, w, { batch: 1, m: n, n: inF, k: vocab });
          if (n !== rows) {
            device.copy(dxs, dx, n * inF * 4, 0, r0 * inF * 4);
            dxs.dispose();
          }
        }
        if (dw) {
          matmulInto(dw, dl, xs, { batch: 1, m: d.n, n: d.k, k: d.m }, {
            transA: true,
            accumulate: r0 > 0,
          });
        }
        if (db) {
          const part = sumTo(dl, [vocab]);
          if (r0 === 0) device.copy(part, db, vocab * 4);
          else accumulate(db, part);
          part.dispose();
        }
        dl.dispose();
        for (const t of [xs, ys, st]) {
          if (t !== xAll && t !== sy.tensor && t !== ss.tensor) t.dispose();
        }
      });
      return [dx, dw, db, null];
    };
  });
  stats.dispose();
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
