import type { Tensor } from "../tensor/tensor.ts";
import { accumulateLeaf, seedGradient, settleLeafGradients, sumGradients } from "../tensor/grad.ts";
import { tidy } from "../tensor/scope.ts";
import { noGrad } from "./grad_mode.ts";
import type { GradNode } from "./node.ts";

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

/**
 * Backpropagates from `root` (see `Tensor.backward`): runs every node's backward function in
 * reverse topological order, each inside `tidy`, releasing its saved tensors right after.
 * `Tensor.backward()` reaches this through its node ({@linkcode GradNode.runBackward}), so the
 * tensor layer never imports the engine.
 */
export function runBackward(root: Tensor, gradient?: Tensor): void {
  const seed = seedGradient(root, gradient);
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
              grads.set(input.gradFn, prev ? sumGradients(prev, handle) : handle);
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
    settleLeafGradients(touched);
  });
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
