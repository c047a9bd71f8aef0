/**
 * Backward of the unary activations from a packed-f16 saved input, without unpacking it to an
 * f32 copy first (`kernels/activation_half.wgsl`): with `shader-f16` the halves are read natively
 * (`array<f16>`), otherwise with `unpack2x16float`; the same bytes either way.
 * @module
 */
import elementwiseSrc from "../../kernels/elementwise.wgsl" with { type: "text" };
import src from "../../kernels/activation_half.wgsl" with { type: "text" };
import { defineKernel, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { Tensor } from "../tensor/tensor.ts";
import { UNARY } from "../tensor/elementwise.ts";

// Binding 1 and ldX(i): the two ways to read element i of a packed-f16 tensor.
const PACKED = "@group(0) @binding(1) var<storage, read> xh: array<u32>;\n" +
  "fn ldX(i: u32) -> f32 { let w = unpack2x16float(xh[i >> 1u]); " +
  "return select(w.x, w.y, (i & 1u) == 1u); }\n";
const NATIVE = "@group(0) @binding(1) var<storage, read> xh: array<f16>;\n" +
  "fn ldX(i: u32) -> f32 { return f32(xh[i]); }\n";

function declare(native: boolean) {
  return defineKernel({
    name: `activation_half${native ? "_native" : ""}.wgsl`,
    // `enable` must precede every declaration.
    code: (native ? "enable f16;\n" : "") + GRID_WGSL + elementwiseSrc +
      (native ? NATIVE : PACKED) +
      src,
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
