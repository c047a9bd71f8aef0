/**
 * HF `modeling_bert.py`: `BertModel`, `BertForSequenceClassification`, `BertForMaskedLM`, with HF
 * parameter names, on the shared {@linkcode PreTrainedModel} base. Each forward reads as HF's;
 * intermediates are freed by the scope of each module call (`Module.call`).
 * @module
 */

import type { Device } from "../../runtime/device.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { tanh } from "../../ops/basic.ts";
import { additiveMask } from "../../ops/mask.ts";
import { selectIndex } from "../../ops/shape.ts";
import { Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import type { Embedding } from "../../nn/embedding.ts";
import { LayerNorm } from "../../nn/layernorm.ts";
import { Dropout } from "../../nn/dropout.ts";
import { BertConfig } from "./config.ts";
import { BertEmbeddings } from "./embeddings.ts";
import { activation, BertEncoder } from "./layer.ts";
import {
  type ModelOptions,
  PreTrainedModel,
  type PreTrainedModelClass,
  type WeightInit,
} from "../modeling_utils.ts";
import { maskedLMLoss, sequenceClassificationLoss } from "../losses.ts";
import { checkTokenIds } from "../check_inputs.ts";
import { initStandardWeights } from "../init_weights.ts";

/** Inputs of a BERT forward: i32 tensors [batch, seq] (labels [batch]). */
export interface BertInputs {
  /** Token ids, i32 [batch, seq]. */
  input_ids: Tensor;
  /** 1 for real tokens, 0 for padding, i32 [batch, seq]; default all ones. */
  attention_mask?: Tensor | null;
  /** Segment ids, i32 [batch, seq]; default zeros. */
  token_type_ids?: Tensor | null;
}

/** Output of {@linkcode BertModel.forward}. */
export interface BertModelOutput {
  /** [batch, seq, hidden_size]. */
  last_hidden_state: Tensor;
  /** tanh(dense(h[:, 0])) [batch, hidden_size], or null without a pooler. */
  pooler_output: Tensor | null;
}

/** HF `BertPooler`: tanh(dense(first token)). */
export class BertPooler extends Module {
  /** [D, D]. */
  dense: Linear;

  /** Creates the layer for `config`. */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.hidden_size, options);
  }

  /** [B, S, D] → [B, D]. */
  forward(hidden: Tensor): Tensor {
    return tanh(this.dense.call(selectIndex(hidden, 1, 0)));
  }
}

/**
 * The BERT-family base (HF `BertPreTrainedModel`): config class, `base_model_prefix` and HF's
 * `_init_weights` — Linear and Embedding weights ~ N(0, initializer_range) (the padding_idx row
 * zero), biases 0, LayerNorm weight 1 and bias 0, an LM head's bias 0.
 */
export abstract class BertPreTrainedModel extends PreTrainedModel<BertConfig> {
  /** Reads config.json. */
  static readonly config_class: typeof BertConfig = BertConfig;
  /** Weights of the base model sit under `bert.`. */
  static override readonly base_model_prefix: string = "bert";

  /** HF `_init_weights`. */
  protected _init_weights(module: Module, init: WeightInit): void {
    initStandardWeights(module, init, this.config.initializer_range, [LayerNorm]);
    if (module instanceof BertLMPredictionHead) init.fill(module.bias, 0);
  }

  /** HF name: recompute each encoder layer in backward, keeping only layer inputs. */
  gradient_checkpointing_enable(): void {
    this.#encoder().gradient_checkpointing = true;
  }

  /** Turns gradient checkpointing off. */
  gradient_checkpointing_disable(): void {
    this.#encoder().gradient_checkpointing = false;
  }

  /** Whether gradient checkpointing is on (HF `is_gradient_checkpointing`). */
  get is_gradient_checkpointing(): boolean {
    return this.#encoder().gradient_checkpointing;
  }

  #encoder(): BertEncoder {
    for (const m of this.modules()) if (m instanceof BertEncoder) return m;
    throw new Error(`${this.constructor.name} has no encoder`);
  }
}

/**
 * HF `BertModel`: embeddings, encoder, optional pooler; HF parameter names.
 * Create with `BertModel.from_pretrained` or `new BertModel(device, config)` (HF initialisation,
 * seeded by `seed`).
 */
export class BertModel extends BertPreTrainedModel {
  /** `embeddings.*`. */
  embeddings: BertEmbeddings;
  /** `encoder.layer.{i}.*`. */
  encoder: BertEncoder;
  /** `pooler.dense.*`, or null (`add_pooling_layer: false`). */
  pooler: BertPooler | null;

