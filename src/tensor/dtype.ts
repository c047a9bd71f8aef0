/**
 * Element types. "f16" is a packed storage for saved activations: two IEEE half floats per u32
 * (WGSL `pack2x16float` / `unpack2x16float`, which need no `shader-f16` feature).
 */
export type DType = "f32" | "i32" | "f16";

/** Bytes a tensor of `numel` elements of `dtype` occupies (f16: ⌈numel/2⌉ u32 words). */
export function byteSize(numel: number, dtype: DType): number {
  return dtype === "f16" ? Math.ceil(numel / 2) * 4 : numel * 4;
}

/** Number of elements of `shape` (1 for a scalar `[]`). */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Checks that `shape` is a list of non-negative integers. @throws {Error} naming the shape. */
export function checkShape(shape: readonly number[], what = "shape"): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${what} [${shape}] must be a list of non-negative integers`);
  }
}

/** Converts one IEEE half (as u16 bits) to a number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
