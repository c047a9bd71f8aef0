/**
 * Seeded CPU initialisers (PyTorch `torch.nn.init` names). Values are drawn on the CPU with
 * mulberry32 and uploaded once, so a given seed gives the same weights on every adapter.
 *
 * Without an explicit seed, layers draw one from a global stream that
 * {@linkcode manual_seed} resets (like `torch.manual_seed`).
 *
 * @module
 */

import { mulberry32, type Rng } from "../util/rng.ts";

/** A function returning uniform floats in `[0, 1)`. */
export type Generator = Rng;

export { mulberry32 };

let globalGen: Generator = mulberry32(0);

/** Resets the global seed stream that layers without an explicit `seed` draw from. */
export function manual_seed(seed: number): void {
  globalGen = mulberry32(seed);
}

/** A fresh 32-bit seed from the global stream (see {@linkcode manual_seed}). */
export function nextSeed(): number {
  return Math.floor(globalGen() * 4294967296) >>> 0;
}

/** `gen` for a generator, `mulberry32(seed)` for a number, a draw from the global stream for undefined. */
export function generator(seedOrGen?: number | Generator): Generator {
  if (typeof seedOrGen === "function") return seedOrGen;
  return mulberry32(seedOrGen ?? nextSeed());
}

/** Fills `out` with U(low, high) (PyTorch `nn.init.uniform_`). Returns `out`. */
export function uniform_(
  out: Float32Array,
  low = 0,
  high = 1,
  seedOrGen?: number | Generator,
): Float32Array {
  const g = generator(seedOrGen);
  for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * g();
  return out;
}

/** Fills `out` with N(mean, std²) by Box–Muller (PyTorch `nn.init.normal_`). Returns `out`. */
export function normal_(
  out: Float32Array,
  mean = 0,
  std = 1,
  seedOrGen?: number | Generator,
): Float32Array {
  const g = generator(seedOrGen);
  for (let i = 0; i < out.length; i += 2) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - g()));
    const theta = 2 * Math.PI * g();
    out[i] = mean + std * r * Math.cos(theta);
    if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(theta);
  }
  return out;
}

/**
 * Fills `out` with N(mean, std²) truncated to [a, b] by rejection (PyTorch
 * `nn.init.trunc_normal_`, used by HF for some models). Returns `out`.
 */
export function trunc_normal_(
  out: Float32Array,
  mean = 0,
  std = 1,
  a = -2,
  b = 2,
  seedOrGen?: number | Generator,
): Float32Array {
  const g = generator(seedOrGen);
  const one = new Float32Array(2);
  for (let i = 0; i < out.length; i++) {
    let v: number;
    do {
      normal_(one, mean, std, g);
      v = one[0];
    } while (v < a || v > b);
    out[i] = v;
  }
  return out;
}

/** Fills `out` with `value` (PyTorch `nn.init.constant_`). Returns `out`. */
export function constant_(out: Float32Array, value: number): Float32Array {
  return out.fill(value);
}

/** Fills `out` with zeros. Returns `out`. */
export function zeros_(out: Float32Array): Float32Array {
  return out.fill(0);
}

/** Fills `out` with ones. Returns `out`. */
export function ones_(out: Float32Array): Float32Array {
  return out.fill(1);
}

/** PyTorch `nn.init.calculate_gain` for "linear", "tanh", "relu", "leaky_relu" (param = slope). */
export function calculate_gain(
  nonlinearity: "linear" | "sigmoid" | "tanh" | "relu" | "leaky_relu",
  param?: number,
): number {
  switch (nonlinearity) {
    case "linear":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
  }
}

/** Fan-in and fan-out of a weight of `shape` (PyTorch `_calculate_fan_in_and_fan_out`). */
export function fanInOut(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new Error(`fan in/out needs a weight with ≥ 2 dims, got [${shape}]`);
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/**
 * PyTorch `nn.init.kaiming_uniform_` (mode "fan_in", nonlinearity "leaky_relu"): U(−bound, bound)
 * with bound = gain·√(3 / fan_in), gain = √(2 / (1 + a²)). With a = √5 (nn.Linear's default)
 * bound = 1/√fan_in. Returns `out`.
 */
export function kaiming_uniform_(
  out: Float32Array,
  shape: readonly number[],
  a = 0,
  seedOrGen?: number | Generator,
): Float32Array {
  const { fanIn } = fanInOut(shape);
  const bound = calculate_gain("leaky_relu", a) * Math.sqrt(3 / fanIn);
  return uniform_(out, -bound, bound, seedOrGen);
}

/** PyTorch `nn.init.xavier_uniform_`: U(−b, b), b = gain·√(6 / (fan_in + fan_out)). */
export function xavier_uniform_(
  out: Float32Array,
  shape: readonly number[],
  gain = 1,
  seedOrGen?: number | Generator,
): Float32Array {
  const { fanIn, fanOut } = fanInOut(shape);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(out, -bound, bound, seedOrGen);
}
