import type { Tensor } from "../tensor/tensor.ts";
import { isGradEnabled } from "./grad_mode.ts";

/**
 * A tensor kept for backward. Its storage counts as "activation" memory until {@linkcode release}
 * (called by the engine right after the node's backward has run).
 */
export class SavedTensor {
  #t: Tensor | null;

  /** Saves `t` (its storage counts as "activation" while it is a workspace buffer). */
  constructor(t: Tensor) {
    t.storage.save();
    // A private handle that no tidy scope owns: the save reference keeps the buffer alive.
    this.#t = t.view().keep();
    this.#t.storage.release();
  }

  /** The saved tensor. @throws {Error} after release. */
  get tensor(): Tensor {
    if (!this.#t) {
      throw new Error(
        "Trying to backward through the graph a second time: saved tensors were already freed",
      );
    }
    return this.#t;
  }

  /** Drops the saved reference. */
  release(): void {
    if (!this.#t) return;
    const storage = this.#t.storage;
    // The handle's storage reference was handed to the save; give it back through unsave().
    this.#t = null;
    storage.unsave();
  }
}

/** Computes input gradients from the output gradient (same order as `inputs`; null = none). */
export type BackwardFn = (gradOutput: Tensor) => (Tensor | null | undefined)[];

/** One recorded operation of the autograd graph (PyTorch's `grad_fn`). */
export interface GradNode {
  /** Op name, e.g. "MatmulBackward". */
  readonly name: string;
  /** The op's tensor inputs (for traversal; only `saved` keeps buffers alive). */
  readonly inputs: readonly (Tensor | null)[];
  /** Tensors this op keeps for backward. */
  readonly saved: SavedTensor[];
  /** Set once backward has run and `saved` was released. */
  released: boolean;
  /**
   * Live users: the output tensor's handle plus every unreleased node that reads the output.
   * At 0 nobody can backpropagate through this node any more, so its saved tensors are freed.
   */
  users: number;
  /** The gradient function. */
  readonly backward: BackwardFn;
}

/** Saves a tensor for backward inside {@linkcode record}'s `build` callback. */
export type SaveFn = (t: Tensor) => SavedTensor;

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
  if (!isGradEnabled() || !inputs.some((t) => t?.requiresGrad)) return out;
  const saved: SavedTensor[] = [];
  const backward = build((t) => {
    const s = new SavedTensor(t);
    saved.push(s);
    return s;
  });
  out.requiresGrad = true;
  out.gradFn = { name, inputs, saved, released: false, backward, users: 1 };
  for (const t of inputs) if (t?.gradFn) t.gradFn.users++;
  return out;
}

/**
 * Drops one user of `node` (see {@linkcode GradNode.users}); at 0 its saved tensors are freed and
 * its inputs' nodes lose a user in turn. This frees the graph of a forward that is discarded
 * without backward (an eval forward with grad enabled, an abandoned step), like PyTorch's
 * reference counting.
 */
export function dropUser(node: GradNode): void {
  const stack = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (--n.users > 0 || n.released) continue;
    for (const s of n.saved) s.release();
    n.released = true;
    for (const t of n.inputs) if (t?.gradFn) stack.push(t.gradFn);
  }
}

/** Frees every saved tensor of the graph behind `root` without running backward. */
export function releaseGraph(root: Tensor): void {
  const stack = [root];
  const seen = new Set<GradNode>();
  while (stack.length) {
    const node = stack.pop()!.gradFn;
    if (!node || seen.has(node)) continue;
    seen.add(node);
    for (const s of node.saved) s.release();
    node.released = true;
    for (const t of node.inputs) if (t) stack.push(t);
  }
}
