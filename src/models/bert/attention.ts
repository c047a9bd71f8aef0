import type { Device } from "../../runtime/device.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { add, reshape } from "../../ops/basic.ts";
import { permute } from "../../ops/shape.ts";
import { type InitOptions, Module } from "../../nn/module.ts";
import { tidy } from "../../tensor/scope.ts";
import { Linear } from "../../nn/linear.ts";
import { LayerNorm } from "../../nn/layernorm.ts";
import { Dropout } from "../../nn/dropout.ts";
import { ALL_ATTENTION_FUNCTIONS, type AttentionFunction } from "../../nn/attention.ts";
import type { BertConfig } from "./config.ts";

/**
 * HF `BertSelfAttention`: per-head attention through the implementation the config names
 * (`attn_implementation`, default "eager": softmax(Q·Kᵀ/√d + mask)·V).
 * Shapes: hidden [B, S, D], additive mask f32 [B, S] → context [B, S, D].
 */
export class BertSelfAttention extends Module {
  /** [D, D]. */
  query: Linear;
  /** [D, D]. */
  key: Linear;
  /** [D, D]. */
  value: Linear;
  /** attention_probs_dropout_prob. */
  dropout: Dropout;
  readonly #heads: number;
  readonly #headSize: number;
  readonly #attention: AttentionFunction;

  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super();
    const d = config.hidden_size;
    this.query = new Linear(device, d, d, init);
    this.key = new Linear(device, d, d, init);
    this.value = new Linear(device, d, d, init);
    this.dropout = new Dropout(config.attention_probs_dropout_prob);
    this.#heads = config.num_attention_heads;
    this.#headSize = d / config.num_attention_heads;
    this.#attention = ALL_ATTENTION_FUNCTIONS.get(config.attn_implementation);
  }

  /** proj(hidden) [B, S, D] → [B, H, S, D/H] (HF `transpose_for_scores`), in its own scope. */
  #heads_first(proj: Linear, hidden: Tensor): Tensor {
    const [batch, seq] = hidden.shape;
    return tidy(() =>
      permute(reshape(proj.call(hidden), [batch, seq, this.#heads, this.#headSize]), [0, 2, 1, 3])
    );
  }

  /** hidden [B, S, D], mask [B, S] (additive) → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    const [batch, seq, dim] = hidden.shape;
    const q = this.#heads_first(this.query, hidden);
    const k = this.#heads_first(this.key, hidden);
    const v = this.#heads_first(this.value, hidden);
    const seed = this.dropout.drawSeed();
    const context = this.#attention(q, k, v, {
      attention_mask: mask,
      scaling: 1 / Math.sqrt(this.#headSize),
      dropout: seed === null ? 0 : this.dropout.p,
      seed,
    });
    return reshape(context, [batch, seq, dim]);
  }
}

/**
 * HF `BertSelfOutput`: LayerNorm(dropout(dense(h)) + input). The same block closes the
 * feed-forward part from a wider input ({@linkcode BertOutput} in `layer.ts`).
 */
export class BertSelfOutput extends Module {
  /** [D, inFeatures] (D × D here, D × intermediate_size in `BertOutput`). */
  dense: Linear;
  /** HF keeps the TF name `LayerNorm`. */
  LayerNorm: LayerNorm;
  /** hidden_dropout_prob. */
  dropout: Dropout;

  /**
   * Creates the layers for `config` (see {@linkcode InitOptions}).
   * @param inFeatures width of `hidden` (default hidden_size)
   */
  constructor(
    device: Device,
    config: BertConfig,
    init: InitOptions = {},
    inFeatures: number = config.hidden_size,
  ) {
    super();
    this.dense = new Linear(device, inFeatures, config.hidden_size, init);
    this.LayerNorm = new LayerNorm(device, config.hidden_size, { eps: config.layer_norm_eps });
    this.dropout = new Dropout(config.hidden_dropout_prob);
  }

  /** hidden [B, S, inFeatures], input [B, S, D] → [B, S, D]. */
  forward(hidden: Tensor, input: Tensor): Tensor {
    return this.LayerNorm.call(add(this.dropout.call(this.dense.call(hidden)), input));
  }
}

/** HF `BertAttention`: self-attention then its output block. */
export class BertAttention extends Module {
  /** Named `self` as in HF (`attention.self.query`). */
  self: BertSelfAttention;
  /** `attention.output.dense`, `attention.output.LayerNorm`. */
  output: BertSelfOutput;

  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super();
    this.self = new BertSelfAttention(device, config, init);
    this.output = new BertSelfOutput(device, config, init);
  }

  /** hidden [B, S, D], additive mask [B, S] → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    return this.output.call(this.self.call(hidden, mask), hidden);
  }
}
