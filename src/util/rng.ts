/**
 * The one seeded pseudo-random generator of the project (initialisers, splits, VeLoRA's random
 * vectors, tests), so a seed means the same stream everywhere.
 *
 * @module
 */

/** A function returning uniform floats in `[0, 1)`. */
export type Rng = () => number;

/**
 * Returns the mulberry32 generator for a 32-bit seed: uniform floats in `[0, 1)`, the same
 * sequence for the same seed on every platform.
 *
 * @param seed Any number; it is reduced to an unsigned 32-bit integer.
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
