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
export { rmsNorm } from "./rmsnorm.ts";
export { type Llama3RopeScaling, rope, ropeInvFreq, ropeTable } from "./rope.ts";
export { swiglu } from "./swiglu.ts";
export { flashAttention, type FlashAttentionOptions } from "./flash_attention.ts";
export { fromHalf, toHalf } from "./half.ts";
export {
  linearCrossEntropy,
  type LinearCrossEntropyOptions,
  type LinearCrossEntropyOutput,
} from "./linear_cross_entropy.ts";
