/**
 * Modules and layers with PyTorch names (`Module`, `ModuleList`, `Linear`, `LayerNorm`,
 * `Embedding`, `Dropout`, seeded `init`). Import flat or through the `nn` namespace that
 * `src/nn/mod.ts` re-exports: `new nn.Linear(device, 4, 2)`.
 * @module
 */
export {
  EXTRA_STATE_KEY,
  type ExtraState,
  type ExtraStateValue,
  type IncompatibleKeys,
  isParameter,
  type LoadStateDictOptions,
  markParameter,
  Module,
  ModuleList,
  parameter,
  type ParameterOptions,
  type StateDictValue,
} from "./module.ts";
export { Linear, type LinearOptions } from "./linear.ts";
export { Identity, ModuleDict } from "./module_dict.ts";
export { EXTRA_STATE_NAME, loadExtraState, saveExtraState } from "./extra_state_io.ts";
export { LayerNorm, type LayerNormOptions } from "./layernorm.ts";
export { Embedding, type EmbeddingOptions } from "./embedding.ts";
export { Dropout, type DropoutOptions } from "./dropout.ts";
export * as init from "./init.ts";
export type { Generator } from "./init.ts";
