import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { PreTrainedTokenizer } from "../data/auto_tokenizer.ts";
import type { Example } from "../data/types.ts";

/** One batch on the GPU, ready for `model.forward`. */
export interface TensorBatch {
  /** i32 [batch, seq]. */
  input_ids: Tensor;
  /** i32 [batch, seq]. */
  attention_mask: Tensor;
  /** i32 [batch, seq]. */
  token_type_ids: Tensor;
  /** i32 [batch] (classification) or f32 [batch] (regression). */
  labels: Tensor;
  /** Rows. */
  size: number;
  /** Padded tokens processed: batch × seq. */
  tokens: number;
  /** The labels on the CPU. */
  labelValues: number[];
}

/**
 * Tokenizes `examples` (text or text pairs; padded to the longest row, truncated to
 * `maxLength`) and uploads them. Dispose with {@linkcode disposeBatch}.
 */
export function makeBatch(
  device: Device,
  tokenizer: PreTrainedTokenizer,
  examples: readonly Example[],
  options: { maxLength: number; regression?: boolean },
): TensorBatch {
  const texts = examples.map((e) => e.text);
  const pairs = examples.some((e) => e.textPair !== undefined)
    ? examples.map((e) => e.textPair ?? "")
    : null;
  const enc = tokenizer.batch(texts, pairs, { max_length: options.maxLength });
  const shape = [enc.batch, enc.seqLen];
  const labelValues = examples.map((e) => e.label);
  return {
    input_ids: Tensor.from(device, enc.input_ids, shape, { dtype: "i32" }),
    attention_mask: Tensor.from(device, enc.attention_mask, shape, { dtype: "i32" }),
    token_type_ids: Tensor.from(device, enc.token_type_ids, shape, { dtype: "i32" }),
    labels: options.regression
      ? Tensor.from(device, Float32Array.from(labelValues), [enc.batch])
      : Tensor.from(device, Int32Array.from(labelValues), [enc.batch], { dtype: "i32" }),
    size: enc.batch,
    tokens: enc.batch * enc.seqLen,
    labelValues,
  };
}

/** Frees a batch's tensors. */
export function disposeBatch(b: TensorBatch): void {
  for (const t of [b.input_ids, b.attention_mask, b.token_type_ids, b.labels]) t.dispose();
}
