import type { Tensor } from "./tensor.ts";
import { accumulate, addNew, copyInto, fill } from "./elementwise.ts";

/**
 * The gradient bookkeeping shared by the backward engine (`src/autograd/engine.ts`) and
 * `Tensor.backward()` on a leaf: checking and creating the seed, summing gradients that meet at
 * one tensor, and giving each leaf a `.grad` that owns its buffer. Tensor-level arithmetic only,
 * so the tensor layer does not depend on the engine.
 */

/**
 * The gradient backward starts from: `gradient` (same shape as `root`), or 1 for a one-element
 * `root` (PyTorch semantics).
 * @throws {Error} when `root` does not require grad, for a shape mismatch, or for a non-scalar
 * `root` without `gradient`.
 */
export function seedGradient(root: Tensor, gradient?: Tensor): Tensor {
  if (!root.requiresGrad) {
    throw new Error("backward(): tensor does not require grad and has no grad_fn");
  }
  if (gradient) {
    if (gradient.shape.join() !== root.shape.join()) {
      throw new Error(
        `backward(): gradient shape [${gradient.shape}] does not match tensor shape [${root.shape}]`,
      );
    }
    return gradient.view();
  }
  if (root.numel !== 1) {
    throw new Error(
      `backward(): grad can be implicitly created only for scalar outputs, got [${root.shape}]`,
    );
  }
  return fill(root.newEmpty(root.shape), 1);
}

/** `prev + g`, in place when `prev` owns its buffer; consumes both handles' ownership. */
export function sumGradients(prev: Tensor, g: Tensor): Tensor {
  if (prev.storage.refs === 1) {
    accumulate(prev, g);
    g.dispose();
    return prev;
  }
  const out = addNew(prev, g);
  prev.dispose();
  g.dispose();
  return out;
}

/** Adds `g` into a leaf's `.grad`, taking ownership of `g`'s handle; records the leaf. */
export function accumulateLeaf(leaf: Tensor, g: Tensor, touched: Set<Tensor>): void {
  leaf.grad = (leaf.grad && !leaf.grad.isDisposed ? sumGradients(leaf.grad, g) : g).keep();
  touched.add(leaf);
}

/**
 * Makes each touched leaf's `.grad` own its buffer, counted as "gradient": accumulating in place
 * into a shared buffer later would change another tensor's gradient.
 */
export function settleLeafGradients(touched: Iterable<Tensor>): void {
  for (const leaf of touched) {
    const g = leaf.grad!;
    if (g.storage.refs > 1) {
      leaf.grad = copyInto(g.newEmpty(g.shape, { category: "gradient" }), g).keep();
      g.dispose();
    } else g.storage.setCategory("gradient");
  }
}
