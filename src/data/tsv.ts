/**
 * Reads GLUE-style TSV files: a header row, then one row per line, fields split on tabs. Quoting
 * is off, as in GLUE (a field may contain `"`), so a field can hold neither a tab nor a newline.
 *
 * @module
 */

import {
  checkHeader,
  dataLines,
  fileError,
  firstNonBlank,
  type RawRow,
  type RawTable,
  stripCr,
} from "./table.ts";
import type { DecodedLines } from "./utf8.ts";

/** Splits decoded TSV lines into a header and rows; blank lines are ignored. */
export function readTsv(path: string, decoded: DecodedLines): RawTable {
  const { lines, invalid } = decoded;
  const h = firstNonBlank(lines);
  if (h < 0) throw fileError(path, 1, "file is empty");
  if (invalid.has(h)) {
    throw fileError(path, h + 1, `invalid UTF-8 at byte ${invalid.get(h)} of the header`);
  }
  const columns = stripCr(lines[h]).split("\t").map((c) => c.trim());
  checkHeader(path, h + 1, columns);
  const rows: RawRow[] = [];
  for (const { line, text } of dataLines(decoded, rows, h + 1)) {
    const fields = text.split("\t");
    if (fields.length !== columns.length) {
      rows.push({
        line,
        error: `expected ${columns.length} tab-separated fields (${
          columns.join(", ")
        }), found ${fields.length}`,
      });
      continue;
    }
    const values: Record<string, unknown> = {};
    columns.forEach((c, k) => values[c] = fields[k]);
    rows.push({ line, values });
  }
  return { columns, headerLine: h + 1, rows };
}
