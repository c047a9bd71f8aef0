/**
 * Picks the text, text-pair and label columns of a file: from the options when given, else from
 * well-known names (GLUE, MRPC, common CSV/JSONL datasets).
 *
 * @module
 */

import { fileError } from "./table.ts";

/** Column options, as accepted by `loadTextClassificationFile`. */
export interface ColumnOptions {
  /** The column holding the text (first sequence). Default: auto-detected. */
  textColumn?: string;
  /** The column holding the second sequence of a pair task. Default: auto-detected. */
  textPairColumn?: string;
  /** The column holding the label. Default: auto-detected. */
  labelColumn?: string;
}

/** The resolved columns. */
export interface Columns {
  /** The text column. */
  text: string;
  /** The text-pair column, when the task has pairs. */
  textPair?: string;
  /** The label column. */
  label: string;
}

/** Known (first, second) sequence column pairs, tried in order before single-text names. */
export const PAIR_COLUMNS: readonly (readonly [string, string])[] = [
  ["sentence1", "sentence2"], // RTE, WNLI, STS-B
  ["#1 String", "#2 String"], // MRPC
  ["question1", "question2"], // QQP
  ["question", "sentence"], // QNLI
  ["premise", "hypothesis"], // MNLI, SNLI
];

/** Known single-text column names, tried in order. */
export const TEXT_COLUMNS: readonly string[] = [
  "sentence",
  "text",
  "content",
  "review",
  "document",
  "body",
];

/** Known label column names, tried in order. */
export const LABEL_COLUMNS: readonly string[] = ["label", "Quality", "labels", "class", "target"];

function find(columns: readonly string[], name: string): string | undefined {
  if (columns.includes(name)) return name;
  const lower = name.toLowerCase();
  return columns.find((c) => c.toLowerCase() === lower);
}

/**
 * Resolves the columns to use.
 *
 * @throws {Error} `FILE:LINE: option NAME: ...` when a named column is missing or none of the
 *   known names is present.
 */
export function resolveColumns(
  path: string,
  headerLine: number,
  columns: readonly string[],
  options: ColumnOptions,
): Columns {
  const have = `(columns: ${columns.join(", ") || "none"})`;
  const named = (option: keyof ColumnOptions): string | undefined => {
    const name = options[option];
    if (name === undefined) return undefined;
    if (!columns.includes(name)) {
      throw fileError(path, headerLine, `option ${option}: column "${name}" not found ${have}`);
    }
    return name;
  };
  let text = named("textColumn");
  let textPair = named("textPairColumn");
  const label = named("labelColumn") ??
    LABEL_COLUMNS.map((n) => find(columns, n)).find((c) => c !== undefined);
  if (label === undefined) {
    throw fileError(
      path,
      headerLine,
      `option labelColumn: no label column found; tried ${LABEL_COLUMNS.join(", ")} ${have}`,
    );
  }
  if (text === undefined) {
    for (const [a, b] of PAIR_COLUMNS) {
      const ca = find(columns, a);
      const cb = find(columns, b);
      if (ca !== undefined && cb !== undefined && (textPair === undefined || textPair === cb)) {
        text = ca;
        textPair = cb;
        break;
      }
    }
  }
  if (text === undefined) {
    text = TEXT_COLUMNS.map((n) => find(columns, n)).find((c) =>
      c !== undefined && c !== label && c !== textPair
    );
  }
  if (text === undefined) {
    throw fileError(
      path,
      headerLine,
      `option textColumn: no text column found; tried ${TEXT_COLUMNS.join(", ")} ${have}`,
    );
  }
  if (text === label || textPair === label || text === textPair) {
    throw fileError(
      path,
      headerLine,
      `options textColumn/textPairColumn/labelColumn must name different columns ` +
        `(text "${text}", pair "${textPair ?? ""}", label "${label}")`,
    );
  }
  return textPair === undefined ? { text, label } : { text, textPair, label };
}
