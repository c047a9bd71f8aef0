/**
 * The attention seam every model calls: one function type, chosen by name through
 * `config.attn_implementation` (HF's `attn_implementation` and `ALL_ATTENTION_FUNCTIONS`), so
 * kernel choice (eager, fused, flash) is never model code.
 *
 * Adding an implementation: write an {@linkcode AttentionFunction} (same shapes and semantics as
 * {@linkcode eagerAttention}, with a test against it), then either add one line to `BUILTIN`
 * below (implementations that ship with velora, chosen by name) or pass the function itself as
 * `attn_implementation` (the config field or the `from_pretrained` option); the model then uses it
 * in every layer. There is deliberately no global `register`: a process-wide table that user code
 * mutates would let one caller's choice leak into every later model (and test).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { reshape } from "../ops/basic.ts";
import { matmul } from "../ops/matmul.ts";
import { softmax } from "../ops/softmax.ts";
import { dropoutMatmul } from "../ops/dropout.ts";
import { permute } from "../ops/shape.ts";
import { tidy } from "../tensor/scope.ts";
import { flashAttention } from "../ops/flash_attention.ts";

/** Per-call options of an {@linkcode AttentionFunction}. */
export interface AttentionOptions {
  /**
   * Additive padding mask f32 [batch, kv_seq] (0 to keep, a very negative value to drop, as
   * `additiveMask` makes it), broadcast over heads and queries; null for none.
   */
  attention_mask: Tensor | null;
  /**
   * Causal masking: query i (of q_seq) sees keys 0..i + (kv_seq − q_seq), so with a KV cache the
   * new queries sit at the end of the key sequence. Default false.
   */
  is_causal?: boolean;
  /** Multiplies Q·Kᵀ before the mask and softmax; HF's `scaling`, usually 1/√head_dim. */
  scaling: number;
  /** Dropout probability on the attention probabilities (0 in eval). */
  dropout: number;
  /** Seed of the dropout mask (see `Dropout.drawSeed`); null when `dropout` is 0. */
  seed: number | null;
}

/**
 * softmax(scaling · Q·Kᵀ + mask)·V per head (HF `eager_attention_forward`).
 *
 * Shapes: query [batch, heads, q_seq, head_dim]; key and value [batch, kv_heads, kv_seq,
 * head_dim] with `heads` a multiple of `kv_heads` (grouped-query attention: query head h reads
 * kv head ⌊h / (heads / kv_heads)⌋, as HF `repeat_kv`) → context [batch, q_seq, heads,
 * head_dim] (HF's transposed `attn_output`, so merging heads is a reshape).
 * @throws {Error} naming the shapes when they do not fit.
 */
export type AttentionFunction = (
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: AttentionOptions,
) => Tensor;

/** Checks the shapes every implementation shares; returns [batch, heads, kvHeads, qSeq, kvSeq, dim]. */
export function attentionShapes(
  query: Tensor,
  key: Tensor,
  value: Tensor,
): [number, number, number, number, number, number] {
  const ok = query.ndim === 4 && key.ndim === 4 && value.shape.join() === key.shape.join() &&
    query.shape[0] === key.shape[0] && query.shape[3] === key.shape[3] && key.shape[1] > 0 &&
    query.shape[1] % key.shape[1] === 0;
  if (!ok) {
    throw new Error(
      `attention: query [${query.shape}] and key/value [${key.shape}]/[${value.shape}] must be ` +
        "[batch, heads, seq, head_dim] and [batch, kv_heads, kv_seq, head_dim] with heads a " +
        "multiple of kv_heads",
    );
  }
  const [b, h, sq, d] = query.shape;
  return [b, h, key.shape[1], sq, key.shape[2], d];
}

