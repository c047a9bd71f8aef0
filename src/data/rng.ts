/**
 * A small seeded pseudo-random generator and a seeded shuffle, so that splits, subsets and epoch
 * orders are reproducible from a seed.
 *
 * @module
 */

import { mulberry32, type Rng } from "../util/rng.ts";

export { mulberry32, type Rng };

/**
 * Derives an independent seed from a base seed and a salt (e.g. an epoch number), so that each
 * epoch gets its own order without consuming the base stream.
 */
export function deriveSeed(seed: number, salt: number): number {
  let h = (seed >>> 0) ^ Math.imul(salt >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Returns a shuffled copy of `items` (Fisher-Yates); the input is not modified.
 *
 * @param items The items to shuffle.
 * @param seedOrRng A seed, or a generator to draw from (which it advances).
 */
export function shuffle<T>(items: readonly T[], seedOrRng: number | Rng): T[] {
  const rng = typeof seedOrRng === "number" ? mulberry32(seedOrRng) : seedOrRng;
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}
