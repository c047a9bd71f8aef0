/**
 * Output of `bench/train_step.ts`: the Markdown table with ratios to the "full" row of the same
 * model, `bench/results.json` (atomic) and the generated block of `bench/RESULTS.md`.
 *
 * @module
 */

import { formatBytes, formatRatio } from "../../src/train/report/table.ts";
import { writeAtomic, writeJsonAtomic } from "../../src/util/write_atomic.ts";
import { dirname } from "node:path";

/** One row of `bench/results.json` (extra fields are diagnostics). */
export interface ResultRow {
  /** Model short name ("base", "small"). */
  model: string;
  /** "full", "velora-vd", "velora-all", "checkpointing" or a peer such as "pytorch-cpu". */
  mode: string;
  /** Rows per step. */
  batch: number;
  /** Tokens per row. */
  seq: number;
  /** Peak live GPU bytes over the timed steps (null for peers that do not report it). */
  peak_bytes: number | null;
  /** Activation bytes (saved for backward) at the end of forward (null for peers). */
  activation_bytes: number | null;
  /** Median step time in ms. */
  step_ms: number;
  /** batch·seq / step seconds. */
  tokens_per_second: number;
  /** Anything else (diagnostics). */
  [extra: string]: unknown;
}

/** `bench/results.json`. */
export interface Results {
  /** `device.describe()`. */
  adapter: string;
  /** ISO date of the run. */
  date: string;
  /** The command line. */
  command: string;
  /** One entry per (model, mode). */
  rows: ResultRow[];
  /** Anything else. */
  [extra: string]: unknown;
}

const DASH = "–";

function mib(n: number | null): string {
  return n === null || !Number.isFinite(n) ? DASH : formatBytes(n);
}

function ratio(v: number | null, base: number | null | undefined): string {
  return v === null || base === null || base === undefined ? DASH : formatRatio(v, base);
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

function isSpread(x: unknown): x is Spread {
  return typeof x === "object" && x !== null && typeof (x as Spread).median === "number";
}

/** "0.85× (0.80–0.91)" from per-round ratios; the plain ratio for single-run rows. */
function timeRatio(
  s: unknown,
  v: number | null,
  base: number | null | undefined,
): string {
  if (!isSpread(s)) return ratio(v, base);
  return s.min === s.max
    ? `${s.median.toFixed(2)}×`
    : `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

/** The Markdown table: one line per row, ratios to the "full" row of the same model and shape. */
export function markdownTable(rows: ResultRow[]): string {
  const head = [
    "model",
    "mode",
    "batch×seq",
    "peak mem",
    "peak vs full",
    "activations",
    "act. vs full",
    "step ms",
    "step vs full",
    "tokens/s",
    "speed vs full",
  ];
  const right = [false, false, true, true, true, true, true, true, true, true, true];
  const cpu = (r: ResultRow) => typeof r.step_cpu_ms === "number" ? r.step_cpu_ms : null;
  const withCpu = rows.some((r) => cpu(r) !== null);
  if (withCpu) {
    head.push("CPU ms", "CPU vs full");
    right.push(true, true);
  }
  const body = rows.map((r) => {
    const base = rows.find((b) =>
      b.model === r.model && b.batch === r.batch && b.seq === r.seq && b.mode === "full"
    );
    return [
      r.model,
      r.mode,
      `${r.batch}×${r.seq}`,
      mib(r.peak_bytes),
      ratio(r.peak_bytes, base?.peak_bytes),
      mib(r.activation_bytes),
      ratio(r.activation_bytes, base?.activation_bytes),
      r.step_ms.toFixed(0),
      timeRatio(r.step_ratio, r.step_ms, base?.step_ms),
      r.tokens_per_second.toFixed(0),
      ratio(r.tokens_per_second, base?.tokens_per_second),
      ...(withCpu
        ? [cpu(r)?.toFixed(0) ?? DASH, timeRatio(r.cpu_ratio, cpu(r), base ? cpu(base) : null)]
        : []),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(head),
    `|${right.map((r) => (r ? " ---: " : " --- ")).join("|")}|`,
    ...body.map(line),
  ].join("\n") + "\n";
}

/**
 * "How big a batch fits": per (model, mode) the static bytes (weights, gradients, optimizer
 * state), activation bytes per sequence, reserved bytes (live + pooled) next to the peak of live
 * bytes, and the largest batch at the measured seq with static + batch × activations per
 * sequence within 4, 8 and 16 GiB.
 */
export function fitTable(rows: ResultRow[]): string {
  const withFit = rows.filter((r) => typeof r.static_bytes === "number");
  if (!withFit.length) return "";
  const head = [
    "model",
    "mode",
    "seq",
    "static",
    "activations / seq",
    "peak (live)",
    "reserved",
    "batch in 4 GiB",
    "8 GiB",
    "16 GiB",
  ];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const body = withFit.map((r) => {
    const fits = (r.fits_batch ?? {}) as Record<string, number>;
    return [
      r.model,
      r.mode,
      String(r.seq),
      mib(r.static_bytes as number),
      mib(r.activation_bytes_per_seq as number),
      mib(r.peak_bytes),
      mib(typeof r.reserved_bytes === "number" ? r.reserved_bytes : null),
      String(fits["4GiB"] ?? DASH),
      String(fits["8GiB"] ?? DASH),
      String(fits["16GiB"] ?? DASH),
    ];
  });
  return [
    line(head),
    `| --- | --- |${" ---: |".repeat(head.length - 2)}`,
    ...body.map(line),
  ].join("\n") + "\n";
}

/** Writes `results.json` atomically. */
export function writeResults(path: string, results: Results): Promise<void> {
  return writeJsonAtomic(path, results);
}

const BEGIN = "<!-- bench:train_step:begin (generated by bench/train_step.ts; do not edit) -->";
const END = "<!-- bench:train_step:end -->";

/**
 * Replaces the generated block of `RESULTS.md` (between the begin/end markers) with the latest
 * table, adapter, date and command; text outside the markers (notes, findings) is kept. Creates
 * the file when missing. Atomic (temp file + rename).
 */
export async function writeResultsMarkdown(
  path: string,
  results: Results,
  notes: string[],
): Promise<void> {
  const block = [
    BEGIN,
    "",
    `Adapter: ${results.adapter}\\`,
    `Date: ${results.date}\\`,
    `Command: \`${results.command}\``,
    "",
    markdownTable(results.rows).trimEnd(),
    "",
    ...(fitTable(results.rows) ? [fitTable(results.rows).trimEnd(), ""] : []),
    ...notes.map((n) => `- ${n}`),
    ...(notes.length ? [""] : []),
    END,
  ].join("\n");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    text =
      `# Benchmark results\n\n## Training step (\`bench/train_step.ts\`)\n\n${BEGIN}\n${END}\n`;
  }
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  text = i >= 0 && j > i
    ? text.slice(0, i) + block + text.slice(j + END.length)
    : `${text.trimEnd()}\n\n## Training step (\`bench/train_step.ts\`)\n\n${block}\n`;
  await writeAtomic(path, text);
  // Keep the file as `deno fmt` wants it (padded table, wrapped notes) so `deno task check`
  // stays clean; harmless when it fails (the content is the same).
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    cwd: dirname(dirname(path)),
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
}
