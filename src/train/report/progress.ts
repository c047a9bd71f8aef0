/**
 * Training progress display. On a terminal it is a redrawing
 * [cli-progress](https://www.npmjs.com/package/cli-progress) bar on stderr; anywhere else (CI,
 * pipes, log files) it prints one plain line every few updates, with no cursor codes.
 *
 * @module
 */
import cliProgress from "npm:cli-progress@3.12.0";
import process from "node:process";

/** Values shown next to the bar; omitted fields keep their last value. */
export interface ProgressMetrics {
  /** Training loss of the latest step (shown with 4 decimals). */
  loss?: number;
  /** Throughput, in tokens per second (non-padding or padded, whatever the caller counts). */
  tokensPerSecond?: number;
  /** Current learning rate (shown in exponent notation). */
  lr?: number;
}

/** Where progress goes: anything with a Node-style `write(string)`, like `process.stderr`. */
export interface ProgressStream {
  /** Writes text as is (no newline added). */
  write(chunk: string): unknown;
  /** `true` when the stream is a terminal, which enables the redrawing bar. */
  isTTY?: boolean;
  /** Terminal width in characters; the bar line is cut to it (default 80). */
  columns?: number;
}

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Number of steps at 100 % (optimizer steps, batches, ...). */
  total: number;
  /** Text before the bar, e.g. `"velora epoch 1"`. Default `"train"`. */
  label?: string;
  /**
   * Output stream. Default `process.stderr` (from `node:process`, i.e. Deno's stderr). Ignored
   * when `write` is given.
   */
  stream?: ProgressStream;
  /**
   * Receives each plain-mode line (with its trailing newline) instead of a stream; implies plain
   * mode unless `tty: true`. Handy for tests and for teeing to a log.
   */
  write?: (text: string) => void;
  /**
   * Force the redrawing bar (`true`) or plain lines (`false`). Default: the stream's `isTTY`
   * (`false` when `write` is given).
   */
  tty?: boolean;
  /**
   * Plain mode prints a line on every `every`-th `update` call, on the first one, and when
   * `step >= total`. Default `max(1, ceil(total / 20))` (about 20 lines per run).
   */
  every?: number;
  /**
   * Steps already done when the display starts (a resumed run): the bar starts there and the
   * ETA counts only the steps run since, so a resume does not look nearly free. Default 0.
   */
  initial?: number;
}

/** A running progress display; see {@linkcode createProgress}. */
export interface Progress {
  /** `true` when drawing a redrawing terminal bar, `false` in plain-line mode. */
  readonly tty: boolean;
  /**
   * Moves the display to `step` (completed steps, 0..total) with the latest metrics.
   * Ignored after {@linkcode Progress.stop}.
   */
  update(step: number, metrics?: ProgressMetrics): void;
  /** Prints a message (one or more lines) above the bar, or as plain lines in plain mode. */
  log(message: string): void;
  /** Draws the final state and ends the bar (restores the line); idempotent. */
  stop(): void;
}

/** Formats seconds as `42s`, `3m07s` or `1h02m`; `--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function fmtLoss(x: number | undefined): string {
  return x === undefined ? "-" : Number.isFinite(x) ? x.toFixed(4) : String(x);
}
function fmtTps(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(0);
}
function fmtLr(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "-" : x.toExponential(2);
}

/**
 * Starts a progress display for a loop of `total` steps.
 *
 * Terminal line (cut to the terminal width):
 * `label |████░░░░| 120/1000 | loss 0.4213 | ETA 3m10s | 2048 tok/s | lr 2.00e-5`.
 * Plain line: `label 120/1000 (12.0%) | loss 0.4213 | 2048 tok/s | lr 2.00e-5 | elapsed 25s |
 * ETA 3m10s`. The plain-mode ETA is `elapsed / (step − initial) × (total − step)` since
 * creation; the bar's comes from cli-progress's moving average.
 *
 * @example
 * ```ts
 * const bar = createProgress({ total: steps, label: "velora" });
 * for (let step = 1; step <= steps; step++) {
 *   // ... train ...
 *   bar.update(step, { loss, tokensPerSecond, lr });
 * }
 * bar.stop();
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const total = Math.max(0, options.total);
  const label = options.label ?? "train";
  const sink: ProgressStream = options.write
    ? { write: options.write, isTTY: false }
    : options.stream ?? process.stderr;
  const tty = options.tty ?? sink.isTTY === true;
  const metrics: ProgressMetrics = {};
  const payload = () => ({
    loss: fmtLoss(metrics.loss),
    tps: fmtTps(metrics.tokensPerSecond),
    lr: fmtLr(metrics.lr),
  });
  const initial = Math.min(total, Math.max(0, options.initial ?? 0));
  const display: Display = { sink, total, initial, label, metrics, payload };
  if (tty) return ttyProgress(display);
  return plainProgress(
    display,
    Math.max(1, Math.floor(options.every ?? Math.ceil((total - initial) / 20))),
  );
}

/** What both displays share: where they write, the step range, the label and the metrics. */
interface Display {
  sink: ProgressStream;
  total: number;
  /** First step (a resumed run). */
  initial: number;
  label: string;
  /** The latest metrics, merged by `update`. */
  metrics: ProgressMetrics;
  /** The formatted metrics. */
  payload: () => Record<string, string>;
}

