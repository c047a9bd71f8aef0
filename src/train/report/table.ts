/**
 * Comparison of training modes (full fine-tuning, VeLoRA, gradient checkpointing) as a terminal
 * table ([cli-table3](https://www.npmjs.com/package/cli-table3)) or a Markdown table.
 *
 * @module
 */
import Table from "npm:cli-table3@0.6.5";

/** One training run, as in `<output-dir>/metrics.json` (extra fields are ignored). */
export interface ComparisonRow {
  /** Training mode, e.g. `"full"`, `"velora"`, `"checkpointing"`. The `"full"` row is the baseline. */
  mode: string;
  /** Evaluation accuracy, a fraction in [0, 1]. */
  eval_accuracy: number;
  /** Evaluation binary F1, a fraction in [0, 1]; the column appears when any row has it. */
  eval_f1?: number;
  /** Peak live GPU memory during training, in bytes. */
  peak_bytes: number;
  /** Peak memory of tensors saved for backward, in bytes. */
  activation_bytes: number;
  /** Training throughput, in tokens per second. */
  tokens_per_second: number;
  /** Training wall time, in seconds. */
  seconds: number;
}

/** Options of the comparison formatters. */
export interface ComparisonOptions {
  /** Mode of the row the ratio columns divide by (default `"full"`). */
  baseline?: string;
}

const MIB = 1024 * 1024;
const DASH = "–";

/**
 * Formats a byte count with binary units and one decimal: `512 B`, `1.5 KiB`, `412.3 MiB`,
 * `1.2 GiB`. Negative counts keep their sign; non-finite input gives `–`.
 *
 * @param n A number of bytes.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return DASH;
  const abs = Math.abs(n);
  if (abs < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n / 1024;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  // 1023.96 KiB would print as "1024.0 KiB": move to the next unit instead.
  if (Math.abs(Number(value.toFixed(1))) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(1)} ${units[i]}`;
}

/**
 * Formats `value / base` as a ratio such as `0.62×`; `–` when either is missing, non-finite or
 * the base is 0.
 *
 * @param value Numerator.
 * @param base Denominator (the baseline run's value).
 */
export function formatRatio(value: number | undefined, base: number | undefined): string {
  if (value === undefined || base === undefined) return DASH;
  if (!Number.isFinite(value) || !Number.isFinite(base) || base === 0) return DASH;
  return `${(value / base).toFixed(2)}×`;
}

function fmtFixed(x: number | undefined, digits: number): string {
  return x === undefined || x === null || !Number.isFinite(x) ? DASH : x.toFixed(digits);
}

function fmtMiB(n: number): string {
  return Number.isFinite(n) ? `${(n / MIB).toFixed(1)} MiB` : DASH;
}

interface Grid {
  head: string[];
  align: ("left" | "right")[];
  body: string[][];
}

function buildGrid(rows: ComparisonRow[], options: ComparisonOptions): Grid {
  const base = rows.find((r) => r.mode === (options.baseline ?? "full"));
  const withF1 = rows.some((r) => r.eval_f1 !== undefined && r.eval_f1 !== null);
  const cols: { title: string; cell: (r: ComparisonRow) => string; align: "left" | "right" }[] = [
    { title: "mode", cell: (r) => r.mode, align: "left" },
    { title: "eval acc", cell: (r) => fmtFixed(r.eval_accuracy, 4), align: "right" },
  ];
  if (withF1) cols.push({ title: "eval F1", cell: (r) => fmtFixed(r.eval_f1, 4), align: "right" });
  cols.push({ title: "peak mem", cell: (r) => fmtMiB(r.peak_bytes), align: "right" });
  if (base) {
    cols.push({
      title: `peak vs ${base.mode}`,
      cell: (r) => formatRatio(r.peak_bytes, base.peak_bytes),
      align: "right",
    });
  }
  cols.push({ title: "activations", cell: (r) => fmtMiB(r.activation_bytes), align: "right" });
  if (base) {
    cols.push({
      title: `act. vs ${base.mode}`,
      cell: (r) => formatRatio(r.activation_bytes, base.activation_bytes),
      align: "right",
    });
  }
  cols.push({ title: "tokens/s", cell: (r) => fmtFixed(r.tokens_per_second, 0), align: "right" });
  if (base) {
    cols.push({
      title: `speed vs ${base.mode}`,
      cell: (r) => formatRatio(r.tokens_per_second, base.tokens_per_second),
      align: "right",
    });
  }
  cols.push({ title: "time (s)", cell: (r) => fmtFixed(r.seconds, 1), align: "right" });
  return {
    head: cols.map((c) => c.title),
    align: cols.map((c) => c.align),
    body: rows.map((r) => cols.map((c) => c.cell(r))),
  };
}

/**
 * Formats runs as a box-drawn terminal table (no colour codes). Memory is shown in MiB with one
 * decimal; when a row with mode `"full"` (or `options.baseline`) is present, ratio columns
 * (`peak vs full`, `act. vs full`, `speed vs full`) give each run's value divided by the
 * baseline's, e.g. `0.62×`.
 *
 * @param rows One entry per run, typically the parsed `metrics.json` files.
 * @param options Baseline mode for the ratios.
 * @returns The table, lines joined with `\n`, no trailing newline.
 */
export function formatComparisonTable(
  rows: ComparisonRow[],
  options: ComparisonOptions = {},
): string {
  const grid = buildGrid(rows, options);
  const table = new Table({
    head: grid.head,
    colAligns: grid.align,
    style: { head: [], border: [], compact: true },
  });
  for (const r of grid.body) table.push(r);
  return table.toString();
}

function escapeMarkdown(cell: string): string {
  return cell.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * Formats runs as a GitHub-flavoured Markdown table, with the same columns as
 * {@linkcode formatComparisonTable} (numeric columns right-aligned).
 *
 * @param rows One entry per run.
 * @param options Baseline mode for the ratios.
 * @returns The table, lines joined with `\n`, with a trailing newline.
 */
export function formatComparisonMarkdown(
  rows: ComparisonRow[],
  options: ComparisonOptions = {},
): string {
  const grid = buildGrid(rows, options);
  const line = (cells: string[]) => `| ${cells.map(escapeMarkdown).join(" | ")} |`;
  return [
    line(grid.head),
    `|${grid.align.map((a) => (a === "right" ? " ---: " : " --- ")).join("|")}|`,
    ...grid.body.map(line),
  ].join("\n") + "\n";
}
