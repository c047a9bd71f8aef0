/**
 * Differentiable tensor ops backed by our WGSL kernels.
 * @module
 */
export {
  accumulate,
  add,
  clone,
  full,
  gelu,
  mul,
  relu,
  reshape,
  scale,
  sub,
  sumTo,
  tanh,
  zeros,
} from "./basic.ts";
export { mean, sum, sumAll, sumRows } from "./reduce.ts";
export { flashAttention, type FlashAttentionOptions } from "./flash_attention.ts";
export { fromHalf, toHalf } from "./half.ts";
