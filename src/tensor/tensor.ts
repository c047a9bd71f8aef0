import type { Device } from "../runtime/device.ts";
import type { MemoryCategory } from "../runtime/memory.ts";
import type { GradNode } from "../autograd/node.ts";
import { byteSize, checkShape, type DType, halfToFloat, numelOf } from "./dtype.ts";
import { Storage } from "./storage.ts";
import { track, untrack } from "./scope.ts";
import { accumulateLeaf, seedGradient, settleLeafGradients } from "./grad.ts";

/** i32 tensors up to this many elements made by `Tensor.from` keep a host copy (`hostData`). */
const HOST_COPY_LIMIT = 1 << 20;

/** Options for creating a tensor. */
export interface TensorOptions {
  /** Element type; default "f32" (or "i32" for Int32Array data). */
  dtype?: DType;
  /** Whether gradients flow to this tensor (a leaf: its `.grad` is filled by backward). */
  requiresGrad?: boolean;
  /** Memory accounting category; default "workspace". */
  category?: MemoryCategory;
  /** Debug label of the GPU buffer. */
  label?: string;
}

/**
 * A contiguous row-major n-d array in a GPU buffer, with PyTorch autograd semantics.
 *
 * Tensors hold a reference to a shared {@linkcode Storage}; `reshape` returns a view of the same
 * buffer. `dispose()` drops this handle at once; the buffer returns to the pool when no tensor,
 * view or saved-for-backward reference holds it.
 */
export class Tensor {
  /** Dimensions, PyTorch order. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Whether this tensor takes part in autograd. */
  requiresGrad: boolean;
  /** Accumulated gradient (same shape), filled by `backward()` for leaves; null before. */
  grad: Tensor | null = null;
  /** The autograd node that produced this tensor (null for leaves and untracked results). */
  gradFn: GradNode | null = null;
  /**
   * For an i32 tensor made by {@linkcode Tensor.from} (up to 2²⁰ elements): a copy of the values
   * uploaded, so a model can validate token ids at its boundary without a GPU readback. Null for
   * tensors produced on the GPU (their values are valid by construction) and larger ones.
   */
  hostData: Int32Array | null = null;
  #storage: Storage | null;

  /** @internal Use {@linkcode Tensor.from}, {@linkcode Tensor.empty} or an op. */
  constructor(
    readonly device: Device,
    storage: Storage,
    shape: readonly number[],
    dtype: DType,
    requiresGrad = false,
  ) {
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.requiresGrad = requiresGrad;
    track(this);
  }

  /**
   * Uploads `data` (row-major) as a tensor of `shape`.
   * @throws {Error} when `data.length` differs from the product of `shape`, or for dtype "f16".
   */
  static from(
    device: Device,
    data: Float32Array | Int32Array | ArrayLike<number>,
    shape: readonly number[],
    options: TensorOptions = {},
  ): Tensor {
    checkShape(shape);
    const dtype = options.dtype ?? (data instanceof Int32Array ? "i32" : "f32");
    if (dtype === "f16") throw new Error("Tensor.from: f16 tensors are produced by kernels only");
    const n = numelOf(shape);
    if (data.length !== n) {
      throw new Error(
        `Tensor.from: data has ${data.length} elements but shape [${shape}] needs ${n}`,
      );
    }
    const t = Tensor.empty(device, shape, { ...options, dtype });
    const typed = dtype === "i32"
      ? (data instanceof Int32Array ? data : Int32Array.from(data))
      : (data instanceof Float32Array ? data : Float32Array.from(data));
    if (n > 0) device.write(t.buffer, typed);
    if (dtype === "i32" && n <= HOST_COPY_LIMIT) t.hostData = (typed as Int32Array).slice();
    return t;
  }

  /** An uninitialised tensor of `shape` (its buffer may hold old values). */
  static empty(device: Device, shape: readonly number[], options: TensorOptions = {}): Tensor {
    checkShape(shape);
    const dtype = options.dtype ?? "f32";
    const storage = new Storage(
      device,
      byteSize(numelOf(shape), dtype),
      options.category ?? "workspace",
      options.label ?? `tensor[${shape}]`,
    );
    return new Tensor(device, storage, shape, dtype, options.requiresGrad ?? false);
  }