  /** Creates the layers for `config` (see {@linkcode ModelOptions}). */
  constructor(
    device: Device,
    config: BertConfig,
    options: ModelOptions & { add_pooling_layer?: boolean } = {},
  ) {
    super(device, config);
    const init = { init: false };
    this.embeddings = this.makeEmbeddings(device, config, init);
    this.encoder = new BertEncoder(device, config, init);
    this.pooler = (options.add_pooling_layer ?? true) ? new BertPooler(device, config, init) : null;
    this.post_init(options);
  }

  /** The embeddings module (RoBERTa's differ in their position ids). */
  protected makeEmbeddings(device: Device, config: BertConfig, init: ModelOptions): BertEmbeddings {
    return new BertEmbeddings(device, config, init);
  }

  /**
   * Token ids (and masks) [B, S] → last hidden state [B, S, D] and pooled output [B, D].
   * @throws {Error} for inputs that are not i32 [batch, seq], whose shapes differ, or ids outside
   * the vocabulary or type vocabulary.
   */
  forward(inputs: BertInputs): BertModelOutput {
    const { input_ids, attention_mask, token_type_ids } = inputs;
    checkTokenIds(this.constructor.name, this.config, input_ids, attention_mask, token_type_ids);
    const mask = attention_mask ? additiveMask(attention_mask) : null;
    const h = this.encoder.call(this.embeddings.call(input_ids, token_type_ids), mask);
    return { last_hidden_state: h, pooler_output: this.pooler?.call(h) ?? null };
  }
}

/** Inputs of a sequence classification forward. */
export interface SequenceClassifierInputs extends BertInputs {
  /** Class ids i32 [batch] (classification) or targets [batch] (regression, f32 or i32). */
  labels?: Tensor | null;
}

/** Output of a sequence classification forward. */
export interface SequenceClassifierOutput {
  /** [batch, num_labels]. */
  logits: Tensor;
  /** Scalar loss when labels were given, else null. */
  loss: Tensor | null;
}

/** Refuses `problem_type: "multi_label_classification"` (BCE is not implemented). */
export function checkProblemType(config: BertConfig, owner: string): void {
  if (config.problem_type === "multi_label_classification") {
    throw new Error(`${owner}: problem_type "multi_label_classification" is not supported`);
  }
}

/**
 * HF `BertForSequenceClassification`: BertModel + dropout + classifier on the pooled output.
 * Loss (HF `problem_type` rules): num_labels == 1 → MSE (regression); otherwise cross-entropy
 * over integer labels (single_label_classification). multi_label_classification is unsupported.
 */
export class BertForSequenceClassification extends BertPreTrainedModel {
  /** `bert.*`. */
  bert: BertModel;
  /** classifier_dropout ?? hidden_dropout_prob. */
  dropout: Dropout;
  /** `classifier.*`: [num_labels, D]. */
  classifier: Linear;

  /** Creates the layers for `config` (see {@linkcode ModelOptions}). */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super(device, config);
    checkProblemType(config, "BertForSequenceClassification");
    this.bert = new BertModel(device, config, { init: false });
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob);
    this.classifier = new Linear(device, config.hidden_size, config.num_labels, { init: false });
    this.post_init(options);
  }

  /** Number of classes (1 = regression). */
  get num_labels(): number {
    return this.config.num_labels;
  }

  /**
   * Logits [batch, num_labels] and, with `labels`, the mean loss.
   * @throws {Error} for badly shaped inputs or labels.
   */
  forward(inputs: SequenceClassifierInputs): SequenceClassifierOutput {
    const pooled = this.bert.call(inputs).pooler_output!;
    const logits = this.classifier.call(this.dropout.call(pooled));
    const labels = inputs.labels;
    return {
      logits,
      loss: labels ? sequenceClassificationLoss(logits, labels, this.constructor.name) : null,
    };
  }
}

/** HF `BertPredictionHeadTransform`: LayerNorm(act(dense(h))). */
export class BertPredictionHeadTransform extends Module {
  /** [D, D]. */
  dense: Linear;
  /** HF keeps the TF name `LayerNorm`. */
  LayerNorm: LayerNorm;
  readonly #act: (x: Tensor) => Tensor;

  /** Creates the layers for `config`. */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.hidden_size, options);
    this.#act = activation(config.hidden_act);
    this.LayerNorm = new LayerNorm(device, config.hidden_size, { eps: config.layer_norm_eps });
  }

  /** [B, S, D] → [B, S, D]. */
  forward(hidden: Tensor): Tensor {
    return this.LayerNorm.call(this.#act(this.dense.call(hidden)));
  }
}

