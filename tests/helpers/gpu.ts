import { mulberry32 } from "../../src/util/rng.ts";
import { Device } from "../../src/runtime/device.ts";

let shared: Promise<Device> | null = null;

/** One Device per test file (pipelines compile once per process). */
export function testDevice(): Promise<Device> {
  return shared ??= Device.create();
}

/** Seeded PRNG (mulberry32) for deterministic test data. */
export const rng = mulberry32;

/** `n` uniform values in [lo, hi) from a seeded PRNG. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Asserts |a - b| ≤ atol + rtol·|b| elementwise, naming the first bad index. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, what = "value" }: { rtol?: number; atol?: number; what?: string } =
    {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(err <= 0) && (worst < 0 || !(err <= worstErr))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}[${worst}] = ${actual[worst]}, expected ${
        expected[worst]
      } (rtol ${rtol}, atol ${atol})`,
    );
  }
}