  /** An uninitialised tensor on this tensor's device (PyTorch `new_empty`). */
  newEmpty(shape: readonly number[], options: TensorOptions = {}): Tensor {
    return Tensor.empty(this.device, shape, options);
  }

  /** The shared storage. @throws {Error} after dispose(). */
  get storage(): Storage {
    if (!this.#storage) throw new Error(`tensor [${this.shape}] used after dispose()`);
    return this.#storage;
  }

  /** The GPU buffer. @throws {Error} after dispose(). */
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  /** Number of elements. */
  get numel(): number {
    return numelOf(this.shape);
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Whether `dispose()` was called. */
  get isDisposed(): boolean {
    return this.#storage === null;
  }

  /** Whether this is an autograd leaf (PyTorch `is_leaf`). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /**
   * A new handle on the same buffer with `shape` (same element count), outside autograd.
   * @throws {Error} when the element counts differ.
   */
  view(shape: readonly number[] = this.shape): Tensor {
    const n = numelOf(shape);
    if (n !== this.numel) {
      throw new Error(`view: cannot view [${this.shape}] (${this.numel} elements) as [${shape}]`);
    }
    return new Tensor(this.device, this.storage.retain(), shape, this.dtype);
  }

  /** Like `view` but detached from autograd, PyTorch `detach()`. */
  detach(): Tensor {
    return this.view();
  }

  /**
   * Copies the data back to the CPU, row-major: Float32Array (f32, f16) or Int32Array (i32).
   * Submits queued GPU work first. @throws {Error} with the WebGPU reason if a GPU error occurred.
   */
  async toArray(): Promise<Float32Array | Int32Array> {
    const n = this.numel;
    if (n === 0) return this.dtype === "i32" ? new Int32Array(0) : new Float32Array(0);
    const raw = await this.device.read(this.buffer, byteSize(n, this.dtype));
    if (this.dtype === "i32") return new Int32Array(raw);
    if (this.dtype === "f32") return new Float32Array(raw);
    const halves = new Uint16Array(raw);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = halfToFloat(halves[i]);
    return out;
  }

  /** Reads a one-element tensor as a number. @throws {Error} when numel ≠ 1. */
  async item(): Promise<number> {
    if (this.numel !== 1) {
      throw new Error(`item(): tensor [${this.shape}] has ${this.numel} elements`);
    }
    return (await this.toArray())[0];
  }

  /**
   * Computes gradients of this tensor with respect to every leaf that requires grad, PyTorch
   * semantics: `gradient` defaults to 1 for a one-element tensor, leaves accumulate into `.grad`,
   * and every tensor saved for backward is released as soon as its node has run.
   * @throws {Error} for a non-scalar without `gradient`, a shape mismatch, a tensor that does not
   * require grad, or a second backward through a released graph.
   */
  backward(gradient?: Tensor): void {
    // Tensors know autograd by type only: a recorded tensor reaches the engine through its node.
    if (this.gradFn) return this.gradFn.runBackward(this, gradient);
    // A leaf: its gradient is the seed itself (PyTorch's AccumulateGrad).
    const touched = new Set<Tensor>();
    accumulateLeaf(this, seedGradient(this, gradient), touched);
    settleLeafGradients(touched);
  }

  /** Frees this handle now (the buffer returns to the pool once nothing else holds it). */
  dispose(): void {
    if (!this.#storage) return;
    this.#storage.release();
    this.#storage = null;
    untrack(this);
    // The graph stays reachable from later nodes (gradFn is kept for traversal); this handle
    // just stops being one of its users.
    this.gradFn?.dropUser();
  }

  /** Keeps this tensor alive past the enclosing {@linkcode tidy} scope. */
  keep(): this {
    untrack(this);
    return this;
  }

  /** `Tensor(shape=[...], dtype=...)`, for logs. */
  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}${
      this.requiresGrad ? ", requiresGrad" : ""
    })`;
  }
}
