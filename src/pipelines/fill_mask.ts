/**
 * transformers.js `FillMaskPipeline`: the most likely tokens at the mask position.
 * @module
 */

import { PipelineBase, softmax, topK } from "./base.ts";

/** One candidate token for the mask. */
export interface FillMaskOutput {
  /** Softmax probability at the mask position. */
  score: number;
  /** Token id. */
  token: number;
  /** The token decoded. */
  token_str: string;
  /** The input with the mask replaced by the token, special tokens removed. */
  sequence: string;
}

/** Options of a fill-mask call. */
export interface FillMaskOptions {
  /** Candidates per text (default 5). */
  top_k?: number;
}

/**
 * Fills the (first) mask token of each text with a masked-LM model: per text, the top_k
 * candidates (an array of arrays for several texts), as transformers.js.
 */
export class FillMaskPipeline extends PipelineBase {
  /** The task name. */
  readonly task = "fill-mask";

  /** The mask token: tokenizer_config.json's `mask_token`, else "[MASK]" or "<mask>". */
  get mask_token(): string {
    const c = this.tokenizer.tokenizer_config.mask_token;
    const named = typeof c === "string" ? c : (c as { content?: unknown } | undefined)?.content;
    if (typeof named === "string") return named;
    const tok = this.tokenizer.loaded.tokenizer;
    return tok.token_to_id("[MASK]") !== undefined ? "[MASK]" : "<mask>";
  }

  /** Id of {@linkcode FillMaskPipeline.mask_token}. @throws {Error} when the vocabulary lacks it. */
  get mask_token_id(): number {
    const id = this.tokenizer.loaded.tokenizer.token_to_id(this.mask_token);
    if (id === undefined || id === null) {
      throw new Error(`fill-mask: the tokenizer has no mask token "${this.mask_token}"`);
    }
    return id;
  }

  /**
   * Candidates for the mask of one text or several.
   * @throws {Error} naming the text when it has no mask token, or for a bad top_k.
   */
  async call(
    texts: string | string[],
    options: FillMaskOptions = {},
  ): Promise<FillMaskOutput[] | FillMaskOutput[][]> {
    const list = typeof texts === "string" ? [texts] : texts;
    const k = options.top_k ?? 5;
    if (!(Number.isInteger(k) && k >= 1)) {
      throw new Error(`fill-mask: top_k must be a positive integer, got ${k}`);
    }
    const maskId = this.mask_token_id;
    const out: FillMaskOutput[][] = [];
    await this.run(list, (logits, shape, enc, first) => {
      const [, seq, vocab] = shape;
      enc.rows.forEach((ids, i) => {
        const at = ids.indexOf(maskId);
        if (at < 0) {
          throw new Error(
            `fill-mask: mask token (${this.mask_token}) not found in text ${
              JSON.stringify(list[first + i])
            }`,
          );
        }
        const scores = softmax(logits, (i * seq + at) * vocab, vocab);
        out.push(
          topK(scores, k).map((token) => {
            const filled = [...ids];
            filled[at] = token;
            return {
              score: scores[token],
              token,
              token_str: this.tokenizer.decode([token]),
              sequence: this.tokenizer.decode(filled, { skip_special_tokens: true }),
            };
          }),
        );
      });
    });
    return typeof texts === "string" ? out[0] : out;
  }
}
