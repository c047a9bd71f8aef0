/**
 * Reads RFC 4180 CSV files (quoted fields with commas, quotes and newlines) with the `csv-parse`
 * package, loaded on first use.
 *
 * @module
 */

import { checkHeader, fileError, type RawRow, type RawTable } from "./table.ts";
import type { DecodedLines } from "./utf8.ts";

type CsvRecord = { record: string[]; info: { lines: number } };
type CsvParse = (input: string, options: Record<string, unknown>) => CsvRecord[];

let parser: Promise<CsvParse> | undefined;

function loadParser(): Promise<CsvParse> {
  parser ??= import("npm:csv-parse@7.0.3/sync").then((m) => m.parse as unknown as CsvParse);
  return parser;
}

function isBlank(line: string | undefined): boolean {
  return line !== undefined && (line === "" || line === "\r");
}

/**
 * Parses decoded CSV lines into a header and rows. A row spanning a line with invalid UTF-8 is a
 * bad row; a syntax error the parser cannot recover from (an unclosed quote) throws with its line.
 */
export async function readCsv(path: string, decoded: DecodedLines): Promise<RawTable> {
  const parse = await loadParser();
  const { lines, invalid } = decoded;
  let records: CsvRecord[];
  try {
    records = parse(lines.join("\n"), {
      bom: true,
      info: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      record_delimiter: ["\r\n", "\n", "\r"],
    });
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw fileError(path, err.lines ?? 1, `CSV syntax error: ${err.message}`);
  }
  if (records.length === 0) throw fileError(path, 1, "file is empty");
  // csv-parse reports the line where a record ends; the record starts at the first non-blank
  // line after the previous record.
  const spans: [number, number][] = [];
  let prevEnd = 0;
  for (const r of records) {
    let start = prevEnd + 1;
    while (start < r.info.lines && isBlank(lines[start - 1])) start++;
    spans.push([start, r.info.lines]);
    prevEnd = r.info.lines;
  }
  const badIn = (start: number, end: number): number | undefined => {
    for (let l = start; l <= end; l++) if (invalid.has(l - 1)) return l;
    return undefined;
  };
  const [hStart, hEnd] = spans[0];
  const hBad = badIn(hStart, hEnd);
  if (hBad !== undefined) {
    throw fileError(path, hBad, `invalid UTF-8 at byte ${invalid.get(hBad - 1)} of the header`);
  }
  const columns = records[0].record.map((c) => c.trim());
  checkHeader(path, hStart, columns);
  const rows: RawRow[] = [];
  for (let k = 1; k < records.length; k++) {
    const [line, end] = spans[k];
    const fields = records[k].record;
    const bad = badIn(line, end);
    if (bad !== undefined) {
      rows.push({ line, error: `invalid UTF-8 at byte ${invalid.get(bad - 1)} of line ${bad}` });
    } else if (fields.length !== columns.length) {
      rows.push({
        line,
        error: `expected ${columns.length} comma-separated fields (${
          columns.join(", ")
        }), found ${fields.length}`,
      });
    } else {
      const values: Record<string, unknown> = {};
      columns.forEach((c, i) => values[c] = fields[i]);
      rows.push({ line, values });
    }
  }
  return { columns, headerLine: hStart, rows };
}
