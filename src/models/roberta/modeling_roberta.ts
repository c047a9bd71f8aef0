/**
 * HF `modeling_roberta.py`: `RobertaModel`, `RobertaForSequenceClassification`,
 * `RobertaForMaskedLM` — BERT's encoder with RoBERTa's embeddings (position ids from the padding
 * mask, offset by pad_token_id + 1) and heads, HF parameter names (`roberta.*`, `classifier.dense`,
 * `classifier.out_proj`, `lm_head.*`).
 * @module
 */

import type { Device } from "../../runtime/device.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { tanh } from "../../ops/basic.ts";
import { selectIndex } from "../../ops/shape.ts";
import { Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import { LayerNorm } from "../../nn/layernorm.ts";
import { Dropout } from "../../nn/dropout.ts";
import type { BertConfig } from "../bert/config.ts";
import { activation } from "../bert/layer.ts";
import type { BertEmbeddings } from "../bert/embeddings.ts";
import {
  BertModel,
  BertPreTrainedModel,
  checkProblemType,
  type MaskedLMInputs,
  type MaskedLMOutput,
  type SequenceClassifierInputs,
  type SequenceClassifierOutput,
  tieDecoder,
} from "../bert/modeling_bert.ts";
import type { ModelOptions, PreTrainedModelClass, WeightInit } from "../modeling_utils.ts";
import { maskedLMLoss, sequenceClassificationLoss } from "../losses.ts";
import { RobertaConfig } from "./config.ts";
import { RobertaEmbeddings } from "./embeddings.ts";

/** The RoBERTa base (HF `RobertaPreTrainedModel`): BERT's initialisation, prefix `roberta`. */
export abstract class RobertaPreTrainedModel extends BertPreTrainedModel {
  /** Reads config.json with RoBERTa's defaults. */
  static override readonly config_class: typeof RobertaConfig = RobertaConfig;
  /** Weights of the base model sit under `roberta.`. */
  static override readonly base_model_prefix: string = "roberta";

  /** HF `_init_weights` (BERT's, plus the LM head's bias). */
  protected override _init_weights(module: Module, init: WeightInit): void {
    super._init_weights(module, init);
    if (module instanceof RobertaLMHead) init.fill(module.bias, 0);
  }
}

/** HF `RobertaModel`: BertModel with {@linkcode RobertaEmbeddings}; names `embeddings.*`, .... */
export class RobertaModel extends BertModel {
  /** Reads config.json with RoBERTa's defaults. */
  static override readonly config_class: typeof RobertaConfig = RobertaConfig;
  /** Weights of the base model sit under `roberta.`. */
  static override readonly base_model_prefix: string = "roberta";

  /** RoBERTa's embeddings. */
  protected override makeEmbeddings(
    device: Device,
    config: BertConfig,
    init: ModelOptions,
  ): BertEmbeddings {
    return new RobertaEmbeddings(device, config, init);
  }
}

/** HF `RobertaClassificationHead`: out_proj(dropout(tanh(dense(dropout(h[:, 0]))))). */
export class RobertaClassificationHead extends Module {
  /** [D, D]. */
  dense: Linear;
  /** classifier_dropout ?? hidden_dropout_prob. */
  dropout: Dropout;
  /** [num_labels, D]. */
  out_proj: Linear;

  /** Creates the layers for `config`. */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.hidden_size, options);
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob);
    this.out_proj = new Linear(device, config.hidden_size, config.num_labels, options);
  }

  /** features [B, S, D] → logits [B, num_labels], from the first token (`<s>`). */
  forward(features: Tensor): Tensor {
    const x = this.dropout.call(selectIndex(features, 1, 0));
    return this.out_proj.call(this.dropout.call(tanh(this.dense.call(x))));
  }
}

/**
 * HF `RobertaForSequenceClassification`: RobertaModel without pooler + the classification head on
 * `<s>`. Loss as `BertForSequenceClassification` (MSE for num_labels 1, else cross-entropy).
 */
export class RobertaForSequenceClassification extends RobertaPreTrainedModel {
  /** `roberta.*` (no pooler). */
  roberta: RobertaModel;
  /** `classifier.dense.*`, `classifier.out_proj.*`. */
  classifier: RobertaClassificationHead;

