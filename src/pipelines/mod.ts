/**
 * Pipelines (transformers.js names): `pipeline("text-classification" | "fill-mask" |
 * "text-generation", ...)`.
 * @module
 */
export {
  type Callable,
  callable,
  type FillMasker,
  pipeline,
  type PipelineLoader,
  SUPPORTED_TASKS,
  type TextClassifier,
  type TextGenerator,
} from "./pipeline.ts";
export {
  type Encoded,
  loadPipelineTokenizer,
  PipelineBase,
  type PipelineModel,
  type PipelineOptions,
} from "./base.ts";
export {
  type TextClassificationOptions,
  type TextClassificationOutput,
  TextClassificationPipeline,
} from "./text_classification.ts";
export { type FillMaskOptions, type FillMaskOutput, FillMaskPipeline } from "./fill_mask.ts";
