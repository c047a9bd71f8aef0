import type { Device } from "./device.ts";

/** Workgroup counts covering `n` invocations with 1-D workgroups of `wg`, as a 2-D grid. */
export function grid1d(n: number, wg = 256): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

/**
 * Packs uniform parameters: integers as u32, others as f32 (use {@linkcode f32} to force f32).
 * Pads to a multiple of 4 words (16 bytes), as WGSL uniform structs need.
 */
export function params(...values: (number | F32)[]): Uint32Array {
  const words = new Uint32Array(Math.max(4, Math.ceil(values.length / 4) * 4));
  const f = new Float32Array(words.buffer);
  values.forEach((v, i) => {
    if (v instanceof F32) f[i] = v.value;
    else if (Number.isInteger(v) && v >= 0) words[i] = v;
    else f[i] = v;
  });
  return words;
}

/** Marks a number to be packed as f32 by {@linkcode params}, even when it is an integer. */
export class F32 {
  constructor(readonly value: number) {}
}

/** Shorthand for `new F32(value)`. */
export function f32(value: number): F32 {
  return new F32(value);
}

/** Checks a device limit before binding a large buffer, with a readable error. */
export function checkBinding(device: Device, bytes: number, what: string): void {
  const max = device.limits.maxStorageBufferBindingSize;
  if (bytes > max) {
    throw new Error(
      `${what}: ${bytes} bytes exceed this adapter's maxStorageBufferBindingSize (${max} bytes); ` +
        "use a smaller batch or sequence length",
    );
  }
}

/**
 * Threads per workgroup for row-wise kernels (one workgroup per row): about four elements per
 * thread, a power of two in [16, 256]. Software adapters run a workgroup's threads one after
 * another between barriers, so idle threads and barrier rounds cost real time there.
 */
export function rowThreads(cols: number): number {
  let wg = 16;
  while (wg < 256 && wg * 4 < cols) wg *= 2;
  return wg;
}
