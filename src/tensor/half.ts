import { Tensor } from "./tensor.ts";
import src from "../../kernels/half.wgsl" with { type: "text" };
import { defineKernel, grid1d, GRID_WGSL } from "../runtime/kernel.ts";

const PACK = defineKernel({
  name: "half.wgsl",
  code: GRID_WGSL + src,
  entryPoint: "pack",
  bindings: ["x", "h"],
  uniforms: ["n"],
});
const UNPACK = defineKernel({
  name: "half.wgsl",
  code: GRID_WGSL + src,
  entryPoint: "unpack",
  bindings: ["hi", "y"],
  uniforms: ["n"],
});

/**
 * Packed-f16 copy of an f32 tensor (IEEE half, round to nearest; |x| > 65504 becomes ±Inf):
 * the storage format of saved activations in the lean setting. No autograd: callers save the
 * result and unpack it in their backward with {@linkcode fromHalf}.
 * Shapes: x [...] f32 → [...] f16 (⌈numel/2⌉ u32 words).
 * @throws {Error} when x is not f32.
 */
export function toHalf(x: Tensor): Tensor {
  if (x.dtype !== "f32") throw new Error(`toHalf: x must be f32, got ${x.dtype} [${x.shape}]`);
  const h = Tensor.empty(x.device, x.shape, { dtype: "f16" });
  const n = x.numel;
  if (n > 0) {
    PACK.launch(x.device, {
      bindings: { x, h },
      uniforms: { n },
      workgroups: grid1d(Math.ceil(n / 2)),
    });
  }
  return h;
}

/**
 * f32 copy of a packed-f16 tensor (exact: every half is an f32). No autograd.
 * Shapes: h [...] f16 → [...] f32.
 * @throws {Error} when h is not f16.
 */
export function fromHalf(h: Tensor): Tensor {
  if (h.dtype !== "f16") throw new Error(`fromHalf: h must be f16, got ${h.dtype} [${h.shape}]`);
  const y = Tensor.empty(h.device, h.shape);
  const n = h.numel;
  if (n > 0) {
    UNPACK.launch(h.device, {
      bindings: { hi: h, y },
      uniforms: { n },
      workgroups: grid1d(Math.ceil(n / 2)),
    });
  }
  return y;
}
