/**
 * Reporting helpers for the training loop and `examples/finetune_bert.ts`: evaluation metrics,
 * a progress bar, loss-curve SVGs and the mode comparison table.
 *
 * @module
 */
export {
  accuracy,
  argmaxRows,
  type BinaryCounts,
  binaryCounts,
  f1Binary,
  softmaxRows,
} from "./metrics.ts";
export {
  createProgress,
  formatDuration,
  type Progress,
  type ProgressMetrics,
  type ProgressOptions,
  type ProgressStream,
} from "./progress.ts";
export { type LossPlotOptions, type LossSeries, renderLossSvg, writeLossSvg } from "./plot.ts";
export {
  type ComparisonOptions,
  type ComparisonRow,
  formatBytes,
  formatComparisonMarkdown,
  formatComparisonTable,
  formatRatio,
} from "./table.ts";
