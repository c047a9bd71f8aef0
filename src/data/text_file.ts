/**
 * Loads a labelled text-classification file (GLUE-style TSV, CSV or JSONL) into a
 * {@linkcode Dataset}.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Dataset, Example } from "./types.ts";
import { type ColumnOptions, type Columns, resolveColumns } from "./columns.ts";
import { buildLabelMap, isRegressionLabels, labelWarnings } from "./labels.ts";
import { fileError, type RawRow, type RawTable } from "./table.ts";
import { decodeUtf8Lines } from "./utf8.ts";
import { readTsv } from "./tsv.ts";
import { readCsv } from "./csv.ts";
import { readJsonl } from "./jsonl.ts";

/** A supported file format. */
export type TextFileFormat = "tsv" | "csv" | "jsonl";

/** Options of {@linkcode loadTextClassificationFile}. */
export interface TextFileOptions extends ColumnOptions {
  /** Skip (and count) bad rows instead of throwing on the first one. Default `false`. */
  skipBadRows?: boolean;
  /**
   * The allowed labels, in id order (e.g. `Object.values(train.id2label)` when loading the eval
   * file, so both share ids). A row with another label is bad. Default: the labels found.
   */
  labels?: readonly string[];
  /** The format; default from the extension (`.tsv`, `.csv`, `.jsonl`/`.ndjson`). */
  format?: TextFileFormat;
  /** How many skip reasons to keep in `skippedReasons`. Default 5. */
  maxSkippedReasons?: number;
  /**
   * Labels are regression targets (every label must be a number). Default: detected, true when
   * the labels are numbers and one is not an integer.
   */
  regression?: boolean;
}

const EXTENSIONS: Record<string, TextFileFormat> = {
  tsv: "tsv",
  csv: "csv",
  jsonl: "jsonl",
  ndjson: "jsonl",
};

/** Returns the format of a path from its extension, or `undefined`. */
export function formatFromPath(path: string): TextFileFormat | undefined {
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  return m ? EXTENSIONS[m[1].toLowerCase()] : undefined;
}

interface Pending {
  text: string;
  textPair?: string;
  label: string;
  line?: number;
}

function labelString(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim();
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  return undefined;
}

/** Returns the trimmed text in a column, or `{ bad }` with the reason it is unusable. */
function textField(values: Record<string, unknown>, col: string): string | { bad: string } {
  const value = values[col];
  if (value === undefined || value === null) return { bad: `missing column "${col}"` };
  if (typeof value !== "string") {
    return { bad: `column "${col}": expected a string, got ${typeof value}` };
  }
  const text = value.trim();
  return text === "" ? { bad: `column "${col}": empty text` } : text;
}

/** Checks one row; returns the example or the reason it is bad. */
function checkRow(
  row: RawRow,
  cols: Columns,
  allowed: ReadonlySet<string> | undefined,
): Pending | string {
  if (row.error !== undefined || row.values === undefined) return row.error ?? "unreadable row";
  const v = row.values;
  const text = textField(v, cols.text);
  if (typeof text !== "string") return text.bad;
  const textPair = cols.textPair === undefined ? undefined : textField(v, cols.textPair);
  if (textPair !== undefined && typeof textPair !== "string") return textPair.bad;
  const raw = v[cols.label];
  if (raw === undefined || raw === null) return `missing column "${cols.label}"`;
  const label = labelString(raw);
  if (label === undefined) {
    return `column "${cols.label}": expected a string or number label, got ${typeof raw}`;
  }
  if (label === "") return `column "${cols.label}": empty label`;
  if (allowed !== undefined && !allowed.has(label)) {
    return `column "${cols.label}": unknown label "${label}" (option labels: ${
      [...allowed].join(", ")
    })`;
  }
  return textPair === undefined ? { text, label } : { text, textPair, label };
}

async function readTable(
  path: string,
  bytes: Uint8Array,
  format: TextFileFormat,
): Promise<RawTable> {
  if (bytes.length === 0) throw fileError(path, 1, "file is empty");
  const decoded = decodeUtf8Lines(bytes);
  if (format === "tsv") return readTsv(path, decoded);
  if (format === "csv") return await readCsv(path, decoded);
  return readJsonl(path, decoded);
}

