/**
 * Maps label strings to ids and back, for a model config's `id2label`/`label2id`.
 *
 * @module
 */

/** A label mapping. */
export interface LabelMap {
  /** Label id to label name. */
  id2label: Record<number, string>;
  /** Label name to label id. */
  label2id: Record<string, number>;
}

const INT = /^(0|[1-9][0-9]*)$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function fromList(names: readonly string[]): LabelMap {
  const id2label: Record<number, string> = {};
  const label2id: Record<string, number> = {};
  names.forEach((name, id) => {
    id2label[id] = name;
    label2id[name] = id;
  });
  return { id2label, label2id };
}

/**
 * Builds the mapping for the given label strings.
 *
 * - With `given` (e.g. the training set's labels, for an eval file), ids are positions in it.
 * - When the labels are exactly the integers `0..K-1`, each keeps its value as its id.
 * - Otherwise numeric labels sort numerically and other labels in string order.
 *
 * @throws {Error} when `given` is empty or repeats a name.
 */
export function buildLabelMap(values: Iterable<string>, given?: readonly string[]): LabelMap {
  if (given !== undefined) {
    if (given.length === 0) throw new Error("option labels: must list at least one label");
    const dup = given.find((l, i) => given.indexOf(l) !== i);
    if (dup !== undefined) throw new Error(`option labels: label "${dup}" is listed twice`);
    return fromList(given);
  }
  const distinct = [...new Set(values)];
  if (distinct.every((v) => INT.test(v))) {
    const ints = distinct.map(Number);
    if (ints.every((v) => v < distinct.length)) {
      return fromList(Array.from({ length: distinct.length }, (_, i) => String(i)));
    }
  }
  if (distinct.every((v) => NUMBER.test(v))) {
    return fromList(distinct.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : 1)));
  }
  return fromList(distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * True when the labels are numbers and at least one is not an integer ("3.8"): a regression
 * target, as HF `run_glue.py` decides from a float label column (`num_labels` 1, MSE loss).
 */
export function isRegressionLabels(values: readonly string[]): boolean {
  return values.length > 0 && values.every((v) => NUMBER.test(v)) &&
    values.some((v) => !INT.test(v.replace(/^\+/, "")));
}

/** Labels at most this share of the rows are reported as possible typos. */
const RARE_SHARE = 0.01;

/**
 * Warnings about suspicious label columns: a label held by at most 1 % of the rows (or a
 * non-number among numbers), which is usually a typo that silently adds a class. Each warning
 * gives the count of every label and `file:line` of the rarest one's rows (at most 3).
 *
 * @param file The file, for `file:line`.
 * @param labels One label per example, in file order.
 * @param lines The line of each example.
 */
export function labelWarnings(
  file: string,
  labels: readonly string[],
  lines: readonly number[],
): string[] {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  if (counts.size < 2) return [];
  const numeric = [...counts.keys()].filter((l) => NUMBER.test(l));
  const suspicious = [...counts].filter(([label, n]) =>
    n <= RARE_SHARE * labels.length ||
    (numeric.length > 0 && numeric.length < counts.size && !NUMBER.test(label))
  ).sort((a, b) => a[1] - b[1]);
  if (!suspicious.length) return [];
  const table = [...counts].sort((a, b) => b[1] - a[1]).map(([l, n]) => `"${l}": ${n}`).join(", ");
  return suspicious.map(([label, n]) => {
    const where: string[] = [];
    for (let i = 0; i < labels.length && where.length < 3; i++) {
      if (labels[i] === label) where.push(`${file}:${lines[i]}`);
    }
    return `${file}: label "${label}" appears in only ${n} of ${labels.length} rows (${
      where.join(", ")
    }${n > where.length ? ", ..." : ""}); a typo adds a class. Label counts: ${table}`;
  });
}
