/**
 * HF's standard `_init_weights` (the body `BertPreTrainedModel`, `LlamaPreTrainedModel` and most
 * HF ports share): Linear and Embedding weights ~ N(0, initializer_range) with an embedding's
 * padding_idx row zero, Linear biases 0, normalisation weights 1 and their biases (if any) 0.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import type { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { Embedding } from "../nn/embedding.ts";
import type { WeightInit } from "./modeling_utils.ts";

/** A normalisation module class: a weight, and a bias or none (RMSNorm). */
// deno-lint-ignore no-explicit-any
export type NormClass = abstract new (...args: any[]) => { weight: Tensor; bias?: Tensor | null };

/**
 * Initialises `module`'s own parameters as HF's `_init_weights` does for Linear, Embedding and
 * the normalisation classes `norms` (e.g. `[LayerNorm]`, `[LlamaRMSNorm]`); other modules are
 * left to the caller.
 * @param std the config's `initializer_range`
 */
export function initStandardWeights(
  module: Module,
  init: WeightInit,
  std: number,
  norms: readonly NormClass[],
): void {
  if (module instanceof Linear) {
    init.normal(module.weight, std);
    init.fill(module.bias, 0);
  } else if (module instanceof Embedding) {
    init.normal(module.weight, std, module.padding_idx);
  } else if (isNorm(module, norms)) {
    init.fill(module.weight, 1);
    init.fill(module.bias, 0);
  }
}

function isNorm(
  module: Module,
  norms: readonly NormClass[],
): module is Module & InstanceType<NormClass> {
  return norms.some((norm) => module instanceof norm);
}
