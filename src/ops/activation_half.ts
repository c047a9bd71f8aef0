/**
 * Backward of the unary activations from a packed-f16 saved input, without unpacking it to an
 * f32 copy first (`kernels/activation_half.wgsl`): with `shader-f16` the halves are read natively
 * (`array<f16>`), otherwise with `unpack2x16float`; the same bytes either way.
 * @module
 */
import elementwiseSrc from "../../kernels/elementwise.wgsl" with { type: "text" };
import src from "../../kernels/activation_half.wgsl" with { type: "text" };
import { defineKernel, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { elementReader, enableFor } from "../runtime/half_read.ts";
import { Tensor } from "../tensor/tensor.ts";
import { UNARY } from "../tensor/elementwise.ts";

function declare(native: boolean) {
  const kind = native ? "f16native" : "f16";
  return defineKernel({
    name: `activation_half${native ? "_native" : ""}.wgsl`,
    code: enableFor(kind) + GRID_WGSL + elementwiseSrc + elementReader(kind, "xh", 1, "ldX") + src,
    entryPoint: "unary_backward_half",
    bindings: ["xh", "b", "out"],
    uniforms: ["n"],
    constants: ["OP", "WG"],
  });
}
const KERNELS = Object.freeze({ packed: declare(false), native: declare(true) });

/**
 * dX = dY · f'(x) for `op` ∈ tanh, gelu (exact erf form), relu, where `x` is the saved input as a
 * packed-f16 tensor. Shapes: x [...] f16, dy [...] f32 (same element count) → [...] f32.
 * @throws {Error} when x is not f16, dy not f32, or their sizes differ.
 */
export function activationBackwardHalf(
  op: "tanh" | "gelu" | "relu",
  x: Tensor,
  dy: Tensor,
): Tensor {
  if (x.dtype !== "f16" || dy.dtype !== "f32" || x.numel !== dy.numel) {
    throw new Error(
      `activationBackwardHalf(${op}): x must be f16 and dy f32 of the same size, got x ${x.dtype} ` +
        `[${x.shape}], dy ${dy.dtype} [${dy.shape}]`,
    );
  }
  const out = Tensor.empty(dy.device, dy.shape);
  const n = out.numel;
  if (n === 0) return out;
  const device = dy.device;
  (device.shaderF16 ? KERNELS.native : KERNELS.packed).launch(device, {
    bindings: { xh: x, b: dy, out },
    uniforms: { n },
    constants: { OP: UNARY[op], WG: 256 },
    workgroups: grid1d(n),
  });
  return out;
}
