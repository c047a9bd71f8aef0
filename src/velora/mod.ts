/**
 * VeLoRA: rank-1 sub-token projections of saved linear-layer inputs (Miles et al., NeurIPS 2024).
 * @module
 */
export { applyVeLoRA, removeVeLoRA, veloraLayers } from "./apply.ts";
export type { VeLoRAConfig, VeLoRALayerReport, VeLoRAReport } from "./apply.ts";
export { subTokenShape, VeLoRALinear } from "./velora_linear.ts";
export type { VeLoRAInitType, VeLoRALayerContext, VeLoRALayerOptions } from "./velora_linear.ts";
export { VeLoRASharing } from "./sharing.ts";
export { loadVeLoRA, saveVeLoRA, VELORA_CONFIG_NAME, VELORA_VECTORS_NAME } from "./sidecar.ts";
export { veloraLinear } from "./velora_linear_fn.ts";
export type { VeLoRATrace } from "./velora_linear_fn.ts";
export { initV, project, weightGrad } from "./projection.ts";
export type { SubTokenShape } from "./projection.ts";
export { DECODER_VELORA_PRESETS } from "./presets.ts";
