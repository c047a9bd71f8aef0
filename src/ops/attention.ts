import type { Tensor } from "../tensor/tensor.ts";
import { free } from "../tensor/scope.ts";
import { reshape } from "./basic.ts";
import { matmul } from "./matmul.ts";
import { softmax } from "./softmax.ts";

/** Options of {@linkcode eagerAttention}. */
export interface EagerAttentionOptions {
  /** Multiplies Q·Kᵀ (HF: head_dim^−0.5). */
  scale: number;
  /** Mask keys after each query's position (decoders). Default false. */
  causal?: boolean;
}

/**
 * Scaled dot-product attention as HF's `eager_attention_forward` (modeling_llama.py):
 * `softmax(Q·Kᵀ · scale + mask) · V` with grouped-query attention. Query head h reads key/value
 * head ⌊h / n_rep⌋ (HF `repeat_kv`), but K and V are never repeated: Q [B, H, Sq, D] is viewed as
 * [B, Hkv, n_rep·Sq, D] (heads of one group are adjacent), so each K/V head serves its n_rep query
 * heads in one batched product, and backward sums their gradients without a copy.
 *
 * Shapes: q [B, H, Sq, D], k and v [B, Hkv, Sk, D] with H = n_rep·Hkv, mask f32 [B, Sk] additive
 * (0 or finfo.min, from `additiveMask`) or null → [B, H, Sq, D]. With `causal`, query i attends to
 * keys j ≤ i + (Sk − Sq) (a KV cache puts the queries at the end).
 *
 * Saves (when recording): Q, K, V and the probabilities [B, H, Sq, Sk].
 * @throws {Error} when the shapes do not fit (H not a multiple of Hkv, mismatched B, D or Sk).
 */
export function eagerAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  options: EagerAttentionOptions,
): Tensor {
  const [b, h, sq, d] = q.shape;
  const [bk, hkv, , dk] = k.shape;
  if (
    q.ndim !== 4 || k.ndim !== 4 || v.shape.join() !== k.shape.join() || bk !== b || dk !== d ||
    h % hkv !== 0
  ) {
    throw new Error(
      `eagerAttention: q [${q.shape}], k [${k.shape}], v [${v.shape}] do not fit ` +
        "(expected q [B, H, Sq, D], k = v [B, Hkv, Sk, D], H a multiple of Hkv)",
    );
  }
  const rep = h / hkv;
  const grouped = reshape(q, [b, hkv, rep * sq, d]);
  const scores = matmul(grouped, k, { transB: true });
  grouped.dispose();
  const probs = softmax(scores, mask, {
    scale: options.scale,
    causal: options.causal ?? false,
    queries: sq,
  });
  scores.dispose();
  const context = matmul(probs, v);
  free(probs);
  const out = reshape(context, [b, h, sq, d]);
  context.dispose();
  return out;
}
