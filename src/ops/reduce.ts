import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/reduce.wgsl" with { type: "text" };
import { defineKernels } from "../runtime/kernel.ts";
import { BINARY, elementwise, fill } from "../tensor/elementwise.ts";

const K = defineKernels("reduce.wgsl", src, {
  sum_rows: { bindings: ["x", "out"], uniforms: ["rows", "cols", "alpha"] },
  sum_partial: { bindings: ["x", "out"], uniforms: ["rows", "cols", "alpha", "square"] },
});

/** Column sums: x [R, C] → [C], scaled by `alpha` (outside autograd). */
export function sumRows(x: Tensor, alpha = 1): Tensor {
  const [rows, cols] = x.shape;
  const out = Tensor.empty(x.device, [cols]);
  K.sum_rows.launch(x.device, {
    bindings: { x, out },
    uniforms: { rows, cols, alpha },
    workgroups: [Math.ceil(cols / 64)],
  });
  return out;
}

const CHUNK = 65536;

/**
 * Σ x (or Σ x² when `square`), times `alpha`, as a one-element tensor [] (outside autograd).
 * Two passes: per-chunk partial sums, then one workgroup over the partials; fixed order.
 */
export function sumAll(x: Tensor, alpha = 1, square = false): Tensor {
  const device = x.device;
  const n = x.numel;
  const chunks = Math.max(1, Math.ceil(n / CHUNK));
  const out = Tensor.empty(device, []);
  if (chunks === 1) {
    K.sum_partial.launch(device, {
      bindings: { x, out },
      uniforms: { rows: n, cols: CHUNK, alpha, square: square ? 1 : 0 },
      workgroups: [1],
    });
    return out;
  }
  const partials = Tensor.empty(device, [chunks]);
  K.sum_partial.launch(device, {
    bindings: { x, out: partials },
    uniforms: { rows: n, cols: CHUNK, alpha: 1, square: square ? 1 : 0 },
    workgroups: [chunks],
  });
  K.sum_partial.launch(device, {
    bindings: { x: partials, out },
    uniforms: { rows: chunks, cols: chunks, alpha, square: 0 },
    workgroups: [1],
  });
  partials.dispose();
  return out;
}

/** Σ of all elements → scalar []. */
export function sum(x: Tensor): Tensor {
  const out = sumAll(x);
  return record(out, [x], "SumBackward", () => (g) => [broadcastScalar(g, x.shape, 1)]);
}

/** Mean of all elements → scalar []. */
export function mean(x: Tensor): Tensor {
  const n = x.numel;
  const out = sumAll(x, 1 / n);
  return record(out, [x], "MeanBackward", () => (g) => [broadcastScalar(g, x.shape, 1 / n)]);
}

/** `alpha · g` broadcast from a one-element tensor to `shape`. */
function broadcastScalar(g: Tensor, shape: readonly number[], alpha: number): Tensor {
  const ones = fill(Tensor.empty(g.device, shape), alpha);
  const out = mulScalarTensor(ones, g);
  ones.dispose();
  return out;
}

function mulScalarTensor(x: Tensor, s: Tensor): Tensor {
  // b broadcast with period 1: x[i] * s[0].
  return elementwise("binary", BINARY.mul, Tensor.empty(x.device, x.shape), x, s);
}
