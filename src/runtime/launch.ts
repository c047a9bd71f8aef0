/** Launch-size helpers shared by the ops: binding-size checks and row-kernel workgroup widths. */
import type { Device } from "./device.ts";

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