/**
 * Loads a labelled text-classification file: GLUE-style TSV (header row, tab-separated, no
 * quoting), RFC 4180 CSV, or JSONL. Columns default to well-known names (`sentence`,
 * `sentence1`/`sentence2`, `#1 String`/`#2 String`, `label`, `Quality`, ...). Labels map to ids
 * (see `buildLabelMap`).
 *
 * @param path The file to read.
 * @param options Columns, label set, bad-row handling, format.
 * @returns The dataset; `name` is the path as given.
 * @throws {Error} `FILE:LINE: reason` for an empty file, a bad header, a missing column option,
 *   or (without `skipBadRows`) the first bad row: wrong field count, missing column, empty text,
 *   unknown label, invalid JSON, invalid UTF-8.
 */
export async function loadTextClassificationFile(
  path: string | URL,
  options: TextFileOptions = {},
): Promise<Dataset> {
  const file = path instanceof URL ? fileURLToPath(path) : path;
  checkedFormat(file, options); // before touching the file system
  return await parseTextClassification(await Deno.readFile(file), file, options);
}

function checkedFormat(file: string, options: TextFileOptions): TextFileFormat {
  const format = options.format ?? formatFromPath(file);
  if (format === undefined) {
    throw new Error(
      `${file}: option format: cannot tell the format from the extension; use .tsv, .csv or .jsonl`,
    );
  }
  if (!["tsv", "csv", "jsonl"].includes(format)) {
    throw new Error(`${file}: option format: unknown format "${format}" (tsv, csv, jsonl)`);
  }
  return format;
}

/**
 * {@linkcode loadTextClassificationFile} on bytes already in memory (a file picked in a browser,
 * a `fetch` body): no file system.
 *
 * @param bytes The file's contents (UTF-8).
 * @param file The file's name: messages say `FILE:LINE`, and the format defaults from its extension.
 * @param options As {@linkcode loadTextClassificationFile}.
 * @throws {Error} as {@linkcode loadTextClassificationFile}.
 */
export async function parseTextClassification(
  bytes: Uint8Array,
  file: string,
  options: TextFileOptions = {},
): Promise<Dataset> {
  const format = checkedFormat(file, options);
  const table = await readTable(file, bytes, format);
  const cols = resolveColumns(file, table.headerLine, table.columns, options);
  const allowed = options.labels ? new Set(options.labels) : undefined;
  if (options.labels) buildLabelMap([], options.labels); // validates the option early
  const keep = options.maxSkippedReasons ?? 5;
  const pending: Pending[] = [];
  const skippedReasons: string[] = [];
  let skipped = 0;
  for (const row of table.rows) {
    const result = checkRow(row, cols, allowed);
    if (typeof result !== "string") {
      result.line = row.line;
      pending.push(result);
      continue;
    }
    if (!options.skipBadRows) throw fileError(file, row.line, result);
    skipped++;
    if (skippedReasons.length < keep) skippedReasons.push(`${file}:${row.line}: ${result}`);
  }
  if (pending.length === 0) {
    const why = skipped > 0 ? `; ${skipped} bad rows skipped, first: ${skippedReasons[0]}` : "";
    throw fileError(file, table.headerLine, `no examples after the header${why}`);
  }
  const labels = pending.map((p) => p.label);
  const regression = options.regression ??
    (options.labels === undefined && isRegressionLabels(labels));
  if (regression) {
    const bad = pending.find((p) => !Number.isFinite(Number(p.label)) || p.label === "");
    if (bad) {
      throw fileError(file, bad.line!, `regression label "${bad.label}" is not a number`);
    }
    const examples: Example[] = pending.map((p) => ({
      text: p.text,
      ...(p.textPair === undefined ? {} : { textPair: p.textPair }),
      label: Number(p.label),
    }));
    return {
      name: file,
      examples,
      id2label: { 0: "LABEL_0" },
      label2id: { LABEL_0: 0 },
      skipped,
      skippedReasons,
      regression: true,
      warnings: [],
    };
  }
  const { id2label, label2id } = buildLabelMap(labels, options.labels);
  const examples: Example[] = pending.map((p) =>
    p.textPair === undefined
      ? { text: p.text, label: label2id[p.label] }
      : { text: p.text, textPair: p.textPair, label: label2id[p.label] }
  );
  const warnings = labelWarnings(file, labels, pending.map((p) => p.line!));
  return { name: file, examples, id2label, label2id, skipped, skippedReasons, warnings };
}
