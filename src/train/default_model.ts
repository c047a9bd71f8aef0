/**
 * The embedded default model of the main job and the browser example.
 *
 * @module
 */

/** The embedded default: a small BERT, randomly initialised, with bert-base-uncased's vocabulary. */
export const DEFAULT_MODEL_CONFIG = {
  vocab_size: 30522,
  hidden_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 512,
  max_position_embeddings: 512,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
} as const;

/** Name used in metrics for the embedded default model. */
export const DEFAULT_MODEL_NAME =
  "velora/small-bert-random-init (2 layers, hidden 128, bert-base-uncased vocab)";
