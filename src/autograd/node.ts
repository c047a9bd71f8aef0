import type { Tensor } from "../tensor/tensor.ts";
import type { Storage } from "../tensor/storage.ts";
import type { DType } from "../tensor/dtype.ts";
import { isGradEnabled } from "./grad_mode.ts";
import { isHalfSaving } from "./half_saves.ts";
import { fromHalf, toHalf } from "../tensor/half.ts";
import { runBackward } from "./engine.ts";

/**
 * A tensor kept for backward. Its storage counts as "activation" memory until {@linkcode release}
 * (called by the engine right after the node's backward has run).
 */
export class SavedTensor {
  #t: Tensor | null;
  /** True when #t is a packed-f16 copy of the f32 tensor the op saved. */
  readonly #half: boolean;
  #unpacked: Tensor | null = null;

  /**
   * Saves `t` (its storage counts as "activation" while it is a workspace buffer). With
   * `options.half` inside `halfSaves`, an f32 `t` is kept as a packed-f16 copy instead.
   */
  constructor(t: Tensor, options: SaveOptions = {}) {
    this.#half = !!options.half && isHalfSaving() && t.dtype === "f32" && t.numel > 0;
    const kept = this.#half ? toHalf(t) : t;
    kept.storage.save();
    // A private handle that no tidy scope owns: the save reference keeps the buffer alive.
    this.#t = kept.view().keep();
    this.#t.storage.release();
    if (this.#half) kept.dispose();
  }

  /**
   * The saved tensor. A packed-f16 save is unpacked to f32 on first access (a temporary of the
   * current `tidy` scope: the engine runs each backward in one).
   * @throws {Error} after release.
   */
  get tensor(): Tensor {
    if (!this.#t) {
      throw new Error(
        "Trying to backward through the graph a second time: saved tensors were already freed",
      );
    }
    if (!this.#half) return this.#t;
    return this.#unpacked ??= fromHalf(this.#t);
  }

  /** Whether this save is held as packed f16. */
  get isHalf(): boolean {
    return this.#half;
  }

  /**
   * The tensor as kept, without unpacking: the packed-f16 copy for a half save (dtype "f16"),
   * for backward kernels that read halves directly; otherwise the same as `tensor`.
   * @throws {Error} after release.
   */
  get kept(): Tensor {
    if (!this.#t) {
      throw new Error(
        "Trying to backward through the graph a second time: saved tensors were already freed",
      );
    }
    return this.#t;
  }

  /**
   * The storage kept (the packed copy for an f16 save), for memory accounting and listings:
   * several saves may share one storage. Null after release.
   */
  get storage(): Storage | null {
    return this.#t?.storage ?? null;
  }

  /** The dtype kept: "f16" for a packed save (by `half` or an op's own packed copy). */
  get keptDtype(): DType | null {
    return this.#t?.dtype ?? null;
  }

  /** Drops the saved reference. */
  release(): void {
    // The unpacked f32 copy of a packed save (normally already freed by the backward's scope).
    this.#unpacked?.dispose();
    this.#unpacked = null;
    if (!this.#t) return;
    const storage = this.#t.storage;
    // The handle's storage reference was handed to the save; give it back through unsave().
    this.#t = null;
    storage.unsave();
  }
}

/** Computes input gradients from the output gradient (same order as `inputs`; null = none). */
export type BackwardFn = (gradOutput: Tensor) => (Tensor | null | undefined)[];

/**
 * One recorded operation of the autograd graph (PyTorch's `grad_fn`). Tensors know their node
 * by type only: `Tensor.backward()` and `Tensor.dispose()` reach the engine and the graph's
 * reference counting through this object's methods, so the tensor layer imports no autograd code.
 */
export class GradNode {
  /** Set once backward has run and `saved` was released. */
  released = false;
  /**
   * Live users: the output tensor's handle plus every unreleased node that reads the output.
   * At 0 nobody can backpropagate through this node any more, so its saved tensors are freed.
   */
  users = 1;

  /** @internal Created by {@linkcode record}. */
  constructor(
    /** Op name, e.g. "MatmulBackward". */
    readonly name: string,
    /** The op's tensor inputs (for traversal; only `saved` keeps buffers alive). */
    readonly inputs: readonly (Tensor | null)[],
    /** Tensors this op keeps for backward. */
    readonly saved: SavedTensor[],
    /** The gradient function. */
    readonly backward: BackwardFn,
  ) {}

  /** Backpropagates from `root`, this node's output (see `Tensor.backward`). */
  runBackward(root: Tensor, gradient?: Tensor): void {
    runBackward(root, gradient);
  }

  /**
   * Drops one user (see {@linkcode GradNode.users}); at 0 the saved tensors are freed and the
   * inputs' nodes lose a user in turn. This frees the graph of a forward that is discarded
   * without backward (an eval forward with grad enabled, an abandoned step), like PyTorch's
   * reference counting.
   */
  dropUser(): void {
    const stack: GradNode[] = [this];
    while (stack.length) {
      const n = stack.pop()!;
      if (--n.users > 0 || n.released) continue;
      for (const s of n.saved) s.release();
      n.released = true;
      for (const t of n.inputs) if (t?.gradFn) stack.push(t.gradFn);
    }
  }
}

/** Options of a {@linkcode SaveFn} call. */
export interface SaveOptions {
  /**
   * The op's backward tolerates this tensor rounded to f16 (normalisation and activation
   * inputs): inside `halfSaves` it is then kept as packed f16. Default false.
   */
  half?: boolean;
}

/** Saves a tensor for backward inside {@linkcode record}'s `build` callback. */
export type SaveFn = (t: Tensor, options?: SaveOptions) => SavedTensor;

/**
 * Whether {@linkcode record} will record a node for these inputs now: grad mode is on and one of
 * them requires grad. For ops that do backward work in their forward (and must agree with
 * `record` exactly, or gradients would go missing without an error).
 */
export function willRecord(inputs: readonly (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && inputs.some((t) => t?.requiresGrad);
}

/**
 * Attaches an autograd node to `out` when grad mode is on and any input requires grad; otherwise
 * returns `out` untouched and `build` never runs, so nothing is saved (eval and `noGrad`).
 * `build` declares what the op saves and returns the backward function.
 */
export function record(
  out: Tensor,
  inputs: readonly (Tensor | null)[],
  name: string,
  build: (save: SaveFn) => BackwardFn,
): Tensor {
  if (!willRecord(inputs)) return out;
  const saved: SavedTensor[] = [];
  const backward = build((t, options) => {
    const s = new SavedTensor(t, options);
    saved.push(s);
    return s;
  });
  out.requiresGrad = true;
  out.gradFn = new GradNode(name, inputs, saved, backward);
  for (const t of inputs) if (t?.gradFn) t.gradFn.users++;
  return out;
}
