import type { Module } from "./module.ts";

/**
 * Turns f16 saved activations on (or off) for every module of `model`: the tensors backward
 * reads that tolerate f16 — LayerNorm/RMSNorm inputs, GELU/ReLU/tanh/SiLU inputs, and q, k, v and
 * the context of recomputed attention (`attn_implementation: "flash_attention_2"`) — are kept as
 * packed f16, half their bytes. Forward values are unchanged; gradients carry the f16 rounding of
 * those tensors (about 1e-3 relative; see the lean-setting test for measured errors). The `lean`
 * setting turns it on. Returns the number of modules set.
 */
export function enableHalfSavedActivations(model: Module, enable = true): number {
  let n = 0;
  for (const [, m] of model.named_modules()) {
    m.saveHalfActivations = enable;
    n++;
  }
  return n;
}
