import type { Device } from "../../runtime/device.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { reshape, tanh } from "../../ops/basic.ts";
import { additiveMask, toFloat } from "../../ops/mask.ts";
import { selectIndex } from "../../ops/shape.ts";
import { crossEntropy, mseLoss } from "../../ops/loss.ts";
import { Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import { Dropout } from "../../nn/dropout.ts";
import { BertConfig } from "./config.ts";
import { BertEmbeddings } from "./embeddings.ts";
import { BertEncoder } from "./layer.ts";
import { initBertWeights, seedDropouts } from "./init.ts";
import { type FromPretrainedOptions, loadWeightsFrom, saveWeights } from "../pretrained.ts";

function checkSupported(config: BertConfig): void {
  if (config.model_type === "roberta") {
    throw new Error(
      'model_type "roberta" is not supported yet (position ids offset by pad_token_id + 1)',
    );
  }
}

async function saveModel(model: Module & { config: BertConfig }, dir: string): Promise<void> {
  await saveWeights(model, dir);
  model.config.architectures = [model.constructor.name];
  await model.config.save_pretrained(dir);
}

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

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.hidden_size);
  }

  /** [B, S, D] → [B, D]. */
  forward(hidden: Tensor): Tensor {
    const first = selectIndex(hidden, 1, 0);
    const h = this.dense.forward(first);
    first.dispose();
    const out = tanh(h);
    h.dispose();
    return out;
  }
}

/**
 * HF `BertModel` (modeling_bert.py): embeddings, encoder, optional pooler; HF parameter names.
 * Create with `BertModel.from_pretrained` (see `pretrained.ts`) or `new BertModel(device, config)`
 * (HF initialisation: normal(0, initializer_range), LayerNorm 1/0, zero biases; `seed`).
 */
export class BertModel extends Module {
  /** The configuration. */
  readonly config: BertConfig;
  /** `embeddings.*`. */
  embeddings: BertEmbeddings;
  /** `encoder.layer.{i}.*`. */
  encoder: BertEncoder;
  /** `pooler.dense.*`, or null (`add_pooling_layer: false`). */
  pooler: BertPooler | null;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(
    device: Device,
    config: BertConfig,
    options: { add_pooling_layer?: boolean; seed?: number } = {},
  ) {
    super();
    this.config = config;
    this.embeddings = new BertEmbeddings(device, config);
    this.encoder = new BertEncoder(device, config);
    this.pooler = (options.add_pooling_layer ?? true) ? new BertPooler(device, config) : null;
    initBertWeights(this, config, options.seed ?? 0);
    seedDropouts(this, options.seed ?? 0);
  }

  /**
   * Token ids (and masks) [B, S] → last hidden state [B, S, D] and pooled output [B, D].
   * @throws {Error} for inputs that are not i32 [batch, seq] or whose shapes differ.
   */
  forward(inputs: BertInputs): BertModelOutput {
    const { input_ids, attention_mask, token_type_ids } = inputs;
    for (
      const [name, t] of [["attention_mask", attention_mask], [
        "token_type_ids",
        token_type_ids,
      ]] as const
    ) {
      if (t && (t.dtype !== "i32" || t.shape.join() !== input_ids.shape.join())) {
        throw new Error(
          `BertModel: ${name} ${t} must be i32 with the shape of input_ids [${input_ids.shape}]`,
        );
      }
    }
    const mask = attention_mask ? additiveMask(attention_mask) : null;
    const embedded = this.embeddings.forward(input_ids, token_type_ids);
    const h = this.encoder.forward(embedded, mask);
    if (h !== embedded) embedded.dispose();
    mask?.dispose();
    return { last_hidden_state: h, pooler_output: this.pooler ? this.pooler.forward(h) : null };
  }

  /**
   * Loads config.json + model.safetensors from a local folder or the hub (HF cache layout).
   * Weights the checkpoint lacks (e.g. the pooler) are initialised as HF does, with a warning.
   * Returns the model in eval mode, as HF does.
   * @throws {Error} naming the file, tensor or field for missing files, bad configs, or shape
   * mismatches.
   */
  static async from_pretrained(
    idOrDir: string,
    options: FromPretrainedOptions,
  ): Promise<BertModel> {
    const config = await BertConfig.from_pretrained(idOrDir, options);
    checkSupported(config);
    const model = new BertModel(options.device, config, { seed: options.seed });
    await loadWeightsFrom(model, idOrDir, options, "bert");
    return model.eval();
  }

  /** Writes config.json + model.safetensors (atomically) loadable by HF transformers. */
  save_pretrained(dir: string): Promise<void> {
    return saveModel(this, dir);
  }