  /** Creates the layers for `config` (see {@linkcode ModelOptions}). */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super(device, config);
    checkProblemType(config, "RobertaForSequenceClassification");
    this.roberta = new RobertaModel(device, config, { init: false, add_pooling_layer: false });
    this.classifier = new RobertaClassificationHead(device, config, { init: false });
    this.post_init(options);
  }

  /** Number of classes (1 = regression). */
  get num_labels(): number {
    return this.config.num_labels;
  }

  /**
   * Logits [batch, num_labels] and, with `labels`, the mean loss.
   * @throws {Error} for badly shaped inputs or labels, or ids outside the vocabulary.
   */
  forward(inputs: SequenceClassifierInputs): SequenceClassifierOutput {
    const logits = this.classifier.call(this.roberta.call(inputs).last_hidden_state);
    const labels = inputs.labels;
    return {
      logits,
      loss: labels ? sequenceClassificationLoss(logits, labels, this.constructor.name) : null,
    };
  }
}

/**
 * HF `RobertaLMHead`: decoder(layer_norm(gelu(dense(h)))) + bias; the decoder weight is tied to
 * the word embeddings, its bias is `bias`.
 */
export class RobertaLMHead extends Module {
  /** [vocab_size], shared with `decoder.bias`. */
  bias: Tensor;
  /** [D, D]. */
  dense: Linear;
  /** `lm_head.layer_norm`. */
  layer_norm: LayerNorm;
  /** [vocab_size, D], tied to the word embeddings. */
  decoder: Linear;
  readonly #act: (x: Tensor) => Tensor;

  /** Creates the layers for `config`. */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.hidden_size, options);
    this.layer_norm = new LayerNorm(device, config.hidden_size, { eps: config.layer_norm_eps });
    this.decoder = new Linear(device, config.hidden_size, config.vocab_size, options);
    this.bias = this.registerParameter("bias", this.decoder.bias!);
    this.#act = activation("gelu");
  }

  /** [B, S, D] → logits [B, S, vocab_size]. */
  forward(features: Tensor): Tensor {
    return this.decoder.call(this.layer_norm.call(this.#act(this.dense.call(features))));
  }
}

/** HF `RobertaForMaskedLM`: RobertaModel without pooler + `lm_head` (decoder tied). */
export class RobertaForMaskedLM extends RobertaPreTrainedModel {
  /** `roberta.*` (no pooler). */
  roberta: RobertaModel;
  /** `lm_head.*`. */
  lm_head: RobertaLMHead;

  /** Creates the layers for `config` (see {@linkcode ModelOptions}). */
  constructor(device: Device, config: BertConfig, options: ModelOptions = {}) {
    super(device, config);
    this.roberta = new RobertaModel(device, config, { init: false, add_pooling_layer: false });
    this.lm_head = new RobertaLMHead(device, config, { init: false });
    this.post_init(options);
  }

  /** Ties the decoder to the word embeddings (HF `tie_word_embeddings`). */
  override tie_weights(): void {
    tieDecoder(this.lm_head.decoder, this.roberta.embeddings.word_embeddings);
  }

  /**
   * Logits [batch, seq, vocab_size] and, with `labels`, the mean loss over labels ≠ -100.
   * @throws {Error} for badly shaped inputs or labels.
   */
  forward(inputs: MaskedLMInputs): MaskedLMOutput {
    const logits = this.lm_head.call(this.roberta.call(inputs).last_hidden_state);
    const labels = inputs.labels;
    return { logits, loss: labels ? maskedLMLoss(logits, labels, this.constructor.name) : null };
  }
}

/** The classes of this file by role, for the Auto registry. */
export const ROBERTA_CLASSES: {
  model: PreTrainedModelClass<RobertaModel, BertConfig>;
  sequence_classification: PreTrainedModelClass<RobertaForSequenceClassification, BertConfig>;
  masked_lm: PreTrainedModelClass<RobertaForMaskedLM, BertConfig>;
} = {
  model: RobertaModel,
  sequence_classification: RobertaForSequenceClassification,
  masked_lm: RobertaForMaskedLM,
};
