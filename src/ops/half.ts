import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/half.wgsl" with { type: "text" };
import { grid1d, params } from "./launch.ts";

function run(entry: "pack" | "unpack", x: Tensor, out: Tensor): Tensor {
  const n = x.numel;
  if (n === 0) return out;
  x.device.dispatch({
    pipeline: x.device.pipeline("half.wgsl", src, {}, entry),
    buffers: [x.buffer, out.buffer],
    params: params(n),
    workgroups: grid1d(Math.ceil(n / 2)),
  });
  return out;
}

/**
 * Packed-f16 copy of an f32 tensor (IEEE half, round to nearest; |x| > 65504 becomes ±Inf):
 * the storage format of saved activations in the lean setting. No autograd: callers save the
 * result and unpack it in their backward with {@linkcode fromHalf}.
 * Shapes: x [...] f32 → [...] f16 (⌈numel/2⌉ u32 words).
 * @throws {Error} when x is not f32.
 */
export function toHalf(x: Tensor): Tensor {
  if (x.dtype !== "f32") throw new Error(`toHalf: x must be f32, got ${x.dtype} [${x.shape}]`);
  return run("pack", x, Tensor.empty(x.device, x.shape, { dtype: "f16" }));
}

/**
 * f32 copy of a packed-f16 tensor (exact: every half is an f32). No autograd.
 * Shapes: h [...] f16 → [...] f32.
 * @throws {Error} when h is not f16.
 */
export function fromHalf(h: Tensor): Tensor {
  if (h.dtype !== "f16") throw new Error(`fromHalf: h must be f16, got ${h.dtype} [${h.shape}]`);
  return run("unpack", h, Tensor.empty(h.device, h.shape));
}
