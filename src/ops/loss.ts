import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import body from "../../kernels/loss.wgsl" with { type: "text" };
import rowReduce from "../../kernels/row_reduce.wgsl" with { type: "text" };

import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { sumAll } from "./reduce.ts";

/** The kernel with the shared grid indexing and workgroup reductions prepended. */
const code = GRID_WGSL + rowReduce + body;
const K = defineKernels("loss.wgsl", code, {
  ce_rows: {
    bindings: ["logits", "labels", "stats", "rowloss"],
    uniforms: ["n", "cols", "ignore"],
  },
  ce_mean: { bindings: ["mlabels", "mrowloss", "mstats", "mout"], uniforms: ["n", "ignore"] },
  ce_backward: {
    bindings: ["logits", "labels", "bstats", "bg", "bdx"],
    uniforms: ["n", "cols", "ignore"],
  },
  ce_delta: { bindings: ["logits", "labels", "bstats", "bdx"], uniforms: ["n", "cols", "ignore"] },
  ce_scale: { bindings: ["sbuf", "sgs", "scount"], uniforms: ["n"] },
  mse_diff: { bindings: ["pred", "tgt", "diff"], uniforms: ["n"] },
  mse_backward: { bindings: ["sd", "sg", "sout"], uniforms: ["n", "alpha"] },
});

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /** Rows with this label add nothing to the loss or the count (PyTorch default -100). */
  ignoreIndex?: number;
}

/**
 * Cross-entropy with mean reduction, PyTorch `F.cross_entropy(logits, labels,
 * ignore_index=-100)`: mean over rows whose label ≠ ignoreIndex of `logsumexp(logits[r]) −
 * logits[r, label]` (numerically stable log-softmax).
 *
 * Shapes: logits f32 [N, C] (or [..., C]), labels i32 [N] (or [...], logits' leading dims) → a
 * scalar []. If every row is ignored the loss is NaN (PyTorch's 0/0) and the gradient is zero.
 * Labels are not validated on the CPU (that needs a readback): a label outside [0, C) that is
 * not ignoreIndex makes the loss NaN and its gradient row NaN.
 *
 * Saves (when recording): logits [N, C], labels [N] and stats [N + 1] (per-row logsumexp, then
 * the count of non-ignored rows).
 * Backward: dlogits = g · (softmax(logits) − onehot(label)) / count, zero on ignored rows.
 *
 * @throws {Error} when logits is not f32 with ≥ 1 dim and C ≥ 1, labels is not i32, or labels' shape is not
 * logits' leading dims (the message names both shapes).
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const ignore = options.ignoreIndex ?? -100;
  if (logits.dtype !== "f32" || logits.ndim === 0) {
    throw new Error(
      `crossEntropy: logits must be f32 [N, C], got ${logits.dtype} [${logits.shape}]`,
    );
  }
  if (labels.dtype !== "i32") {
    throw new Error(`crossEntropy: labels must be i32, got ${labels.dtype} [${labels.shape}]`);
  }
  if (labels.shape.join() !== logits.shape.slice(0, -1).join() || labels.ndim !== logits.ndim - 1) {
    throw new Error(
      `crossEntropy: labels [${labels.shape}] must be logits' leading dims (logits [${logits.shape}])`,
    );
  }
  if (logits.shape[logits.ndim - 1] === 0) {
    throw new Error(`crossEntropy: logits [${logits.shape}] have no classes (C = 0)`);
  }
  if (!Number.isInteger(ignore) || ignore < -(2 ** 31) || ignore >= 2 ** 31) {
    throw new Error(`crossEntropy: ignoreIndex must be a 32-bit integer, got ${ignore}`);
  }
  const { loss, stats } = crossEntropyForward(logits, labels, ignore);
  const result = record(loss, [logits, labels], "CrossEntropyBackward", (save) => {
    const sl = save(logits);
    const sy = save(labels);
    const ss = save(stats);
    return (g) => [crossEntropyBackward(sl.tensor, sy.tensor, ss.tensor, g, ignore), null];
  });
  stats.dispose();
  return result;
}

/**
 * @internal The cross-entropy forward without autograd: loss [] and stats [N + 1] (per-row
 * logsumexp, then the count of non-ignored rows). Shapes as {@linkcode crossEntropy}, unchecked.
 */
export function crossEntropyForward(
  logits: Tensor,
  labels: Tensor,
  ignore: number,
): { loss: Tensor; stats: Tensor } {
  const device = logits.device;
  const rows = labels.numel;
  const stats = Tensor.empty(device, [rows + 1]);
  const rowloss = Tensor.empty(device, [rows]);
  crossEntropyRows(logits, labels, stats, rowloss, ignore);
  const loss = crossEntropyMean(labels, rowloss, stats, ignore);
  rowloss.dispose();
  return { loss, stats };
}

/**
 * @internal Per-row pass: stats[r] = logsumexp(logits[r]), rowloss[r] = its loss (0 when
 * ignored) for the N = labels.numel rows of logits [N, C]; stats and rowloss hold ≥ N values.
 */
