/** What a GPU buffer holds, for memory accounting (see `../shared/API.md`). */
export type MemoryCategory = "parameter" | "gradient" | "optimizer" | "activation" | "workspace";

/** All memory categories, in reporting order. */
export const MEMORY_CATEGORIES: readonly MemoryCategory[] = [
  "parameter",
  "gradient",
  "optimizer",
  "activation",
  "workspace",
];

/**
 * Bytes of live GPU buffers allocated by one {@linkcode Device}, by category.
 *
 * "activation" counts tensors saved for backward and still alive; "workspace" counts every other
 * intermediate. Buffers kept in the pool for reuse are not live: they appear in `pooledBytes`
 * (PyTorch's `memory_reserved() - memory_allocated()`).
 */
export class MemoryStats {
  /** Bytes of buffers currently in use (sum of `byCategory`). */
  liveBytes = 0;
  /** Highest `liveBytes` since creation or the last {@linkcode MemoryStats.resetPeak}. */
  peakBytes = 0;
  /** Bytes of freed buffers kept by the pool for reuse. */
  pooledBytes = 0;
  /**
   * Bytes of cached uniform buffers (kernel parameters, cached by value; not tensors, so not in
   * `liveBytes`). Constant in a steady training loop: growth per step is a leak.
   */
  uniformBytes = 0;
  /** Bytes of readback staging buffers in flight (not in `liveBytes`). */
  stagingBytes = 0;
  /** Live bytes per category. */
  readonly byCategory: Record<MemoryCategory, number> = {
    parameter: 0,
    gradient: 0,
    optimizer: 0,
    activation: 0,
    workspace: 0,
  };
  /** Peak live bytes per category since the last reset. */
  readonly peakByCategory: Record<MemoryCategory, number> = {
    parameter: 0,
    gradient: 0,
    optimizer: 0,
    activation: 0,
    workspace: 0,
  };

  /** Restart peak tracking from the current live bytes. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
    for (const c of MEMORY_CATEGORIES) this.peakByCategory[c] = this.byCategory[c];
  }

  /** @internal Count `bytes` (may be negative) against `category`. */
  add(category: MemoryCategory, bytes: number): void {
    this.byCategory[category] += bytes;
    this.liveBytes += bytes;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    if (this.byCategory[category] > this.peakByCategory[category]) {
      this.peakByCategory[category] = this.byCategory[category];
    }
  }

  /** A plain copy, for logs and JSON. */
  snapshot(): {
    liveBytes: number;
    peakBytes: number;
    pooledBytes: number;
    uniformBytes: number;
    stagingBytes: number;
    byCategory: Record<MemoryCategory, number>;
  } {
    return {
      liveBytes: this.liveBytes,
      peakBytes: this.peakBytes,
      pooledBytes: this.pooledBytes,
      uniformBytes: this.uniformBytes,
      stagingBytes: this.stagingBytes,
      byCategory: { ...this.byCategory },
    };
  }
}
