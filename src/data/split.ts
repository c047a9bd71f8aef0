/**
 * Deterministic, label-stratified train/eval splits, subsets and per-epoch orders.
 *
 * @module
 */

import type { Example } from "./types.ts";
import { deriveSeed, mulberry32, type Rng, shuffle } from "./rng.ts";

/** Options of {@linkcode stratifiedSplit}. */
export interface SplitOptions {
  /** Fraction of each label's examples that goes to the eval set, in `(0, 1)`. */
  evalFraction: number;
  /** Seed of the split; the same seed gives the same split. */
  seed: number;
}

/** The two sides of a split. */
export interface Split<T> {
  /** The training examples, shuffled. */
  train: T[];
  /** The held-out examples, shuffled. */
  eval: T[];
}

function groupByLabel<T extends Pick<Example, "label">>(items: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(item.label);
    if (group) group.push(item);
    else groups.set(item.label, [item]);
  }
  // Visit labels in ascending order so the result does not depend on which label comes first.
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

function checkSeed(seed: number, fn: string): void {
  if (!Number.isFinite(seed)) throw new Error(`${fn}: option seed must be a finite number`);
}

/**
 * Splits examples into train and eval sets, stratified by label: each label contributes
 * `round(count * evalFraction)` examples to eval (at least one when it has two or more, and never
 * all of them). Deterministic for a given seed; both sides are shuffled.
 *
 * @throws {Error} when `evalFraction` is not in `(0, 1)` or `seed` is not finite.
 */
export function stratifiedSplit<T extends Pick<Example, "label">>(
  examples: readonly T[],
  options: SplitOptions,
): Split<T> {
  const { evalFraction, seed } = options;
  if (!(evalFraction > 0 && evalFraction < 1)) {
    throw new Error(
      `stratifiedSplit: option evalFraction must be in (0, 1), got ${evalFraction}`,
    );
  }
  checkSeed(seed, "stratifiedSplit");
  const rng = mulberry32(seed);
  const train: T[] = [];
  const evalSet: T[] = [];
  for (const group of groupByLabel(examples).values()) {
    const shuffled = shuffle(group, rng);
    let nEval = Math.round(group.length * evalFraction);
    if (group.length >= 2) nEval = Math.min(Math.max(nEval, 1), group.length - 1);
    evalSet.push(...shuffled.slice(0, nEval));
    train.push(...shuffled.slice(nEval));
  }
  return { train: shuffle(train, rng), eval: shuffle(evalSet, rng) };
}

/**
 * Takes `n` examples, stratified by label (each label keeps its share, largest remainders
 * first, and every label keeps at least one example while `n` allows), deterministic for a seed.
 * Returns a shuffled copy of all examples when `n >= examples.length`.
 *
 * @throws {Error} when `n` is not a non-negative integer or `seed` is not finite.
 */
export function takeSubset<T extends Pick<Example, "label">>(
  examples: readonly T[],
  n: number,
  seed: number,
): T[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`takeSubset: n must be a non-negative integer, got ${n}`);
  }
  checkSeed(seed, "takeSubset");
  const rng = mulberry32(seed);
  if (n >= examples.length) return shuffle(examples, rng);
  const groups = [...groupByLabel(examples).values()];
  const total = examples.length;
  const quotas = groups.map((g) => (g.length * n) / total);
  const counts = quotas.map(Math.floor);
  // Every label present keeps at least one example while n allows it.
  let assigned = counts.reduce((a, b) => a + b, 0);
  for (let i = 0; i < groups.length && assigned < n; i++) {
    if (counts[i] === 0) {
      counts[i] = 1;
      assigned++;
    }
  }
  const order = groups.map((_, i) => i).sort((a, b) =>
    (quotas[b] - Math.floor(quotas[b])) - (quotas[a] - Math.floor(quotas[a])) || a - b
  );
  for (let k = 0; assigned < n; k = (k + 1) % order.length) {
    const i = order[k];
    if (counts[i] < groups[i].length) {
      counts[i]++;
      assigned++;
    }
  }
  const out: T[] = [];
  groups.forEach((g, i) => out.push(...shuffle(g, rng).slice(0, counts[i])));
  return shuffle(out, rng);
}

/**
 * Returns the order in which to visit `n` examples in a given epoch: a permutation of
 * `0..n-1`, different per epoch and reproducible from `(seed, epoch)`.
 */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const rng: Rng = mulberry32(deriveSeed(seed, epoch));
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  return perm;
}

/**
 * Yields the examples of one epoch in batches of `batchSize`, in the order of
 * {@linkcode epochPermutation}; the last batch is smaller unless `dropLast` is set.
 */
export function* epochBatches<T>(
  examples: readonly T[],
  options: { batchSize: number; seed: number; epoch: number; dropLast?: boolean },
): Generator<T[]> {
  const { batchSize, seed, epoch, dropLast = false } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`epochBatches: option batchSize must be a positive integer, got ${batchSize}`);
  }
  const perm = epochPermutation(examples.length, seed, epoch);
  for (let start = 0; start < perm.length; start += batchSize) {
    const end = Math.min(start + batchSize, perm.length);
    if (dropLast && end - start < batchSize) return;
    const batch: T[] = [];
    for (let i = start; i < end; i++) batch.push(examples[perm[i]]);
    yield batch;
  }
}