export function crossEntropyRows(
  logits: Tensor,
  labels: Tensor,
  stats: Tensor,
  rowloss: Tensor,
  ignore: number,
): void {
  const rows = labels.numel;
  if (rows === 0) return;
  K.ce_rows.launch(logits.device, {
    bindings: { logits, labels, stats, rowloss },
    uniforms: { n: rows, cols: logits.shape[logits.ndim - 1], ignore: ignore >>> 0 },
    workgroups: grid1d(rows, 1),
  });
}

/**
 * @internal The mean over the N = labels.numel row losses: returns the scalar loss and writes the
 * count of non-ignored rows into stats[N]. With N = 0: count 0 and a NaN loss (PyTorch's mean
 * over an empty batch).
 */
export function crossEntropyMean(
  labels: Tensor,
  rowloss: Tensor,
  stats: Tensor,
  ignore: number,
): Tensor {
  const loss = Tensor.empty(labels.device, []);
  K.ce_mean.launch(labels.device, {
    bindings: { mlabels: labels, mrowloss: rowloss, mstats: stats, mout: loss },
    uniforms: { n: labels.numel, ignore: ignore >>> 0 },
    workgroups: [1],
  });
  return loss;
}

/**
 * @internal dlogits = g · (softmax(logits) − onehot(label)) / count (zero on ignored rows) from
 * the stats of {@linkcode crossEntropyForward}; a new tensor of logits' shape. With g null, the
 * unscaled softmax − onehot (NaN rows for an out-of-range label), which needs only the per-row
 * logsumexp in stats[0..N) (the fused linear cross-entropy applies g / count later).
 */
export function crossEntropyBackward(
  logits: Tensor,
  labels: Tensor,
  stats: Tensor,
  g: Tensor | null,
  ignore: number,
): Tensor {
  const device = logits.device;
  const dx = Tensor.empty(device, logits.shape);
  const n = logits.numel;
  if (n > 0) {
    const uniforms = { n, cols: logits.shape[logits.ndim - 1], ignore: ignore >>> 0 };
    const workgroups = grid1d(n);
    if (g) {
      K.ce_backward.launch(device, {
        bindings: { logits, labels, bstats: stats, bg: g, bdx: dx },
        uniforms,
        workgroups,
      });
    } else {
      K.ce_delta.launch(device, {
        bindings: { logits, labels, bstats: stats, bdx: dx },
        uniforms,
        workgroups,
      });
    }
  }
  return dx;
}

/**
 * @internal In place, t ·= g[0] / count[0], or 0 when count is 0 (every row ignored): the
 * mean's 1/count and the upstream gradient, applied to gradients computed from
 * {@linkcode crossEntropyBackward} without g. g and count are one-element f32 tensors.
 */
export function scaleByGradOverCount(t: Tensor, g: Tensor, count: Tensor): void {
  if (t.numel === 0) return;
  K.ce_scale.launch(t.device, {
    bindings: { sbuf: t, sgs: g, scount: count },
    uniforms: { n: t.numel },
    workgroups: grid1d(t.numel),
  });
}

/**
 * Mean squared error, PyTorch `F.mse_loss(pred, target)` (mean reduction): mean((pred − target)²).
 *
 * Shapes: pred f32 [...] and target f32 of the same shape → a scalar []. (HF regression heads
 * squeeze logits [B, 1] to [B] first.) An empty input gives NaN, like PyTorch.
 *
 * Saves (when recording): d = pred − target (same shape; one tensor instead of both inputs).
 * Backward: dpred = 2·g·d / n, dtarget = −dpred.
 *
 * @throws {Error} when either tensor is not f32 or the shapes differ (the message names both).
 */
export function mseLoss(pred: Tensor, target: Tensor): Tensor {
  if (pred.dtype !== "f32" || target.dtype !== "f32") {
    throw new Error(
      `mseLoss: pred and target must be f32, got ${pred.dtype} [${pred.shape}] and ${target.dtype} [${target.shape}]`,
    );
  }
  if (pred.shape.join() !== target.shape.join() || pred.ndim !== target.ndim) {
    throw new Error(`mseLoss: pred [${pred.shape}] and target [${target.shape}] differ in shape`);
  }
  const device = pred.device;
  const n = pred.numel;
  const d = Tensor.empty(device, pred.shape);
  if (n > 0) {
    K.mse_diff.launch(device, {
      bindings: { pred, tgt: target, diff: d },
      uniforms: { n },
      workgroups: grid1d(n),
    });
  }
  const out = sumAll(d, n > 0 ? 1 / n : NaN, true);
  const result = record(out, [pred, target], "MseLossBackward", (save) => {
    const sd = save(d);
    const grad = (g: Tensor, alpha: number) => {
      const o = Tensor.empty(device, pred.shape);
      if (n > 0) {
        K.mse_backward.launch(device, {
          bindings: { sd: sd.tensor, sg: g, sout: o },
          uniforms: { n, alpha },
          workgroups: grid1d(n),
        });
      }
      return o;
    };
    return (g) => [
      pred.requiresGrad ? grad(g, 2 / n) : null,
      target.requiresGrad ? grad(g, -2 / n) : null,
    ];
  });
  d.dispose();
  return result;
}
