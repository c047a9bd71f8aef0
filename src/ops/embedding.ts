import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/embedding.wgsl" with { type: "text" };
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { zeros } from "./basic.ts";

const code = GRID_WGSL + src;
const UNIFORMS = ["n", "dim", "vocab", "pad", "tokens"] as const;
const K = defineKernels("embedding.wgsl", code, {
  forward: { bindings: ["ids", "weight", "out"], uniforms: UNIFORMS },
  rank: { bindings: ["ids", "perm", "seg"], uniforms: UNIFORMS },
  pieces: { bindings: ["ids", "qperm", "qdy", "qpart"], uniforms: UNIFORMS },
  gather: { bindings: ["ids", "gseg", "gpart", "gdw"], uniforms: UNIFORMS },
});

/** Options of {@linkcode embedding}. */
export interface EmbeddingOptions {
  /**
   * PyTorch `padding_idx`: this row of the weight gets no gradient (HF BERT's word embeddings use
   * `pad_token_id`). Negative values count from the end, as in PyTorch. Default: none.
   */
  paddingIdx?: number;
}

const NO_PAD = 0xffffffff;

/**
 * Sorted token positions per chunk in the dW reduction (`K` in `kernels/embedding.wgsl`): each
 * id's gradient row is the in-order sum of its per-chunk partial sums.
 */
export const EMBEDDING_GRAD_CHUNK = 64;

/**
 * Embedding lookup, PyTorch `F.embedding`: out[..., :] = weight[ids[...], :].
 *
 * Shapes: ids i32 [...] (T elements), weight f32 [V, D] → out [..., D].
 * Ids are not validated here (that would need a GPU readback): the kernels clamp them to
 * [0, V), so an out-of-range id reads and trains row 0 or V−1. Validate ids on the CPU before
 * upload (the model layer does).
 *
 * Saves (when recording): ids [...] (T i32 values), nothing else.
 * Backward: dW [V, D], zero except the rows of used ids (and zero at `paddingIdx`), computed
 * deterministically without atomics (see `kernels/embedding.wgsl`):
 * 1. a stable GPU counting sort of the token positions by id: O(T²) integer compares in one
 *    dispatch, tiled through shared memory (~17 M compares for T = 4096, 268 M for T = 16384);
 * 2. the sorted positions are cut into chunks of {@linkcode EMBEDDING_GRAD_CHUNK}; one invocation
 *    per (chunk, column) sums, in position order, each run of equal ids inside its chunk;
 * 3. one invocation per (distinct id, column) adds its runs' partial sums in order.
 * The summation order depends only on the ids, so dW is bit-identical across runs, and the longest
 * sequential loop is 64 + T/64 even when one id covers the whole batch (token types).
 * Workspace during backward: [T, D] f32 partial sums plus 3·T i32. ids get no gradient.
 *
 * @throws {Error} when ids is not i32, weight is not f32 [V, D] with V ≥ 1, or `paddingIdx` is
 * outside [−V, V) (messages name the shapes).
 */
export function embedding(ids: Tensor, weight: Tensor, options: EmbeddingOptions = {}): Tensor {
  if (ids.dtype !== "i32") {
    throw new Error(`embedding: ids must be i32, got ${ids.dtype} [${ids.shape}]`);
  }
  if (weight.dtype !== "f32" || weight.ndim !== 2 || weight.shape[0] === 0) {
    throw new Error(
      `embedding: weight must be f32 [V, D] with V ≥ 1, got ${weight.dtype} [${weight.shape}]`,
    );
  }
  const [vocab, dim] = weight.shape;
  let pad = NO_PAD;
  if (options.paddingIdx !== undefined) {
    const pi = options.paddingIdx;
    if (!Number.isInteger(pi) || pi < -vocab || pi >= vocab) {
      throw new Error(
        `embedding: paddingIdx ${pi} is outside [${-vocab}, ${vocab}) for weight [${weight.shape}]`,
      );
    }
    pad = pi < 0 ? pi + vocab : pi;
  }
  const device = ids.device;
  const tokens = ids.numel;
  const n = tokens * dim;
  const out = Tensor.empty(device, [...ids.shape, dim]);
  if (n > 0) {
    K.forward.launch(device, {
      bindings: { ids, weight, out },
      uniforms: { n, dim, vocab, pad: NO_PAD, tokens },
      workgroups: grid1d(n),
    });
  }
  return record(out, [ids, weight], "EmbeddingBackward", (save) => {
    const sids = save(ids);
    return (g) => {
      const dw = zeros(device, [vocab, dim]);
      if (n === 0) return [null, dw];
      const savedIds = sids.tensor;
      const perm = Tensor.empty(device, [tokens], { dtype: "i32" });
      const seg = Tensor.empty(device, [tokens, 2], { dtype: "i32" });
      const part = Tensor.empty(device, [tokens, dim]);
      K.rank.launch(device, {
        bindings: { ids: savedIds, perm, seg },
        uniforms: { n: tokens, dim, vocab, pad: NO_PAD, tokens },
        workgroups: grid1d(tokens),
      });
      const pieces = Math.ceil(tokens / EMBEDDING_GRAD_CHUNK) * dim;
      K.pieces.launch(device, {
        bindings: { ids: savedIds, qperm: perm, qdy: g, qpart: part },
        uniforms: { n: pieces, dim, vocab, pad: NO_PAD, tokens },
        workgroups: grid1d(pieces),
      });
      K.gather.launch(device, {
        bindings: { ids: savedIds, gseg: seg, gpart: part, gdw: dw },
        uniforms: { n, dim, vocab, pad, tokens },
        workgroups: grid1d(n),
      });
      perm.dispose();
      seg.dispose();
      part.dispose();
      return [null, dw];
    };
  });
}
