import type { MemoryStats } from "./memory.ts";

/** Usage flags of every storage buffer we allocate: bindable, copyable both ways. */
export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/** Rounds a byte count up to the 4-byte granularity WebGPU requires for buffer sizes. */
export function alignBytes(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/**
 * Reuses freed storage buffers by size class (the exact 4-byte-aligned size: training repeats the
 * same shapes every step, so exact classes hit almost always and waste no memory).
 */
export class BufferPool {
  readonly #free = new Map<number, GPUBuffer[]>();
  /** Buffers created (pool misses) since the pool was made. */
  created = 0;

  constructor(readonly gpu: GPUDevice, readonly stats: MemoryStats) {}

  /** A buffer of exactly `alignBytes(bytes)` bytes, from the pool when one is free. */
  acquire(bytes: number, label: string): GPUBuffer {
    const size = alignBytes(bytes);
    const list = this.#free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.stats.pooledBytes -= size;
      return reused;
    }
    this.created++;
    return this.gpu.createBuffer({ size, usage: STORAGE_USAGE, label });
  }

  /** Returns `buffer` to the pool; queued GPU work that still reads it runs first (queue order). */
  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buffer);
    this.stats.pooledBytes += size;
  }

  /** Destroys every pooled buffer (like `torch.cuda.empty_cache()`); call only after a flush. */
  clear(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.stats.pooledBytes = 0;
  }
}
