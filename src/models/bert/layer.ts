import type { Device } from "../../runtime/device.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { gelu, relu } from "../../ops/basic.ts";
import { free } from "../../tensor/scope.ts";
import { checkpoint } from "../../autograd/checkpoint.ts";
import { Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import { LayerNorm } from "../../nn/layernorm.ts";
import { Dropout } from "../../nn/dropout.ts";
import { BertAttention, residualNorm } from "./attention.ts";
import type { BertConfig } from "./config.ts";

/** HF `BertIntermediate`: act(dense(h)), D → intermediate_size. */
export class BertIntermediate extends Module {
  /** [intermediate_size, D]. */
  dense: Linear;
  readonly #act: (x: Tensor) => Tensor;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.intermediate_size);
    this.#act = config.hidden_act === "relu" ? relu : gelu;
  }

  /** [B, S, D] → [B, S, intermediate_size]. */
  forward(hidden: Tensor): Tensor {
    const h = this.dense.forward(hidden);
    const out = this.#act(h);
    h.dispose();
    return out;
  }
}

/** HF `BertOutput`: LayerNorm(dropout(dense(h)) + input), intermediate_size → D. */
export class BertOutput extends Module {
  /** [D, intermediate_size]. */
  dense: Linear;
  /** HF keeps the TF name `LayerNorm`. */
  LayerNorm: LayerNorm;
  /** hidden_dropout_prob. */
  dropout: Dropout;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.dense = new Linear(device, config.intermediate_size, config.hidden_size);
    this.LayerNorm = new LayerNorm(device, config.hidden_size, { eps: config.layer_norm_eps });
    this.dropout = new Dropout(config.hidden_dropout_prob);
  }

  /** hidden [B, S, intermediate_size], input [B, S, D] → [B, S, D]. */
  forward(hidden: Tensor, input: Tensor): Tensor {
    return residualNorm(this.dense.forward(hidden), input, this.dropout, this.LayerNorm);
  }
}

/** HF `BertLayer`: attention, then the feed-forward block. */
export class BertLayer extends Module {
  /** `attention.self.*`, `attention.output.*`. */
  attention: BertAttention;
  /** `intermediate.dense`. */
  intermediate: BertIntermediate;
  /** `output.dense`, `output.LayerNorm`. */
  output: BertOutput;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.attention = new BertAttention(device, config);
    this.intermediate = new BertIntermediate(device, config);
    this.output = new BertOutput(device, config);
  }

  /** hidden [B, S, D], additive mask [B, S] → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    const attn = this.attention.forward(hidden, mask);
    const inner = this.intermediate.forward(attn);
    const out = this.output.forward(inner, attn);
    free(attn, inner);
    return out;
  }
}

/** HF `BertEncoder`: the stack of layers, with optional gradient checkpointing. */
export class BertEncoder extends Module {
  /** `encoder.layer.{i}`. */
  layer: BertLayer[];
  /** When true (and training with grad), each layer keeps only its input and recomputes. */
  gradient_checkpointing = false;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.layer = Array.from(
      { length: config.num_hidden_layers },
      () => new BertLayer(device, config),
    );
  }

  /** hidden [B, S, D], additive mask [B, S] → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    let h = hidden;
    for (const layer of this.layer) {
      const next = this.gradient_checkpointing && this.training
        ? checkpoint((x, m) => layer.forward(x!, m), [h, mask], layer)
        : layer.forward(h, mask);
      if (h !== hidden) h.dispose();
      h = next;
    }
    return h;
  }
}
