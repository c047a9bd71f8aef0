/**
 * The common shape that the TSV, CSV and JSONL readers produce, and the `FILE:LINE: reason` error
 * helper and line walk they share.
 *
 * @module
 */

import type { DecodedLines } from "./utf8.ts";

/** One data row of a file, before its columns are interpreted. */
export interface RawRow {
  /** The 1-based line where the row starts. */
  line: number;
  /** Column name to value; absent when the row could not be read (see `error`). */
  values?: Record<string, unknown>;
  /** Why the row could not be read (wrong field count, bad JSON, invalid UTF-8, ...). */
  error?: string;
}

/** A file read into a header and rows. */
export interface RawTable {
  /** The column names, in file order (for JSONL: the keys of the first object). */
  columns: string[];
  /** The 1-based line of the header (for JSONL: of the first object). */
  headerLine: number;
  /** The data rows, in file order. */
  rows: RawRow[];
}

/** Returns an Error whose message starts with `FILE:LINE: `. */
export function fileError(path: string, line: number, message: string): Error {
  return new Error(`${path}:${line}: ${message}`);
}

/** Returns the index of the first line that is not blank, or -1 when all are. */
export function firstNonBlank(lines: readonly string[]): number {
  return lines.findIndex((l) => l.trim() !== "");
}

/** Removes one trailing `\r` (CRLF files). */
export function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Checks header names: none empty, none repeated. */
export function checkHeader(path: string, line: number, columns: readonly string[]): void {
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    if (name === "") throw fileError(path, line, `header field ${i + 1} is empty`);
    if (seen.has(name)) throw fileError(path, line, `duplicate column "${name}" in header`);
    seen.add(name);
  });
}

/**
 * The non-blank lines of `decoded` from index `from` on, each with its 1-based line number and
 * without a trailing `\r`, for line-per-row formats (TSV, JSONL). A line with invalid UTF-8 is not
 * yielded: it is appended to `rows` as a bad row naming the byte.
 */
export function* dataLines(
  decoded: DecodedLines,
  rows: RawRow[],
  from = 0,
): Generator<{ line: number; text: string }> {
  const { lines, invalid } = decoded;
  for (let i = from; i < lines.length; i++) {
    const text = stripCr(lines[i]);
    if (text.trim() === "" && !invalid.has(i)) continue;
    if (invalid.has(i)) {
      rows.push({ line: i + 1, error: `invalid UTF-8 at byte ${invalid.get(i)}` });
      continue;
    }
    yield { line: i + 1, text };
  }
}
