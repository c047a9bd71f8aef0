/**
 * Loss curves as a standalone SVG, rendered headlessly (no browser, no canvas) with
 * [Vega-Lite](https://vega.github.io/vega-lite/) compiled to [Vega](https://vega.github.io/vega/)
 * and Vega's `renderer: "none"` view. Vega is loaded on first use, so importing this module is
 * cheap.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { writeAtomic } from "../../util/write_atomic.ts";

/** One line of the chart: a training mode (`full`, `velora`, `checkpointing`, ...) and its losses. */
export interface LossSeries {
  /** Legend label; must be unique within a chart. */
  name: string;
  /** Loss per step; points with a non-finite step or loss are left out. */
  points: { step: number; loss: number }[];
}

/** Options of {@linkcode renderLossSvg} and {@linkcode writeLossSvg}. */
export interface LossPlotOptions {
  /** Chart title. */
  title?: string;
  /** Plot area width in CSS pixels (default 560); axes and legend are added around it. */
  width?: number;
  /** Plot area height in CSS pixels (default 320). */
  height?: number;
  /** Logarithmic loss axis (default `false`); non-positive losses are then left out. */
  logScale?: boolean;
  /** x axis title (default `"step"`). */
  xTitle?: string;
  /** y axis title (default `"loss"`). */
  yTitle?: string;
}

/**
 * Renders loss curves, one line per series, to an SVG document string.
 *
 * @returns SVG text starting with `<svg`; each series is one `<path>` with
 * `aria-roledescription="line mark"`, and its name appears in the legend.
 * @throws {RangeError} When two series share a name.
 */
export async function renderLossSvg(
  series: LossSeries[],
  options: LossPlotOptions = {},
): Promise<string> {
  const names = series.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new RangeError(`duplicate series name ${JSON.stringify(dup)}`);
  const logScale = options.logScale ?? false;
  const values = series.flatMap((s) =>
    s.points
      .filter((p) =>
        Number.isFinite(p.step) && Number.isFinite(p.loss) && (!logScale || p.loss > 0)
      )
      .map((p) => ({ step: p.step, loss: p.loss, series: s.name }))
  );

  const [vega, vl] = await Promise.all([import("npm:vega@6.4.0"), import("npm:vega-lite@6.5.0")]);
  const spec: import("npm:vega-lite@6.5.0").TopLevelSpec = {
    ...(options.title !== undefined ? { title: options.title } : {}),
    width: options.width ?? 560,
    height: options.height ?? 320,
    background: "white",
    data: { values },
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: { field: "step", type: "quantitative", title: options.xTitle ?? "step" },
      y: {
        field: "loss",
        type: "quantitative",
        title: options.yTitle ?? "loss",
        scale: logScale ? { type: "log" } : { zero: false },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: names },
        sort: names,
      },
      order: { field: "step", type: "quantitative" },
    },
  };
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), {
    renderer: "none",
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders loss curves (see {@linkcode renderLossSvg}) and writes them to `path` atomically: the
 * SVG goes to a temporary file in the same directory, which is then renamed over `path`, so a
 * reader never sees a partial file. Missing parent directories are created.
 *
 * @param path Destination file, e.g. `<output-dir>/loss.svg`.
 * @param series One entry per training mode.
 * @param options Title and layout.
 *
 * @example
 * ```ts
 * await writeLossSvg("runs/loss.svg", [
 *   { name: "full", points: [{ step: 1, loss: 0.69 }, { step: 2, loss: 0.61 }] },
 *   { name: "velora", points: [{ step: 1, loss: 0.69 }, { step: 2, loss: 0.62 }] },
 * ], { title: "BERT fine-tuning loss" });
 * ```
 */
export async function writeLossSvg(
  path: string | URL,
  series: LossSeries[],
  options: LossPlotOptions = {},
): Promise<void> {
  const svg = await renderLossSvg(series, options);
  const file = path instanceof URL ? fileURLToPath(path) : path;
  await Deno.mkdir(dirname(file), { recursive: true });
  await writeAtomic(file, svg);
}
