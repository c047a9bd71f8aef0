/**
 * BERT (HF `modeling_bert.py`): config, modules and models.
 * @module
 */
export * from "./config.ts";
export { BertEmbeddings } from "./embeddings.ts";
export { BertAttention, BertSelfAttention, BertSelfOutput } from "./attention.ts";
export { BertEncoder, BertIntermediate, BertLayer, BertOutput } from "./layer.ts";
export {
  BertForMaskedLM,
  BertForSequenceClassification,
  BertLMPredictionHead,
  BertModel,
  BertOnlyMLMHead,
  BertPooler,
  BertPredictionHeadTransform,
  BertPreTrainedModel,
} from "./modeling_bert.ts";
export type {
  BertInputs,
  BertModelOutput,
  MaskedLMInputs,
  MaskedLMOutput,
  SequenceClassifierInputs,
  SequenceClassifierOutput,
} from "./modeling_bert.ts";
