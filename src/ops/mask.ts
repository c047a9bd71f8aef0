import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/mask.wgsl" with { type: "text" };
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";

const S = { bindings: ["mask", "out"], uniforms: ["n"] } as const;
const KERNELS = defineKernels("mask.wgsl", GRID_WGSL + src, { additive_mask: S, to_float: S });

function run(entry: keyof typeof KERNELS, x: Tensor): Tensor {
  if (x.dtype !== "i32") {
    throw new Error(`${entry}: expected an i32 tensor, got ${x.dtype} [${x.shape}]`);
  }
  const out = Tensor.empty(x.device, x.shape);
  if (x.numel === 0) return out;
  KERNELS[entry].launch(x.device, {
    bindings: { mask: x, out },
    uniforms: { n: x.numel },
    workgroups: grid1d(x.numel),
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