function merge(metrics: ProgressMetrics, update: ProgressMetrics | undefined): void {
  if (!update) return;
  if (update.loss !== undefined) metrics.loss = update.loss;
  if (update.tokensPerSecond !== undefined) metrics.tokensPerSecond = update.tokensPerSecond;
  if (update.lr !== undefined) metrics.lr = update.lr;
}

function ttyProgress({ sink, total, initial, label, metrics, payload }: Display): Progress {
  // cli-progress's Terminal calls readline.cursorTo/moveCursor, which pass a callback to
  // write(); accept and ignore it for plain sinks.
  const stream = {
    isTTY: true,
    get columns() {
      return sink.columns;
    },
    write(chunk: string, cb?: unknown) {
      sink.write(chunk);
      if (typeof cb === "function") cb();
      return true;
    },
  };
  // A MultiBar with a single bar: it buffers log() lines and prints them above the bar.
  const multi = new cliProgress.MultiBar(
    {
      // cli-progress drives `stream` through Node's readline helpers; the adapter is enough.
      stream: stream as unknown as typeof process.stderr,
      format:
        `${label} |{bar}| {value}/{total} | loss {loss} | ETA {eta_formatted} | {tps} tok/s | lr {lr}`,
      barsize: 20,
      hideCursor: false,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(total, initial, payload());
  let stopped = false;
  return {
    tty: true,
    update(step, update) {
      if (stopped) return;
      merge(metrics, update);
      bar.update(Math.min(step, total), payload());
    },
    log(message) {
      if (stopped) {
        sink.write(message.endsWith("\n") ? message : message + "\n");
        return;
      }
      multi.log(message.endsWith("\n") ? message : message + "\n");
      multi.update(); // flush now rather than at the next redraw tick
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multi.stop();
    },
  };
}

function plainProgress(
  { sink, total, initial, label, metrics, payload }: Display,
  every: number,
): Progress {
  const start = performance.now();
  let updates = 0;
  let lastStep = initial;
  let lastPrinted = -1;
  let stopped = false;
  const line = (step: number) => {
    const elapsed = (performance.now() - start) / 1000;
    // Only the steps run since the display started tell how fast the rest will go.
    const done = step - initial;
    const eta = done > 0 ? (elapsed / done) * Math.max(0, total - step) : NaN;
    const pct = total > 0 ? ((100 * step) / total).toFixed(1) : "-";
    const p = payload();
    sink.write(
      `${label} ${step}/${total} (${pct}%) | loss ${p.loss} | ${p.tps} tok/s | lr ${p.lr} | ` +
        `elapsed ${formatDuration(elapsed)} | ETA ${formatDuration(eta)}\n`,
    );
    lastPrinted = step;
  };
  return {
    tty: false,
    update(step, update) {
      if (stopped) return;
      merge(metrics, update);
      updates++;
      lastStep = step;
      if (updates === 1 || updates % every === 0 || step >= total) line(step);
    },
    log(message) {
      sink.write(message.endsWith("\n") ? message : message + "\n");
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (updates > 0 && lastPrinted !== lastStep) line(lastStep);
    },
  };
}