/**
 * The reference implementation, {@linkcode AttentionFunction} semantics: scores = Q·Kᵀ [B, Hkv,
 * G·Sq, Skv] (the G = heads / kv_heads query heads of a group stacked along the query axis, so KV
 * heads are shared without copies), softmax with the scale, padding mask and causal mask fused,
 * then dropout fused into the context matmul (the dropped
 * probabilities are never kept: backward regenerates the mask from the seed).
 * Saves for backward: Q, K (for the scores), the probabilities and V.
 */
export function eagerAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: AttentionOptions,
): Tensor {
  return tidy(() => {
    const [b, h, kvh, sq, , d] = attentionShapes(query, key, value);
    const g = h / kvh;
    const q = g === 1 ? query : reshape(query, [b, kvh, g * sq, d]);
    const scores = matmul(q, key, { transB: true });
    const probs = softmax(scores, options.attention_mask, {
      scale: options.scaling,
      causal: options.is_causal ?? false,
      queries: sq,
    });
    const context = options.seed === null || options.dropout === 0
      ? matmul(probs, value)
      : dropoutMatmul(probs, value, options.dropout, options.seed);
    const heads = g === 1 ? context : reshape(context, [b, h, sq, d]);
    return permute(heads, [0, 2, 1, 3]);
  });
}

/**
 * Recomputed attention (FlashAttention-2, `ops/flash_attention.ts`), {@linkcode AttentionFunction}
 * semantics: the same values and gradients as {@linkcode eagerAttention} (the same dropout mask
 * for the same seed) without keeping the [B, H, Sq, Sk] probabilities: saves Q, K, V, the context
 * and per-row statistics, and backward recomputes the probabilities block by block. A head_dim
 * that is not a multiple of 4 or exceeds 256 falls back to the eager implementation.
 */
export function flashAttention2(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: AttentionOptions,
): Tensor {
  const d = attentionShapes(query, key, value)[5];
  if (d % 4 !== 0 || d > 256) return eagerAttention(query, key, value, options);
  const drop = options.seed === null ? 0 : options.dropout;
  return flashAttention(query, key, value, {
    layout: "bhsd",
    mask: options.attention_mask,
    causal: options.is_causal ?? false,
    scale: options.scaling,
    dropout: drop,
    seed: drop > 0 ? options.seed! : undefined,
  });
}

/**
 * Implementations that ship with velora: add a line here for a new built-in kernel. HF's names:
 * "sdpa" (PyTorch's fused scaled-dot-product attention) maps to the recomputed kernel too.
 */
const BUILTIN: Record<string, AttentionFunction> = {
  eager: eagerAttention,
  flash_attention_2: flashAttention2,
  sdpa: flashAttention2,
};

/**
 * An `attn_implementation`: a built-in's name ("eager", "flash_attention_2", "sdpa") or an
 * {@linkcode AttentionFunction} passed directly (runtime only; never written to config.json).
 */
export type AttnImplementation = string | AttentionFunction;

/**
 * Name → built-in {@linkcode AttentionFunction} (HF `ALL_ATTENTION_FUNCTIONS`), read-only: a custom
 * implementation is passed as the function itself, not registered globally.
 */
export class AttentionRegistry {
  readonly #fns: ReadonlyMap<string, AttentionFunction> = new Map(Object.entries(BUILTIN));

  /** Whether `name` is registered. */
  has(name: string): boolean {
    return this.#fns.has(name);
  }

  /** Registered names. */
  names(): string[] {
    return [...this.#fns.keys()];
  }

  /**
   * The built-in called `name`, or `name` itself when it is a function.
   * @throws {Error} listing the built-in names for an unknown name.
   */
  get(name: AttnImplementation): AttentionFunction {
    if (typeof name === "function") return name;
    const fn = this.#fns.get(name);
    if (!fn) {
      throw new Error(
        `attn_implementation "${name}" is not registered (available: ${
          this.names().map((n) => `"${n}"`).join(", ")
        }; or pass an AttentionFunction itself)`,
      );
    }
    return fn;
  }
}

/** The registry models read `config.attn_implementation` from. */
export const ALL_ATTENTION_FUNCTIONS: AttentionRegistry = new AttentionRegistry();
