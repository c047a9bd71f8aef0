import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import body from "../../kernels/softmax.wgsl" with { type: "text" };
import rowReduce from "../../kernels/row_reduce.wgsl" with { type: "text" };

import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { rowThreads } from "../runtime/launch.ts";

/** The kernel with the shared grid indexing and workgroup reductions prepended. */
const code = GRID_WGSL + rowReduce + body;
const K = defineKernels("softmax.wgsl", code, {
  forward: {
    bindings: ["x", "mask", "y"],
    uniforms: ["rows", "cols", "rows_per_mask", "scale", "queries", "offset"],
    constants: ["WG"],
  },
  backward: {
    bindings: ["by", "bdy", "bdx"],
    uniforms: ["rows", "cols", "scale"],
    constants: ["WG"],
  },
});

/** Options of {@linkcode softmax}. */
export interface SoftmaxOptions {
  /** Multiplies x before the mask is added (e.g. 1/√d for attention scores). Default 1. */
  scale?: number;
  /**
   * Causal masking as HF decoders: with x [..., Sq, Sk], query row q (0-based within its
   * block of `queries` rows) may attend to keys k ≤ q + (Sk − Sq) only (later keys count as
   * masked, -FLT_MAX). Default false.
   */
  causal?: boolean;
  /**
   * Rows per causal block (default x.shape[-2]): with grouped-query attention, scores
   * [B, Hkv, n_rep·Sq, Sk] hold n_rep blocks of Sq query rows each, so pass Sq.
   */
  queries?: number;
}

/**
 * Softmax over the last axis of `scale · x + mask`, as HF BERT's attention probabilities
 * (`softmax(scores / √d + extended_attention_mask)`).
 *
 * Shapes: x [..., S] → y [..., S]. With `causal`, keys after each query row's position are
 * masked as well (HF decoders' causal mask; see {@linkcode SoftmaxOptions.causal}). `mask` (optional, f32, additive, gets no gradient) is either
 * [B, S] or [B, 1, …, 1, S] (x's rank) with B = x.shape[0]: mask row b applies to every row of
 * x[b] (for scores [B, H, Sq, Sk] that is HF's [B, 1, 1, Sk] broadcast over heads and queries).
 * Mask values are 0 or very negative (e.g. torch.finfo(float32).min = -3.4028e38, or -inf);
 * `scale · x + mask` is clamped to ≥ -3.4028e38, so overflow never yields -inf or NaN, and a row
 * whose every position is masked comes out uniform (1/S), like PyTorch with a finfo.min mask
 * (PyTorch gives NaN for an all -inf row; this op gives 1/S there too).
 *
 * Saves (when recording): the output y [..., S] (not x, not the mask).
 * Backward: dx = scale · y ⊙ (dy − Σ_last dy ⊙ y).
 *
 * @throws {Error} when x or mask is not f32, x is a scalar, or the mask shape does not fit x
 * (the message names both shapes).
 */
export function softmax(x: Tensor, mask?: Tensor | null, options: SoftmaxOptions = {}): Tensor {
  const scale = options.scale ?? 1;
  if (x.dtype !== "f32") throw new Error(`softmax: x must be f32, got ${x.dtype} [${x.shape}]`);
  if (x.ndim === 0) throw new Error(`softmax: x must have ≥ 1 dim, got [${x.shape}]`);
  const cols = x.shape[x.ndim - 1];
  const rows = cols === 0 ? 0 : x.numel / cols;
  let queries = 0;
  let offset = 0;
  if (options.causal) {
    queries = options.queries ?? (x.ndim >= 2 ? x.shape[x.ndim - 2] : 0);
    if (!Number.isInteger(queries) || queries < 1 || queries > cols || rows % queries !== 0) {
      throw new Error(
        `softmax: causal queries ${queries} must divide the ${rows} rows of x [${x.shape}] and ` +
          `not exceed its ${cols} keys`,
      );
    }
    offset = cols - queries;
  }
  let rowsPerMask = 0;
  if (mask) {
    if (mask.dtype !== "f32") {
      throw new Error(`softmax: mask must be f32, got ${mask.dtype} [${mask.shape}]`);
    }
    const b = x.ndim >= 2 ? x.shape[0] : 0;
    const m = mask.shape;
    const ok = x.ndim >= 2 && m.length >= 2 && m[0] === b && m[m.length - 1] === cols &&
      (m.length === 2 || (m.length === x.ndim && m.slice(1, -1).every((d) => d === 1)));
    if (!ok) {
      throw new Error(
        `softmax: mask [${m}] does not broadcast to x [${x.shape}] (expected [${b}, ${cols}] or ` +
          `[${b}, ${Array(Math.max(0, x.ndim - 2)).fill(1).join(", ")}${
            x.ndim > 2 ? ", " : ""
          }${cols}])`,
      );
    }
    rowsPerMask = b === 0 ? 0 : rows / b;
  }
  const device = x.device;
  const y = Tensor.empty(device, x.shape);
  if (rows > 0) {
    K.forward.launch(device, {
      bindings: { x, mask: mask && rowsPerMask > 0 ? mask : null, y },
      uniforms: { rows, cols, rows_per_mask: rowsPerMask, scale, queries, offset },
      constants: { WG: rowThreads(cols) },
      workgroups: grid1d(rows, 1),
    });
  }
  return record(y, [x, mask ?? null], "SoftmaxBackward", (save) => {
    const sy = save(y);
    return (g) => {
      const dx = Tensor.empty(device, x.shape);
      if (rows > 0) {
        K.backward.launch(device, {
          bindings: { by: sy.tensor, bdy: g, bdx: dx },
          uniforms: { rows, cols, scale },
          constants: { WG: rowThreads(cols) },
          workgroups: grid1d(rows, 1),
        });
      }
      return [dx, null];
    };
  });
}
