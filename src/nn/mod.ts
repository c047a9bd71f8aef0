/**
 * `nn`: modules and layers with PyTorch names (`Module`, `ModuleList`, `Linear`, `LayerNorm`,
 * `Embedding`, `Dropout`, seeded `init`), and the attention seam. `mod.ts` exports them flat and
 * as the `nn` namespace: `new nn.Linear(device, 4, 2)`.
 * @module
 */
export {
  emptyParameter,
  EXTRA_STATE_KEY,
  type ExtraState,
  type ExtraStateValue,
  type IncompatibleKeys,
  type InitOptions,
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
export { enableHalfSavedActivations } from "./half_saved.ts";
export * as init from "./init.ts";
export type { Generator } from "./init.ts";
export {
  ALL_ATTENTION_FUNCTIONS,
  type AttentionFunction,
  type AttentionOptions,
  AttentionRegistry,
  attentionShapes,
  type AttnImplementation,
  eagerAttention,
  flashAttention2,
} from "./attention.ts";
