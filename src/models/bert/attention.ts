import type { Device } from "../../runtime/device.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { add, reshape } from "../../ops/basic.ts";
import { free } from "../../tensor/scope.ts";
import { matmul } from "../../ops/matmul.ts";
import { softmax } from "../../ops/softmax.ts";
import { dropoutMatmul } from "../../ops/dropout.ts";
import { permute } from "../../ops/shape.ts";
import { Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import { LayerNorm } from "../../nn/layernorm.ts";
import { Dropout } from "../../nn/dropout.ts";
import type { BertConfig } from "./config.ts";

/**
 * HF `BertSelfAttention` (eager): softmax(Q·Kᵀ/√d + mask)·V per head.
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

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    const d = config.hidden_size;
    this.query = new Linear(device, d, d);
    this.key = new Linear(device, d, d);
    this.value = new Linear(device, d, d);
    this.dropout = new Dropout(config.attention_probs_dropout_prob);
    this.#heads = config.num_attention_heads;
    this.#headSize = d / config.num_attention_heads;
  }

  #heads_first(x: Tensor, batch: number, seq: number): Tensor {
    const split = reshape(x, [batch, seq, this.#heads, this.#headSize]);
    const out = permute(split, [0, 2, 1, 3]);
    free(x, split);
    return out;
  }

  /** hidden [B, S, D], mask [B, S] (additive) → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    const [batch, seq, dim] = hidden.shape;
    const q = this.#heads_first(this.query.forward(hidden), batch, seq);
    const k = this.#heads_first(this.key.forward(hidden), batch, seq);
    const v = this.#heads_first(this.value.forward(hidden), batch, seq);
    const scores = matmul(q, k, { transB: true });
    free(q, k);
    const probs = softmax(scores, mask, { scale: 1 / Math.sqrt(this.#headSize) });
    scores.dispose();
    // Dropout fused into the context matmul: only the softmax output is kept for backward.
    const seed = this.dropout.drawSeed();
    const context = seed === null
      ? matmul(probs, v)
      : dropoutMatmul(probs, v, this.dropout.p, seed);
    free(probs, v);
    const merged = permute(context, [0, 2, 1, 3]);
    context.dispose();
    const out = reshape(merged, [batch, seq, dim]);
    merged.dispose();
    return out;
  }
}

/** HF `BertSelfOutput`: LayerNorm(dropout(dense(h)) + input). */
export class BertSelfOutput extends Module {
  /** [D, D]. */
  dense: Linear;
  /** HF keeps the TF name `LayerNorm`. */
  LayerNorm: LayerNorm;
  /** hidden_dropout_prob. */
  dropout: Dropout;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.hidden_size);
    this.LayerNorm = new LayerNorm(device, config.hidden_size, { eps: config.layer_norm_eps });
    this.dropout = new Dropout(config.hidden_dropout_prob);
  }

  /** hidden [B, S, D], input [B, S, D] → [B, S, D]. */
  forward(hidden: Tensor, input: Tensor): Tensor {
    return residualNorm(this.dense.forward(hidden), input, this.dropout, this.LayerNorm);
  }
}

/** HF `BertAttention`: self-attention then its output block. */
export class BertAttention extends Module {
  /** Named `self` as in HF (`attention.self.query`). */
  self: BertSelfAttention;
  /** `attention.output.dense`, `attention.output.LayerNorm`. */
  output: BertSelfOutput;

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.self = new BertSelfAttention(device, config);
    this.output = new BertSelfOutput(device, config);
  }

  /** hidden [B, S, D], additive mask [B, S] → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    const context = this.self.forward(hidden, mask);
    const out = this.output.forward(context, hidden);
    context.dispose();
    return out;
  }
}

/** LayerNorm(dropout(h) + input), freeing h and the temporaries (HF's BertSelfOutput/BertOutput). */
export function residualNorm(h: Tensor, input: Tensor, dropout: Dropout, norm: LayerNorm): Tensor {
  const dropped = dropout.forward(h);
  h.dispose();
  const sum = add(dropped, input);
  dropped.dispose();
  const out = norm.forward(sum);
  sum.dispose();
  return out;
}
