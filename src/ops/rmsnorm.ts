import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import body from "../../kernels/rmsnorm.wgsl" with { type: "text" };
import rowReduce from "../../kernels/row_reduce.wgsl" with { type: "text" };
import normParams from "../../kernels/norm_params.wgsl" with { type: "text" };
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { elementReader, enableFor, type ReadKind, readKind } from "../runtime/half_read.ts";
import { rowThreads } from "../runtime/launch.ts";
import { chunkedColumnSums } from "./column_chunks.ts";

/**
 * The kernels with the shared grid indexing, parameters and workgroup reductions prepended, and
 * the backward's x (`bx`, `px`) declared for how it is kept: f32, or an f16 save read as halves
 * (packed u32 words, or `array<f16>` with shader-f16), so backward needs no f32 copy of it.
 */
function declare(kind: ReadKind) {
  const code = enableFor(kind) + GRID_WGSL + normParams + rowReduce +
    elementReader(kind, "bx", 1, "ldBX") + elementReader(kind, "px", 1, "ldPX") + body;
  return defineKernels(`rmsnorm${kind === "f32" ? "" : `_${kind}`}.wgsl`, code, {
    forward: {
      bindings: ["x", "weight", "y", "rstd"],
      uniforms: ["rows", "cols", "eps"],
      constants: ["WG"],
    },
    backward_input: {
      bindings: ["bx", "bweight", "brstd", "bdy", "bdx"],
      uniforms: ["rows", "cols"],
      constants: ["WG"],
    },
    backward_params: {
      bindings: ["px", "prstd", "pdy", "pdw"],
      uniforms: ["rows", "cols", "chunk"],
    },
  });
}
const KERNELS = Object.freeze({
  f32: declare("f32"),
  f16: declare("f16"),
  f16native: declare("f16native"),
});
const K = KERNELS.f32;

/**
 * Root-mean-square normalisation over the last axis, as HF `LlamaRMSNorm` (Zhang & Sennrich
 * 2019): `y = weight · (x · rsqrt(mean(x²) + eps))`, computed in f32.
 *
 * Shapes: x [..., C] (C ≥ 1), weight [C] → y [..., C]. One workgroup per row.
 *
 * Saves (when recording): x [..., C] and rstd [rows] (1/√(mean(x²) + eps)), plus weight [C]
 * when x requires grad (a parameter: not counted as activation memory).
 * Backward: dx = rstd · (ĝ − x̂ · mean(ĝ · x̂)) with x̂ = x · rstd, ĝ = dy · weight;
 * dweight = Σ_rows dy · x̂ (fixed summation order, deterministic).
 *
 * @throws {Error} when a tensor is not f32, x is a scalar or has C = 0, or weight is not [C]
 * (the message names the shapes).
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  for (const [what, t] of [["x", x], ["weight", weight]] as const) {
    if (t.dtype !== "f32") {
      throw new Error(`rmsNorm: ${what} must be f32, got ${t.dtype} [${t.shape}]`);
    }
  }
  if (x.ndim === 0 || x.shape[x.ndim - 1] === 0) {
    throw new Error(`rmsNorm: x must be [..., C] with C ≥ 1, got [${x.shape}]`);
  }
  const cols = x.shape[x.ndim - 1];
  if (weight.shape.join() !== `${cols}`) {
    throw new Error(`rmsNorm: weight [${weight.shape}] must be [${cols}] for x [${x.shape}]`);
  }
  const device = x.device;
  const rows = x.numel / cols;
  const y = Tensor.empty(device, x.shape);
  const rstd = Tensor.empty(device, [rows]);
  const wg = rowThreads(cols);
  if (rows > 0) {
    K.forward.launch(device, {
      bindings: { x, weight, y, rstd },
      uniforms: { rows, cols, eps },
      constants: { WG: wg },
      workgroups: grid1d(rows, 1),
    });
  }
  const out = record(y, [x, weight], "RMSNormBackward", (save) => {
    const sx = save(x, { half: true });
    const sr = save(rstd);
    const sw = x.requiresGrad ? save(weight) : null;
    return (g) => {
      // An f16 save is read as halves (no f32 copy of x).
      const xs = sx.kept;
      const KB = KERNELS[readKind(device, xs.dtype)];
      let dx: Tensor | null = null;
      if (sw) {
        dx = Tensor.empty(device, x.shape);
        if (rows > 0) {
          KB.backward_input.launch(device, {
            bindings: { bx: xs, bweight: sw.tensor, brstd: sr.tensor, bdy: g, bdx: dx },
            uniforms: { rows, cols },
            constants: { WG: wg },
            workgroups: grid1d(rows, 1),
          });
        }
      }
      if (!weight.requiresGrad) return [dx, null];
      return [dx, weightGrad(KB, xs, sr.tensor, g, rows, cols)];
    };
  });
  rstd.dispose();
  return out;
}

/** dweight [C]: per-chunk partial column sums of dy · x̂, then a column sum over the chunks. */
function weightGrad(
  KB: typeof K,
  x: Tensor,
  rstd: Tensor,
  g: Tensor,
  rows: number,
  cols: number,
): Tensor {
  return chunkedColumnSums(x.device, rows, cols, 1, ([pdw], chunk, workgroups) => {
    KB.backward_params.launch(x.device, {
      bindings: { px: x, prstd: rstd, pdy: g, pdw },
      uniforms: { rows, cols, chunk },
      workgroups,
    });
  })[0];
}
