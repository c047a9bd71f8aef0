/**
 * transformers.js `TextClassificationPipeline`: label and score per text, from id2label.
 * @module
 */

import { PipelineBase, softmax, topK } from "./base.ts";

/** One label with its probability. */
export interface TextClassificationOutput {
  /** From the config's id2label (`LABEL_i` when absent). */
  label: string;
  /** Softmax probability (sigmoid for a single-output model, as HF). */
  score: number;
}

/** Options of a text-classification call. */
export interface TextClassificationOptions {
  /** Labels per text, highest first (default 1); null for every label. */
  top_k?: number | null;
}

/**
 * Classifies texts with a sequence-classification model (transformers.js semantics): with
 * top_k 1, one `{label, score}` per text; otherwise, per text, the top_k labels (an array of
 * arrays for several texts).
 */
export class TextClassificationPipeline extends PipelineBase {
  /** The task name. */
  readonly task = "text-classification";

  /**
   * Classifies one text or several.
   * @throws {Error} for a bad top_k.
   */
  async call(
    texts: string | string[],
    options: TextClassificationOptions = {},
  ): Promise<TextClassificationOutput[] | TextClassificationOutput[][]> {
    const list = typeof texts === "string" ? [texts] : texts;
    const config = this.model.config as unknown as { id2label?: Record<string, string> };
    const id2label = config.id2label ?? {};
    const k = options.top_k === undefined ? 1 : options.top_k;
    if (k !== null && !(Number.isInteger(k) && k >= 1)) {
      throw new Error(`text-classification: top_k must be a positive integer or null, got ${k}`);
    }
    const out: TextClassificationOutput[][] = [];
    await this.run(list, (logits, shape) => {
      const [batch, n] = shape;
      for (let i = 0; i < batch; i++) {
        const scores = n === 1 ? [1 / (1 + Math.exp(-logits[i]))] : softmax(logits, i * n, n);
        out.push(
          topK(scores, k ?? n).map((j) => ({
            label: id2label[String(j)] ?? `LABEL_${j}`,
            score: scores[j],
          })),
        );
      }
    });
    if (k === 1) return out.map((o) => o[0]);
    return typeof texts === "string" ? out[0] : out;
  }
}
