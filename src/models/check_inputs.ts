/**
 * Checks of a model's token inputs at the model boundary, before any kernel runs.
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
 * Checks that `input_ids` is i32 [batch, seq] and that `attention_mask` and `token_type_ids`, when
 * given, are i32 with the same shape.
 * @throws {Error} naming `owner`, the tensor and the shapes.
 */
export function checkTokenIds(
  owner: string,
  _limits: TokenLimits,
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
}
