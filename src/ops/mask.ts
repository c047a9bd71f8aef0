import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/mask.wgsl" with { type: "text" };
import { params } from "../runtime/launch.ts";

function run(entry: string, x: Tensor): Tensor {
  if (x.dtype !== "i32") {
    throw new Error(`${entry}: expected an i32 tensor, got ${x.dtype} [${x.shape}]`);
  }
  const out = Tensor.empty(x.device, x.shape);
  if (x.numel === 0) return out;
  if (x.numel > 65535 * 256) throw new Error(`${entry}: tensor [${x.shape}] too large`);
  x.device.dispatch({
    pipeline: x.device.pipeline("mask.wgsl", src, {}, entry),
    buffers: [x.buffer, out.buffer],
    params: params(x.numel),
    workgroups: [Math.ceil(x.numel / 256)],
  });
  return out;
}

/**
 * HF's additive attention mask: (1 − mask) · finfo(f32).min, from an i32 0/1 `attention_mask`
 * [batch, seq] → f32 [batch, seq] (source: HF `modeling_utils.get_extended_attention_mask`).
 * @throws {Error} when `mask` is not i32.
 */
export function additiveMask(mask: Tensor): Tensor {
  return run("additive_mask", mask);
}

/** f32 copy of an i32 tensor (no autograd). @throws {Error} when `x` is not i32. */
export function toFloat(x: Tensor): Tensor {
  return run("to_float", x);
}