  /** HF name: recompute each encoder layer in backward, keeping only layer inputs. */
  gradient_checkpointing_enable(): void {
    this.encoder.gradient_checkpointing = true;
  }

  /** Turns gradient checkpointing off. */
  gradient_checkpointing_disable(): void {
    this.encoder.gradient_checkpointing = false;
  }

  /** Whether gradient checkpointing is on (HF `is_gradient_checkpointing`). */
  get is_gradient_checkpointing(): boolean {
    return this.encoder.gradient_checkpointing;
  }
}

/** Inputs of {@linkcode BertForSequenceClassification.forward}. */
export interface SequenceClassifierInputs extends BertInputs {
  /** Class ids i32 [batch] (classification) or targets [batch] (regression, f32 or i32). */
  labels?: Tensor | null;
}

/** Output of {@linkcode BertForSequenceClassification.forward}. */
export interface SequenceClassifierOutput {
  /** [batch, num_labels]. */
  logits: Tensor;
  /** Scalar loss when labels were given, else null. */
  loss: Tensor | null;
}

/**
 * HF `BertForSequenceClassification`: BertModel + dropout + classifier on the pooled output.
 * Loss (HF `problem_type` rules): num_labels == 1 → MSE (regression); otherwise cross-entropy
 * over integer labels (single_label_classification). multi_label_classification is unsupported.
 */
export class BertForSequenceClassification extends Module {
  /** The configuration. */
  readonly config: BertConfig;
  /** `bert.*`. */
  bert: BertModel;
  /** classifier_dropout ?? hidden_dropout_prob. */
  dropout: Dropout;
  /** `classifier.*`: [num_labels, D]. */
  classifier: Linear;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig, options: { seed?: number } = {}) {
    super();
    if (config.problem_type === "multi_label_classification") {
      throw new Error(
        'BertForSequenceClassification: problem_type "multi_label_classification" is not supported',
      );
    }
    this.config = config;
    this.bert = new BertModel(device, config, { seed: options.seed });
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob);
    this.classifier = new Linear(device, config.hidden_size, config.num_labels);
    initBertWeights(this.classifier, config, (options.seed ?? 0) + 1);
    seedDropouts(this, options.seed ?? 0);
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
    const out = this.bert.forward(inputs);
    out.last_hidden_state.dispose();
    const pooled = this.dropout.forward(out.pooler_output!);
    out.pooler_output!.dispose();
    const logits = this.classifier.forward(pooled);
    pooled.dispose();
    const labels = inputs.labels;
    if (!labels) return { logits, loss: null };
    const batch = logits.shape[0];
    if (labels.numel !== batch) {
      throw new Error(
        `BertForSequenceClassification: labels ${labels} must have ${batch} elements`,
      );
    }
    if (this.num_labels === 1) {
      const target = labels.dtype === "i32" ? toFloat(labels) : labels;
      return { logits, loss: mseLoss(reshape(logits, [batch]), reshape(target, [batch])) };
    }
    if (labels.dtype !== "i32") {
      throw new Error(
        `BertForSequenceClassification: classification labels must be i32, got ${labels}`,
      );
    }
    return { logits, loss: crossEntropy(logits, reshape(labels, [batch])) };
  }

  /**
   * Loads config.json + model.safetensors from a local folder or the hub (HF cache layout);
   * `num_labels` sets the head size. A missing classifier (e.g. from a base checkpoint) is
   * initialised as HF does, with a warning. Returns the model in eval mode, as HF does.
   * @throws {Error} naming the file, tensor or field for missing files, bad configs, or shape
   * mismatches.
   */
  static async from_pretrained(
    idOrDir: string,
    options: FromPretrainedOptions,
  ): Promise<BertForSequenceClassification> {
    const config = await BertConfig.from_pretrained(idOrDir, options);
    checkSupported(config);
    const model = new BertForSequenceClassification(options.device, config, { seed: options.seed });
    await loadWeightsFrom(model, idOrDir, options, "bert");
    return model.eval();
  }

  /** Writes config.json + model.safetensors (atomically) loadable by HF transformers. */
  save_pretrained(dir: string): Promise<void> {
    return saveModel(this, dir);
  }

  /** See {@linkcode BertModel.gradient_checkpointing_enable}. */
  gradient_checkpointing_enable(): void {
    this.bert.gradient_checkpointing_enable();
  }

  /** See {@linkcode BertModel.gradient_checkpointing_disable}. */
  gradient_checkpointing_disable(): void {
    this.bert.gradient_checkpointing_disable();
  }
}
