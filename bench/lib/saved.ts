/**
 * What a forward saved for backward, grouped by op: walks the autograd graph from a result and
 * sums the bytes of every distinct storage counted as activation memory (parameters, which ops
 * also reference, are left out; a storage two ops share counts once, for the first op found).
 *
 * @module
 */

import type { Tensor } from "../../src/tensor/tensor.ts";
import type { GradNode } from "../../src/autograd/node.ts";
import type { Storage } from "../../src/tensor/storage.ts";

/** One group of saved tensors: an op's n-th save, over every node of that op. */
export interface SavedGroup {
  /** Op name and save index, e.g. "SwiGLUBackward#0". */
  op: string;
  /** Whether these are kept as packed f16. */
  half: boolean;
  /** Number of distinct storages. */
  count: number;
  /** Their bytes. */
  bytes: number;
}

/** The saved tensors reachable from `root`'s graph, largest groups first. */
export function savedGroups(root: Tensor): SavedGroup[] {
  const seenNodes = new Set<GradNode>();
  const seenStorage = new Set<Storage>();
  const groups = new Map<string, SavedGroup>();
  const stack: GradNode[] = root.gradFn ? [root.gradFn] : [];
  while (stack.length) {
    const node = stack.pop()!;
    if (seenNodes.has(node)) continue;
    seenNodes.add(node);
    node.saved.forEach((s, i) => {
      const st = s.storage;
      if (!st || seenStorage.has(st) || st.category !== "activation") return;
      seenStorage.add(st);
      const half = s.keptDtype === "f16";
      const key = `${node.name}#${i}${half ? " f16" : ""}`;
      const g = groups.get(key) ?? { op: `${node.name}#${i}`, half, count: 0, bytes: 0 };
      g.count++;
      g.bytes += st.bytes;
      groups.set(key, g);
    });
    for (const t of node.inputs) if (t?.gradFn) stack.push(t.gradFn);
  }
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes);
}