/**
 * HF `BertLMPredictionHead`: decoder(transform(h)) + bias. The decoder weight is tied to the word
 * embeddings by the model (`tie_weights`); its bias is this module's `bias`.
 */
export class BertLMPredictionHead extends Module {
  /** [vocab_size], shared with `decoder.bias` (HF `self.decoder.bias = self.bias`). */
  bias: Tensor;
  /** `transform.dense`, `transform.LayerNorm`. */
  transform: BertPredictionHeadTransform;
  /** [vocab_size, D], tied to the word embeddings. */
  decoder: Linear;

  /** Creates the layers for `config`. */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super();
    this.transform = new BertPredictionHeadTransform(device, config, options);
    this.decoder = new Linear(device, config.hidden_size, config.vocab_size, options);
    this.bias = this.decoder.bias!;
    // HF declares `bias` before its children in state_dict order: own parameters come first.
    this.registerParameter("bias", this.bias);
  }

  /** [B, S, D] → logits [B, S, vocab_size]. */
  forward(hidden: Tensor): Tensor {
    return this.decoder.call(this.transform.call(hidden));
  }
}

/** HF `BertOnlyMLMHead`: `cls.predictions`. */
export class BertOnlyMLMHead extends Module {
  /** `predictions.*`. */
  predictions: BertLMPredictionHead;

  /** Creates the layers for `config`. */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super();
    this.predictions = new BertLMPredictionHead(device, config, options);
  }

  /** [B, S, D] → [B, S, vocab_size]. */
  forward(hidden: Tensor): Tensor {
    return this.predictions.call(hidden);
  }
}

/** Inputs of a masked-LM forward. */
export interface MaskedLMInputs extends BertInputs {
  /** Target ids i32 [batch, seq]; -100 marks positions without loss (HF). */
  labels?: Tensor | null;
}

/** Output of a masked-LM forward. */
export interface MaskedLMOutput {
  /** [batch, seq, vocab_size]. */
  logits: Tensor;
  /** Mean cross-entropy over labelled positions when labels were given, else null. */
  loss: Tensor | null;
}

/** Makes `decoder.weight` the tensor `embeddings` (HF `_tie_or_clone_weights`). */
export function tieDecoder(decoder: Linear, embeddings: Embedding): void {
  if (decoder.weight === embeddings.weight) return;
  decoder.weight.dispose();
  decoder.weight = embeddings.weight;
}

/**
 * HF `BertForMaskedLM`: BertModel without pooler + `cls.predictions` (transform, decoder tied to
 * `bert.embeddings.word_embeddings.weight`, bias). Loss: cross-entropy over labels ≠ -100.
 */
export class BertForMaskedLM extends BertPreTrainedModel {
  /** `bert.*` (no pooler). */
  bert: BertModel;
  /** `cls.predictions.*`. */
  cls: BertOnlyMLMHead;

  /** Creates the layers for `config` (see {@linkcode ModelOptions}). */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super(device, config);
    this.bert = new BertModel(device, config, { init: false, add_pooling_layer: false });
    this.cls = new BertOnlyMLMHead(device, config, { init: false });
    this.post_init(options);
  }

  /** Ties the decoder to the word embeddings (HF `tie_word_embeddings`, default true). */
  override tie_weights(): void {
    tieDecoder(this.cls.predictions.decoder, this.bert.embeddings.word_embeddings);
  }

  /**
   * Logits [batch, seq, vocab_size] and, with `labels`, the mean loss over labelled positions.
   * @throws {Error} for badly shaped inputs or labels.
   */
  forward(inputs: MaskedLMInputs): MaskedLMOutput {
    const logits = this.cls.call(this.bert.call(inputs).last_hidden_state);
    const labels = inputs.labels;
    return { logits, loss: labels ? maskedLMLoss(logits, labels, this.constructor.name) : null };
  }
}

/** The classes of this file by role, for the Auto registry. */
export const BERT_CLASSES: {
  model: PreTrainedModelClass<BertModel, BertConfig>;
  sequence_classification: PreTrainedModelClass<BertForSequenceClassification, BertConfig>;
  masked_lm: PreTrainedModelClass<BertForMaskedLM, BertConfig>;
} = {
  model: BertModel,
  sequence_classification: BertForSequenceClassification,
  masked_lm: BertForMaskedLM,
};
