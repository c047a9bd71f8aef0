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
