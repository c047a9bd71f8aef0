import type { Tensor } from "../tensor/tensor.ts";
import { accumulate, add, clone, full } from "../ops/basic.ts";
import { tidy } from "../tensor/scope.ts";
import { noGrad } from "./grad_mode.ts";
import { type GradNode, releaseGraph } from "./node.ts";

/** Nodes reachable from `root`, in reverse topological order (outputs before inputs). */
function reverseTopo(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const state = new Map<GradNode, number>(); // 1 = on stack, 2 = done
  const stack: [GradNode, number][] = [[root, 0]];
  state.set(root, 1);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i]?.gradFn;
      if (child && !state.has(child) && node.inputs[i]!.requiresGrad) {
        state.set(child, 1);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      state.set(node, 2);
      order.push(node);
    }
  }
  return order.reverse();
}

/** `prev + g`, in place when `prev` owns its buffer; consumes both handles' ownership. */
function sum(prev: Tensor, g: Tensor): Tensor {
  if (prev.storage.refs === 1) {
    accumulate(prev, g);
    g.dispose();
    return prev;
  }
  const out = add(prev, g);
  prev.dispose();
  g.dispose();
  return out;
}

/** Adds `g` into a leaf's `.grad`, taking ownership of `g`'s handle. */
function accumulateLeaf(leaf: Tensor, g: Tensor, touched: Set<Tensor>): void {
  leaf.grad = (leaf.grad && !leaf.grad.isDisposed ? sum(leaf.grad, g) : g).keep();
  touched.add(leaf);
}

/** See {@linkcode Tensor.backward}. */
export function runBackward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) {
    throw new Error("backward(): tensor does not require grad and has no grad_fn");
  }
  let seed: Tensor;
  if (gradient) {
    if (gradient.shape.join() !== root.shape.join()) {
      throw new Error(
        `backward(): gradient shape [${gradient.shape}] does not match tensor shape [${root.shape}]`,
      );
    }
    seed = gradient.view();
  } else {
    if (root.numel !== 1) {
      throw new Error(
        `backward(): grad can be implicitly created only for scalar outputs, got [${root.shape}]`,
      );
    }
    seed = full(root.device, root.shape, 1);
  }
  noGrad(() => {
    const touched = new Set<Tensor>();
    if (!root.gradFn) {
      accumulateLeaf(root, seed, touched);
    } else {
      const grads = new Map<GradNode, Tensor>([[root.gradFn, seed]]);
      try {
        for (const node of reverseTopo(root.gradFn)) {
          if (node.released) {
            throw new Error(
              `Trying to backward through the graph a second time (${node.name}): ` +
                "its saved tensors were already freed",
            );
          }
          const g = grads.get(node);
          grads.delete(node);
          // tidy: a backward function's temporaries are freed, only its results survive.
          const inGrads = g ? tidy(() => node.backward(g)) : [];
          for (const s of node.saved) s.release();
          node.released = true;
          const produced = new Set<Tensor>();
          node.inputs.forEach((input, i) => {
            const gi = inGrads[i];
            if (!gi || !input?.requiresGrad) return;
            produced.add(gi);
            if (gi.shape.join() !== input.shape.join()) {
              throw new Error(
                `${node.name} returned a gradient of shape [${gi.shape}] for input ${i} of shape [${input.shape}]`,
              );
            }
            const handle = gi.view(); // one handle per destination: gradients may alias
            if (input.gradFn) {
              const prev = grads.get(input.gradFn);
              grads.set(input.gradFn, prev ? sum(prev, handle) : handle);
            } else accumulateLeaf(input, handle, touched);
          });
          for (const t of inGrads) if (t && !produced.has(t)) t.dispose();
          for (const t of produced) t.dispose();
          g?.dispose();
        }
      } finally {
        // On an error, free what backward still held so activation memory does not leak.
        for (const t of grads.values()) t.dispose();
        releaseGraph(root);
      }
    }
    // A leaf grad must own its buffer: accumulating in place into a shared one would change
    // another tensor's gradient.
    for (const leaf of touched) {
      const g = leaf.grad!;
      if (g.storage.refs > 1) {
        leaf.grad = clone(g, "gradient").keep();
        g.dispose();
      } else g.storage.setCategory("gradient");
    }
  });
}
