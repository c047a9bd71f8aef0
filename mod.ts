/**
 * velora: memory-efficient training of transformer models on WebGPU, in Deno.
 *
 * Runtime ({@linkcode Device}), tensors with autograd ({@linkcode Tensor}), our WGSL kernels as
 * ops, PyTorch-style `nn` modules and optimizers, Hugging Face model ports, and VeLoRA (Miles et
 * al., "VeLoRA: Memory Efficient Training using Rank-1 Sub-Token Projections", NeurIPS 2024).
 *
 * @example
 * ```ts
 * import { Device, Tensor } from "./mod.ts";
 * const device = await Device.create();
 * const x = Tensor.from(device, [1, 2, 3, 4], [2, 2], { requiresGrad: true });
 * ```
 * @module
 */

export { Device } from "./src/runtime/device.ts";
export type { AdapterInfo, DeviceOptions, MatmulFamily } from "./src/runtime/device.ts";
export { defineKernel, grid1d, GRID_WGSL, Kernel } from "./src/runtime/kernel.ts";
export type {
  Bindable,
  KernelSpec,
  LaunchArgs,
  UniformValue,
  Workgroups,
} from "./src/runtime/kernel.ts";
export { MEMORY_CATEGORIES, MemoryStats } from "./src/runtime/memory.ts";
export type { MemoryCategory } from "./src/runtime/memory.ts";
export { Tensor } from "./src/tensor/tensor.ts";
export { Storage } from "./src/tensor/storage.ts";
export type { TensorOptions } from "./src/tensor/tensor.ts";
export type { DType } from "./src/tensor/dtype.ts";
export { free, tidy } from "./src/tensor/scope.ts";
export type { Disposable } from "./src/tensor/scope.ts";
export { isGradEnabled, noGrad, setGradEnabled } from "./src/autograd/grad_mode.ts";
export { halfSaves, isHalfSaving } from "./src/autograd/half_saves.ts";
export { GradNode, record, SavedTensor } from "./src/autograd/node.ts";
export type { BackwardFn, SaveFn, SaveOptions } from "./src/autograd/node.ts";
export { releaseGraph } from "./src/autograd/engine.ts";
export * as ops from "./src/ops/mod.ts";
export { checkpoint } from "./src/autograd/checkpoint.ts";
export type { RandomState } from "./src/autograd/checkpoint.ts";
export * from "./src/nn/mod.ts";
export * as nn from "./src/nn/mod.ts";
export * from "./src/optim/mod.ts";
export * from "./src/models/bert/mod.ts";
export * from "./src/models/roberta/mod.ts";
export {
  type ConfigClass,
  type ModelOptions,
  type PretrainedConfigLike,
  PreTrainedModel,
  type PreTrainedModelClass,
  WeightInit,
} from "./src/models/modeling_utils.ts";
export type { FromPretrainedOptions, SavePretrainedOptions } from "./src/models/pretrained.ts";
export * from "./src/models/llama/config.ts";
export {
  LlamaAttention,
  LlamaDecoderLayer,
  LlamaMLP,
  LlamaRMSNorm,
  LlamaRotaryEmbedding,
} from "./src/models/llama/layers.ts";
export type { LayerCache, LlamaStepInputs } from "./src/models/llama/layers.ts";
export {
  causalLMLoss,
  LlamaForCausalLM,
  LlamaModel,
  LlamaPreTrainedModel,
} from "./src/models/llama/modeling_llama.ts";
export type {
  CachedStep,
  CausalLMInputs,
  CausalLMOutput,
} from "./src/models/llama/modeling_llama.ts";
export { generate, pickToken } from "./src/models/llama/generate.ts";
export { TextGenerationPipeline } from "./src/pipelines/text_generation.ts";
export type {
  TextGenerationOptions,
  TextGenerationOutput,
} from "./src/pipelines/text_generation.ts";
export type { GenerateOptions } from "./src/models/llama/generate.ts";
export {
  MAX_PARAMETER_BYTES,
  MAX_PARAMETER_TENSORS,
  type ParameterEstimate,
} from "./src/models/size_check.ts";
export {
  AutoConfig,
  type AutoConfigOptions,
  AutoModel,
  AutoModelClass,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForSequenceClassification,
} from "./src/models/auto/auto.ts";
export {
  type AnyModelClass,
  CONFIG_MAPPING,
  MODEL_FOR_CAUSAL_LM_MAPPING,
  MODEL_FOR_MASKED_LM_MAPPING,
  MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
  MODEL_MAPPING,
  type ModelMapping,
} from "./src/models/auto/registry.ts";
export * from "./src/pipelines/mod.ts";
export { AutoTokenizer, PreTrainedTokenizer } from "./src/data/auto_tokenizer.ts";
export * from "./src/velora/mod.ts";
export * from "./src/peft/mod.ts";
export * as data from "./src/data/mod.ts";
export type { Example } from "./src/data/types.ts";
export {
  classificationMetrics,
  formatMetrics,
  NonFiniteLossError,
  Trainer,
} from "./src/train/trainer.ts";
export type {
  ComputeMetrics,
  EvalMetrics,
  EvalPrediction,
  LogEntry,
  TrainableModel,
  TrainerInit,
  TrainerState,
  TrainOutput,
} from "./src/train/trainer.ts";
export {
  type EvalStrategy,
  TRAINING_ARGS_DEFAULTS,
  TrainingArguments,
  type TrainingArgumentsInit,
} from "./src/train/training_args.ts";
export { trainStep } from "./src/train/step.ts";
export {
  evaluateLM,
  PRETRAIN_CONFIGS,
  pretrainConfig,
  type PretrainMetrics,
  type PretrainMode,
  type PretrainRun,
  type PretrainRunOptions,
  runPretrain,
  setupPretrainMode,
} from "./src/train/pretrain.ts";
export {
  EOS_TOKEN,
  type LMCorpus,
  type LMCorpusOptions,
  prepareLMCorpus,
} from "./src/data/corpus_lm.ts";
export {
  type ChatMessage,
  type ChatTemplateOptions,
  renderChatTemplate,
} from "./src/data/chat_template.ts";
export {
  describeFlags,
  type MonitorReading,
  NON_FINITE,
  TrainingMonitor,
} from "./src/train/monitor.ts";
export type {
  MicroBatch,
  ModelInputs,
  TrainStepContext,
  TrainStepHooks,
  TrainStepResult,
} from "./src/train/step.ts";
export { writeAtomic, writeJsonAtomic } from "./src/util/write_atomic.ts";
export type { WriteAtomicOptions } from "./src/util/write_atomic.ts";
export * from "./src/io/safetensors.ts";
export * from "./src/hub/hub.ts";
export type {
  EncodedBatch,
  EncodeOptions,
  LoadedTokenizer,
  PostProcessed,
  Tokenizer,
} from "./src/data/tokenize.ts";
