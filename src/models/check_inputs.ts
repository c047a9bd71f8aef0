/**
 * Checks of a model's token inputs at the model boundary, before any kernel runs: the embedding
 * kernel clamps out-of-range ids (id 300 with vocab 211 would silently read row 210), so bad ids
 * must fail here, with the tensor, the value and the limit.
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";

/** The config fields the checks read. */
export interface TokenLimits {
  /** input_ids must be in [0, vocab_size). */
  vocab_size: number;
  /** token_type_ids must be in [0, type_vocab_size) (absent for decoders). */
  type_vocab_size?: number;
}

/**
 * Checks that every value of `t` is in [0, limit), using its host copy (`Tensor.hostData`, kept by
 * `Tensor.from` for i32 data); tensors made on the GPU have none and are trusted.
 * @throws {Error} naming `owner`, the tensor, the first bad value, its index and the limit.
 */
export function checkIdRange(
  owner: string,
  name: string,
  t: Tensor,
  limit: number,
  field: string,
): void {
  const data = t.hostData;
  if (!data) return;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < 0 || v >= limit) {
      const cols = t.shape[t.ndim - 1] ?? 1;
      const at = t.ndim >= 2 ? `[${Math.floor(i / cols)}, ${i % cols}]` : `[${i}]`;
      throw new Error(
        `${owner}: ${name}${at} = ${v} is outside [0, ${limit}) (${field} = ${limit})`,
      );
    }
  }
}

/**
 * Checks that `input_ids` is i32 [batch, seq] with ids in [0, vocab_size), and that
 * `attention_mask` and `token_type_ids`, when given, are i32 with the same shape (token types in
 * [0, type_vocab_size)).
 * @throws {Error} naming `owner`, the tensor and the shapes or the bad value and its limit.
 */
export function checkTokenIds(
  owner: string,
  limits: TokenLimits,
  input_ids: Tensor,
  attention_mask?: Tensor | null,
  token_type_ids?: Tensor | null,
): void {
  if (input_ids.ndim !== 2 || input_ids.dtype !== "i32") {
    throw new Error(`${owner}: input_ids must be i32 [batch, seq], got ${input_ids}`);
  }
  for (
    const [name, t] of [["attention_mask", attention_mask], [
      "token_type_ids",
      token_type_ids,
    ]] as const
  ) {
    if (t && (t.dtype !== "i32" || t.shape.join() !== input_ids.shape.join())) {
      throw new Error(
        `${owner}: ${name} ${t} must be i32 with the shape of input_ids [${input_ids.shape}]`,
      );
    }
  }
  checkIdRange(owner, "input_ids", input_ids, limits.vocab_size, "vocab_size");
  if (token_type_ids && limits.type_vocab_size !== undefined) {
    checkIdRange(
      owner,
      "token_type_ids",
      token_type_ids,
      limits.type_vocab_size,
      "type_vocab_size",
    );
  }
}
