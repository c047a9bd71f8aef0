/**
 * Shared types of the data layer: one labelled example and a loaded dataset.
 *
 * @module
 */

/** One labelled text (or text pair) for sequence classification. */
export interface Example {
  /** The text to classify (the first sequence of a pair). */
  text: string;
  /** The second sequence of a sentence-pair task (RTE, MRPC, ...), if any. */
  textPair?: string;
  /** The label id, an index into {@linkcode Dataset.id2label} (the target for regression). */
  label: number;
}

/** A loaded classification dataset with its label mapping. */
export interface Dataset {
  /** A short name for reports and `metrics.json` (the file path, or `spam-assassin`). */
  name: string;
  /** The examples, in file order. */
  examples: Example[];
  /** Label id to label name, as saved in a model's `config.json`. */
  id2label: Record<number, string>;
  /** Label name to label id, the inverse of {@linkcode Dataset.id2label}. */
  label2id: Record<string, number>;
  /** How many bad rows were skipped (only non-zero with `skipBadRows`). */
  skipped: number;
  /** The first few reasons for skipped rows, each `FILE:LINE: reason`. */
  skippedReasons: string[];
  /**
   * True when the labels are real numbers (a regression target, HF `num_labels` 1): each
   * example's `label` is then the value itself and `id2label` is `{0: "LABEL_0"}`.
   */
  regression?: boolean;
  /** Warnings about the data (e.g. a rare label that looks like a typo, with `file:line`). */
  warnings?: string[];
}
