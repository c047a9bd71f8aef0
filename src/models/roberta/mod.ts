/**
 * RoBERTa (HF `modeling_roberta.py`): config, embeddings and models.
 * @module
 */
export { RobertaConfig } from "./config.ts";
export { RobertaEmbeddings } from "./embeddings.ts";
export {
  RobertaClassificationHead,
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
  RobertaLMHead,
  RobertaModel,
  RobertaPreTrainedModel,
} from "./modeling_roberta.ts";
