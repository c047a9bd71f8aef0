import type { Device } from "../runtime/device.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { embedding } from "../ops/embedding.ts";
import { type Generator, normal_ } from "./init.ts";
import { emptyParameter, type InitOptions, Module, parameter } from "./module.ts";

/** Options of {@linkcode Embedding}. */
export interface EmbeddingOptions extends InitOptions {
  /** This row starts at zero and gets no gradient (negative counts from the end). */
  padding_idx?: number | null;
  /** Seed (or generator) of the N(0, 1) initialisation; default: the global stream. */
  seed?: number | Generator;
}

/**
 * PyTorch `nn.Embedding`: a lookup table `weight` [num_embeddings, embedding_dim], initialised
 * N(0, 1) (seeded), with the `padding_idx` row zero.
 */
export class Embedding extends Module {
  /** Table [num_embeddings, embedding_dim]. */
  weight: Tensor;
  /** Rows. */
  readonly num_embeddings: number;
  /** Columns. */
  readonly embedding_dim: number;
  /** Row without gradient (normalised to [0, num_embeddings)), or null. */
  readonly padding_idx: number | null;

  /** A seeded N(0, 1) table. @throws {Error} for bad sizes or padding_idx. */
  constructor(
    device: Device,
    num_embeddings: number,
    embedding_dim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    for (
      const [what, v] of [["num_embeddings", num_embeddings], [
        "embedding_dim",
        embedding_dim,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new Error(`Embedding: ${what} must be a positive integer, got ${v}`);
      }
    }
    let pad = options.padding_idx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad < -num_embeddings || pad >= num_embeddings) {
        throw new Error(
          `Embedding: padding_idx must be within num_embeddings (${num_embeddings}), got ${pad}`,
        );
      }
      if (pad < 0) pad += num_embeddings;
    }
    this.num_embeddings = num_embeddings;
    this.embedding_dim = embedding_dim;
    this.padding_idx = pad;
    if (options.init === false) {
      this.weight = emptyParameter(device, [num_embeddings, embedding_dim], {
        label: "embedding.weight",
      });
      return;
    }
    const w = normal_(new Float32Array(num_embeddings * embedding_dim), 0, 1, options.seed);
    if (pad !== null) w.fill(0, pad * embedding_dim, (pad + 1) * embedding_dim);
    this.weight = parameter(device, w, [num_embeddings, embedding_dim], {
      label: "embedding.weight",
    });
  }

  /** ids i32 [...] → [..., embedding_dim]. Saves the ids. */
  forward(ids: Tensor): Tensor {
    return embedding(
      ids,
      this.weight,
      this.padding_idx === null ? {} : { paddingIdx: this.padding_idx },
    );
  }

  /** As PyTorch prints it. */
  extra_repr(): string {
    return `${this.num_embeddings}, ${this.embedding_dim}` +
      (this.padding_idx === null ? "" : `, padding_idx=${this.padding_idx}`);
  }
}
