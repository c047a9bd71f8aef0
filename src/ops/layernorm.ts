import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import body from "../../kernels/layernorm.wgsl" with { type: "text" };
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
  return defineKernels(`layernorm${kind === "f32" ? "" : `_${kind}`}.wgsl`, code, {
    forward: {
      bindings: ["x", "weight", "bias", "y", "stats"],
      uniforms: ["rows", "cols", "eps"],
      constants: ["WG"],
    },
    backward_input: {
      bindings: ["bx", "bweight", "bstats", "bdy", "bdx"],
      uniforms: ["rows", "cols"],
      constants: ["WG"],
    },
    backward_params: {
      bindings: ["px", "pstats", "pdy", "pdw", "pdb"],
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

function checkF32(t: Tensor, what: string): void {
  if (t.dtype !== "f32") {
    throw new Error(`layerNorm: ${what} must be f32, got ${t.dtype} [${t.shape}]`);
  }
}

/**
 * Layer normalisation over the last axis, as PyTorch `F.layer_norm` / HF `nn.LayerNorm`:
 * `y = (x − mean) / sqrt(var + eps) · weight + bias` with the biased variance (÷C).
 *
 * Shapes: x [..., C] (C ≥ 1), weight [C], bias [C] → y [..., C]. One workgroup per row.
 *
 * Saves (when recording): x [..., C], stats [rows, 2] (per row: mean, rstd = 1/sqrt(var + eps)),
 * and weight [C] when x requires grad (a parameter: not counted as activation memory).
 * Backward gives dx, dweight = Σ_rows dy·x̂ and dbias = Σ_rows dy (column sums in a fixed order:
 * deterministic, no atomics).
 *
 * @throws {Error} when a tensor is not f32, x is a scalar or has C = 0, or weight / bias are not
 * [C] (the message names the shapes).
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-12): Tensor {
  checkF32(x, "x");
  checkF32(weight, "weight");
  checkF32(bias, "bias");
  if (x.ndim === 0 || x.shape[x.ndim - 1] === 0) {
    throw new Error(`layerNorm: x must be [..., C] with C ≥ 1, got [${x.shape}]`);
  }
  const cols = x.shape[x.ndim - 1];
  if (weight.shape.join() !== `${cols}` || bias.shape.join() !== `${cols}`) {
    throw new Error(
      `layerNorm: weight [${weight.shape}] and bias [${bias.shape}] must be [${cols}] for x [${x.shape}]`,
    );
  }
  const device = x.device;
  const rows = x.numel / cols;
  const y = Tensor.empty(device, x.shape);
  const stats = Tensor.empty(device, [rows, 2]);
  if (rows > 0) {
    K.forward.launch(device, {
      bindings: { x, weight, bias, y, stats },
      uniforms: { rows, cols, eps },
      constants: { WG: rowThreads(cols) },
      workgroups: grid1d(rows, 1),
    });
  }
  const out = record(y, [x, weight, bias], "LayerNormBackward", (save) => {
    const sx = save(x, { half: true });
    const ss = save(stats);
    const sw = x.requiresGrad ? save(weight) : null;
    return (g) => {
      // An f16 save is read as halves (no f32 copy of x).
      const xs = sx.kept;
      const KB = KERNELS[readKind(device, xs.dtype)];
      const st = ss.tensor;
      let dx: Tensor | null = null;
      if (sw) {
        dx = Tensor.empty(device, x.shape);
        if (rows > 0) {
          KB.backward_input.launch(device, {
            bindings: { bx: xs, bweight: sw.tensor, bstats: st, bdy: g, bdx: dx },
            uniforms: { rows, cols },
            constants: { WG: rowThreads(cols) },
            workgroups: grid1d(rows, 1),
          });
        }
      }
      if (!weight.requiresGrad && !bias.requiresGrad) return [dx, null, null];
      // Unwanted results are freed by the engine's tidy.
      const [dw, db] = paramGrads(KB, xs, st, g, rows, cols);
      return [dx, weight.requiresGrad ? dw : null, bias.requiresGrad ? db : null];
    };
  });
  stats.dispose();
  return out;
}

/** dweight, dbias [C]: per-chunk partial column sums, then a column sum over the chunks. */
function paramGrads(
  KB: typeof K,
  x: Tensor,
  stats: Tensor,
  g: Tensor,
  rows: number,
  cols: number,
): Tensor[] {
  return chunkedColumnSums(x.device, rows, cols, 2, ([pdw, pdb], chunk, workgroups) => {
    KB.backward_params.launch(x.device, {
      bindings: { px: x, pstats: stats, pdy: g, pdw, pdb },
      uniforms: { rows, cols, chunk },
      workgroups,
    });
  });
}
