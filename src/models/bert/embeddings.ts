import type { Device } from "../../runtime/device.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { add } from "../../ops/basic.ts";
import { type InitOptions, Module } from "../../nn/module.ts";
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

  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super();
    this.#device = device;
    this.#config = config;
    this.word_embeddings = new Embedding(device, config.vocab_size, config.hidden_size, {
      ...init,
      padding_idx: config.pad_token_id ?? undefined,
    });
    this.position_embeddings = new Embedding(
      device,
      config.max_position_embeddings,
      config.hidden_size,
      { ...init, padding_idx: this.positionPaddingIdx(config) },
    );
    this.token_type_embeddings = new Embedding(
      device,
      config.type_vocab_size,
      config.hidden_size,
      init,
    );
    this.LayerNorm = new LayerNorm(device, config.hidden_size, { eps: config.layer_norm_eps });
    this.dropout = new Dropout(config.hidden_dropout_prob);
  }

  /** padding_idx of the position table: none for BERT (RoBERTa's is pad_token_id). */
  protected positionPaddingIdx(_config: BertConfig): number | null {
    return null;
  }

  /** How far position ids are shifted (RoBERTa: pad_token_id + 1); 0 for BERT. */
  protected positionOffset(_config: BertConfig): number {
    return 0;
  }

  /** Position ids i32 [B, S] or [S] for `input_ids` [B, S]: 0..S−1 for BERT (HF default). */
  protected positionIds(input_ids: Tensor): Tensor {
    return this.constant("positions", [input_ids.shape[1]]);
  }

  /** A cached constant i32 tensor (position ids 0..S−1, or zeros) kept across steps. */
  protected constant(kind: "positions" | "zeros", shape: number[]): Tensor {
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
      throw new Error(
        `${this.constructor.name}: input_ids must be i32 [batch, seq], got ${input_ids}`,
      );
    }
    const offset = this.positionOffset(this.#config);
    if (seq + offset > this.#config.max_position_embeddings) {
      throw new Error(
        `${this.constructor.name}: sequence length ${seq}${
          offset ? ` + position offset ${offset}` : ""
        } exceeds max_position_embeddings ${this.#config.max_position_embeddings}`,
      );
    }
    const types = token_type_ids ?? this.constant("zeros", [batch, seq]);
    const embeddings = add(
      add(this.word_embeddings.call(input_ids), this.token_type_embeddings.call(types)),
      this.position_embeddings.call(this.positionIds(input_ids)),
    );
    return this.dropout.call(this.LayerNorm.call(embeddings));
  }

  /** Frees parameters and cached id tensors. */
  override dispose(): void {
    for (const t of this.#ids.values()) t.dispose();
    this.#ids.clear();
    super.dispose();
  }
}
