/**
 * LoRA adapters in PEFT's names and file format (Hu et al. 2021), with VeLoRA on the adapter
 * inputs as PEFT's VeLoRA variant: `get_peft_model`, `LoraConfig`, `PeftModel`.
 * @module
 */
export { LoraConfig } from "./config.ts";
export type { LoraConfigInit, LoraVeLoRAConfig, TargetModules } from "./config.ts";
export { DEFAULT_ADAPTER, LoraLinear } from "./lora_layer.ts";
export { cloneModule, ModulesToSaveWrapper } from "./modules_to_save.ts";
export {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  get_peft_model,
  LoraModel,
  PeftModel,
  readAdapterConfig,
} from "./peft_model.ts";
export { ALL_LINEAR, resolveTargets } from "./targets.ts";
export {
  type AutoPeftModelClass,
  AutoPeftModelForSequenceClassification,
  type BaseModelLoader,
  isAdapterFolder,
  peftFromPretrained,
} from "./auto.ts";
