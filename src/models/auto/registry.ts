/**
 * The Auto registry: `model_type` → config class, and per task `model_type` → model class (HF
 * `CONFIG_MAPPING`, `MODEL_MAPPING`, `MODEL_FOR_*_MAPPING`). Adding a model family is one line in
 * each mapping that applies; adding a task is one mapping plus one {@linkcode AutoModelClass}
 * (see `auto.ts`).
 * @module
 */

import { BertConfig } from "../bert/config.ts";
import { BERT_CLASSES } from "../bert/modeling_bert.ts";
import { RobertaConfig } from "../roberta/config.ts";
import { ROBERTA_CLASSES } from "../roberta/modeling_roberta.ts";
import { LlamaConfig } from "../llama/config.ts";
import { LlamaForCausalLM, LlamaModel } from "../llama/modeling_llama.ts";
import type { ConfigClass, PreTrainedModel, PreTrainedModelClass } from "../modeling_utils.ts";

/** `model_type` → config class. */
export const CONFIG_MAPPING: Readonly<Record<string, ConfigClass>> = Object.freeze({
  bert: BertConfig,
  roberta: RobertaConfig,
  llama: LlamaConfig,
  qwen2: LlamaConfig,
  mistral: LlamaConfig,
});

/**
 * A model class of any config type (its constructor's config parameter is erased; the Auto
 * classes pass it the config its own `config_class` read).
 */
export type AnyModelClass =
  & Omit<PreTrainedModelClass, "prototype">
  & (new (...args: never[]) => PreTrainedModel);

/** `model_type` → a model class of one task. */
export type ModelMapping = Readonly<Record<string, AnyModelClass>>;

/** Base models (`AutoModel`). */
export const MODEL_MAPPING: ModelMapping = Object.freeze({
  bert: BERT_CLASSES.model,
  roberta: ROBERTA_CLASSES.model,
  llama: LlamaModel,
  qwen2: LlamaModel,
  mistral: LlamaModel,
});

/** `AutoModelForSequenceClassification`. */
export const MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING: ModelMapping = Object.freeze({
  bert: BERT_CLASSES.sequence_classification,
  roberta: ROBERTA_CLASSES.sequence_classification,
});

/** `AutoModelForMaskedLM`. */
export const MODEL_FOR_MASKED_LM_MAPPING: ModelMapping = Object.freeze({
  bert: BERT_CLASSES.masked_lm,
  roberta: ROBERTA_CLASSES.masked_lm,
});

/** `AutoModelForCausalLM`: decoders of the LLaMA family. */
export const MODEL_FOR_CAUSAL_LM_MAPPING: ModelMapping = Object.freeze({
  llama: LlamaForCausalLM,
  qwen2: LlamaForCausalLM,
  mistral: LlamaForCausalLM,
});
