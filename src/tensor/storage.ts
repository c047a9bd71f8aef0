import type { Device } from "../runtime/device.ts";
import type { MemoryCategory } from "../runtime/memory.ts";

/**
 * A reference-counted GPU buffer shared by a tensor and its views. Memory is counted under
 * `category`, except that a "workspace" buffer saved for backward counts as "activation" while
 * saved, so `device.memory.byCategory.activation` is exact.
 */
export class Storage {
  #refs = 1;
  #saves = 0;
  #category: MemoryCategory;
  #buffer: GPUBuffer | null;

  /** Bytes of the GPU buffer. */
  readonly bytes: number;

  /** Takes a buffer of ≥ `bytes` bytes from the device's pool and counts it under `category`. */
  constructor(readonly device: Device, bytes: number, category: MemoryCategory, label: string) {
    this.#buffer = device.pool.acquire(bytes, label);
    this.bytes = this.#buffer.size;
    this.#category = category;
    device.memory.add(category, this.bytes);
  }

  /** The GPU buffer. @throws {Error} once the storage has been freed. */
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error("tensor used after dispose(): its GPU buffer is freed");
    return this.#buffer;
  }

  /** Whether the buffer has been returned to the pool. */
  get freed(): boolean {
    return this.#buffer === null;
  }

  /** The category bytes are counted under right now. */
  get category(): MemoryCategory {
    return this.#saves > 0 && this.#category === "workspace" ? "activation" : this.#category;
  }

  /** Number of autograd nodes holding this storage for backward. */
  get saves(): number {
    return this.#saves;
  }

  /** Number of owners (tensors, views and saved references). */
  get refs(): number {
    return this.#refs;
  }

  /** Changes the base category (e.g. a gradient buffer adopted as a leaf's `.grad`). */
  setCategory(category: MemoryCategory): void {
    this.#recount(() => this.#category = category);
  }

  /** Adds an owner. */
  retain(): this {
    if (!this.#buffer) throw new Error("retain() on a freed storage");
    this.#refs++;
    return this;
  }

  /** Removes an owner; the last one returns the buffer to the pool. */
  release(): void {
    if (!this.#buffer || --this.#refs > 0) return;
    this.device.memory.add(this.category, -this.bytes);
    this.device.pool.release(this.#buffer);
    this.#buffer = null;
  }

  /** Marks the storage as saved for backward (adds an owner). */
  save(): void {
    this.retain();
    this.#recount(() => this.#saves++);
  }

  /** Ends one save (removes its owner). */
  unsave(): void {
    this.#recount(() => this.#saves--);
    this.release();
  }

  #recount(change: () => void): void {
    const before = this.category;
    change();
    const after = this.category;
    if (before !== after && this.#buffer) {
      this.device.memory.add(before, -this.bytes);
      this.device.memory.add(after, this.bytes);
    }
  }
}
