/**
 * Reads JSON Lines files: one JSON object per line; blank lines are ignored.
 *
 * @module
 */

import { dataLines, fileError, type RawRow, type RawTable } from "./table.ts";
import type { DecodedLines } from "./utf8.ts";

/**
 * Parses decoded JSONL lines into rows. The columns are the keys of the first line holding an
 * object; a line that is not a JSON object, or has invalid UTF-8, is a bad row.
 */
export function readJsonl(path: string, decoded: DecodedLines): RawTable {
  const rows: RawRow[] = [];
  let columns: string[] | undefined;
  let headerLine = 1;
  for (const { line, text } of dataLines(decoded, rows)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      rows.push({ line, error: `invalid JSON: ${(e as Error).message}` });
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      rows.push({ line, error: "expected a JSON object" });
      continue;
    }
    const values = value as Record<string, unknown>;
    if (columns === undefined) {
      columns = Object.keys(values);
      headerLine = line;
    }
    rows.push({ line, values });
  }
  if (rows.length === 0) throw fileError(path, 1, "file is empty");
  return { columns: columns ?? [], headerLine, rows };
}
