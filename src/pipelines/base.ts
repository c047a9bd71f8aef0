/**
 * What every pipeline shares: a model and its tokenizer, tokenization with transformers.js
 * defaults (padding, truncation to what the model accepts), and a no-grad eval forward whose
 * logits come back to the CPU in one readback.
 * @module
 */

import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import { tidy } from "../tensor/scope.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import type { PreTrainedModel } from "../models/modeling_utils.ts";
import { AutoTokenizer, type PreTrainedTokenizer } from "../data/auto_tokenizer.ts";
import type { FromPretrainedOptions } from "../models/pretrained.ts";

/** Options of `pipeline()` (transformers.js names where they exist). */
export interface PipelineOptions extends Omit<FromPretrainedOptions, "device"> {
  /** The WebGPU device. */
  device: Device;
  /**
   * The tokenizer, or the folder / hub id to load it from; default: the model's folder (its
   * tokenizer.json or vocab.txt).
   */
  tokenizer?: PreTrainedTokenizer | string;
  /** Texts per forward (default 16); longer inputs run in several forwards. */
  batch_size?: number;
  /** Tokens per text (default: what the model and tokenizer accept); longer texts are cut. */
  max_length?: number;
}

/** A model with the forward the pipelines call. */
export interface PipelineModel extends PreTrainedModel {
  /** Logits of a batch: [batch, num_labels] or [batch, seq, vocab]. */
  forward(inputs: {
    input_ids: Tensor;
    attention_mask: Tensor;
    token_type_ids?: Tensor | null;
  }): { logits: Tensor };
}

/** The config fields the pipelines read. */
interface PipelineConfig {
  max_position_embeddings?: number;
  type_vocab_size?: number;
  model_type: string;
  pad_token_id?: number | null;
}

/** A tokenized chunk of texts. */
export interface Encoded {
  /** Token ids per row, unpadded. */
  rows: number[][];
  /** Padded ids [batch, seq]. */
  input_ids: Int32Array;
  /** [batch, seq]. */
  seqLen: number;
}

/** The model, its tokenizer and the shared mechanics (see the module docs). */
export class PipelineBase {
  /** The model (eval mode). */
  readonly model: PipelineModel;
  /** Its tokenizer. */
  readonly tokenizer: PreTrainedTokenizer;
  /** Texts per forward. */
  readonly batch_size: number;
  readonly #maxLength: number | undefined;

  /**
   * A pipeline over a loaded model and tokenizer.
   * @throws {Error} naming the option for a bad batch_size or max_length.
   */
  constructor(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizer,
    options: { batch_size?: number; max_length?: number } = {},
  ) {
    const batch = options.batch_size ?? 16;
    if (!Number.isInteger(batch) || batch < 1) {
      throw new Error(`pipeline: batch_size must be a positive integer, got ${batch}`);
    }
    const max = options.max_length;
    if (max !== undefined && !(Number.isInteger(max) && max >= 2)) {
      throw new Error(`pipeline: max_length must be an integer ≥ 2, got ${max}`);
    }
    this.model = model.eval() as PipelineModel;
    this.tokenizer = tokenizer;
    this.batch_size = batch;
    this.#maxLength = max;
  }

  /**
   * Longest input in tokens: the `max_length` option, else the tokenizer's model_max_length,
   * capped by the position table (RoBERTa's positions start at pad_token_id + 1).
   */
  get max_length(): number {
    const c = this.model.config as unknown as PipelineConfig;
    let limit = Math.min(512, this.tokenizer.model_max_length, this.#maxLength ?? Infinity);
    if (c.max_position_embeddings) {
      const offset = c.model_type === "roberta" ? (c.pad_token_id ?? 1) + 1 : 0;
      limit = Math.min(limit, c.max_position_embeddings - offset);
    }
    return limit;
  }

  /**
   * Runs the model on `texts` (truncated to {@linkcode PipelineBase.max_length}, padded to the
   * longest), in chunks of `batch_size`, calling `each` with every chunk's logits on the CPU.
   */
  async run(
    texts: string[],
    each: (logits: Float32Array, shape: readonly number[], enc: Encoded, first: number) => void,
  ): Promise<void> {
    const device = (this.model.parameters().next().value as Tensor).device;
    const types = (this.model.config as unknown as PipelineConfig).type_vocab_size !== undefined;
    for (let first = 0; first < texts.length; first += this.batch_size) {
      const chunk = texts.slice(first, first + this.batch_size);
      const enc = this.tokenizer.batch(chunk, null, { max_length: this.max_length });
      const shape = [enc.batch, enc.seqLen];
      const logits = noGrad(() =>
        tidy(() => {
          const input_ids = Tensor.from(device, enc.input_ids, shape, { dtype: "i32" });
          const attention_mask = Tensor.from(device, enc.attention_mask, shape, { dtype: "i32" });
          const token_type_ids = types
            ? Tensor.from(device, enc.token_type_ids, shape, { dtype: "i32" })
            : null;
          return this.model.forward({ input_ids, attention_mask, token_type_ids }).logits.keep();
        })
      );
      try {
        const values = (await logits.toArray()) as Float32Array;
        const rows = Array.from({ length: enc.batch }, (_, i) => {
          const row = Array.from(enc.input_ids.subarray(i * enc.seqLen, (i + 1) * enc.seqLen));
          const len = enc.attention_mask.subarray(i * enc.seqLen, (i + 1) * enc.seqLen)
            .reduce((a, b) => a + b, 0);
          return row.slice(0, len);
        });
        each(values, logits.shape, { rows, input_ids: enc.input_ids, seqLen: enc.seqLen }, first);
      } finally {
        logits.dispose();
      }
    }
  }

  /** Frees the model's GPU memory. */
  dispose(): void {
    this.model.dispose();
  }
}

/** Loads the tokenizer a pipeline uses (see {@linkcode PipelineOptions.tokenizer}). */
export async function loadPipelineTokenizer(
  model: string,
  options: PipelineOptions,
): Promise<PreTrainedTokenizer> {
  const t = options.tokenizer ?? model;
  return typeof t === "string" ? await AutoTokenizer.from_pretrained(t, options) : t;
}

/** Softmax of `logits[from, from + n)`. */
export function softmax(logits: Float32Array, from: number, n: number): number[] {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, logits[from + j]);
  const e = Array.from({ length: n }, (_, j) => Math.exp(logits[from + j] - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Indices of the `k` largest scores, highest first (ties: lower index first). */
export function topK(scores: readonly number[], k: number): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b).slice(0, k);
}
