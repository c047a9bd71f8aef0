import type { Device } from "../../runtime/device.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { free } from "../../tensor/scope.ts";
import { add } from "../../ops/basic.ts";
import { Module } from "../../nn/module.ts";
import { Embedding } from "../../nn/embedding.ts";
import { LayerNorm } from "../../nn/layernorm.ts";
import { Dropout } from "../../nn/dropout.ts";
import type { BertConfig } from "./config.ts";

/**
 * HF `BertEmbeddings`: word + position + token-type embeddings, LayerNorm, dropout.
 * Shapes: input_ids, token_type_ids i32 [batch, seq] → [batch, seq, hidden_size].
 */
export class BertEmbeddings extends Module {
  /** [vocab_size, hidden_size]. */
  word_embeddings: Embedding;
  /** [max_position_embeddings, hidden_size]. */
  position_embeddings: Embedding;
  /** [type_vocab_size, hidden_size]. */
  token_type_embeddings: Embedding;
  /** HF keeps the TF name `LayerNorm`. */
  LayerNorm: LayerNorm;
  /** hidden_dropout_prob. */
  dropout: Dropout;
  readonly #device: Device;
  readonly #config: BertConfig;
  readonly #ids = new Map<string, Tensor>();

  /** Creates the layers for `config` (weights initialised; see `initBertWeights`). */
  constructor(device: Device, config: BertConfig) {
    super();
    this.#device = device;
    this.#config = config;
    this.word_embeddings = new Embedding(device, config.vocab_size, config.hidden_size, {
      padding_idx: config.pad_token_id ?? undefined,
    });
    this.position_embeddings = new Embedding(
      device,
      config.max_position_embeddings,
      config.hidden_size,
    );
    this.token_type_embeddings = new Embedding(device, config.type_vocab_size, config.hidden_size);
    this.LayerNorm = new LayerNorm(device, config.hidden_size, { eps: config.layer_norm_eps });
    this.dropout = new Dropout(config.hidden_dropout_prob);
  }

  /** A cached constant i32 tensor (position ids 0..S−1, or zeros) kept across steps. */
  #constant(kind: "positions" | "zeros", shape: number[]): Tensor {
    const key = `${kind}:${shape}`;
    let t = this.#ids.get(key);
    if (!t || t.isDisposed) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = kind === "zeros"
        ? new Int32Array(n)
        : Int32Array.from({ length: n }, (_, i) => i);
      t = Tensor.from(this.#device, data, shape, { dtype: "i32" }).keep();
      this.#ids.set(key, t);
    }
    return t;
  }

  /**
   * input_ids, token_type_ids i32 [B, S] → [B, S, D].
   * @throws {Error} when the sequence is longer than max_position_embeddings.
   */
  forward(input_ids: Tensor, token_type_ids?: Tensor | null): Tensor {
    const [batch, seq] = input_ids.shape;
    if (input_ids.ndim !== 2 || input_ids.dtype !== "i32") {
      throw new Error(`BertEmbeddings: input_ids must be i32 [batch, seq], got ${input_ids}`);
    }
    if (seq > this.#config.max_position_embeddings) {
      throw new Error(
        `BertEmbeddings: sequence length ${seq} exceeds max_position_embeddings ` +
          `${this.#config.max_position_embeddings}`,
      );
    }
    const types = token_type_ids ?? this.#constant("zeros", [batch, seq]);
    const words = this.word_embeddings.forward(input_ids);
    const typeEmb = this.token_type_embeddings.forward(types);
    const pos = this.position_embeddings.forward(this.#constant("positions", [seq]));
    const partial = add(words, typeEmb);
    free(words, typeEmb);
    const sum = add(partial, pos);
    free(partial, pos);
    const normed = this.LayerNorm.forward(sum);
    sum.dispose();
    const out = this.dropout.forward(normed);
    normed.dispose();
    return out;
  }

  /** Frees parameters and cached id tensors. */
  override dispose(): void {
    for (const t of this.#ids.values()) t.dispose();
    this.#ids.clear();
    super.dispose();
  }
}
