import type { Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import { Embedding } from "../../nn/embedding.ts";
import { LayerNorm } from "../../nn/layernorm.ts";
import { Dropout } from "../../nn/dropout.ts";
import { mulberry32, normal_ } from "../../nn/init.ts";
import type { BertConfig } from "./config.ts";

/**
 * HF `BertPreTrainedModel._init_weights`: Linear and Embedding weights ~ N(0, initializer_range),
 * biases 0, the padding_idx row of embeddings 0, LayerNorm weight 1 and bias 0. Seeded.
 */
export function initBertWeights(root: Module, config: BertConfig, seed: number): void {
  const gen = mulberry32(seed);
  const std = config.initializer_range;
  const values: Record<string, Float32Array> = {};
  for (const [name, m] of root.named_modules()) {
    const p = name ? `${name}.` : "";
    if (m instanceof Linear || m instanceof Embedding) {
      const w = normal_(new Float32Array(m.weight.numel), 0, std, gen);
      const pad = m instanceof Embedding ? m.padding_idx : null;
      if (pad !== null && pad !== undefined) {
        w.fill(0, pad * m.weight.shape[1], (pad + 1) * m.weight.shape[1]);
      }
      values[`${p}weight`] = w;
      if (m instanceof Linear && m.bias) values[`${p}bias`] = new Float32Array(m.bias.numel);
    } else if (m instanceof LayerNorm) {
      values[`${p}weight`] = new Float32Array(m.weight.numel).fill(1);
      values[`${p}bias`] = new Float32Array(m.bias.numel);
    }
  }
  root.load_state_dict(values, { strict: false });
}

/**
 * Gives every dropout module of `root` a base seed derived from `seed` and its position, so two
 * models built with the same seed draw the same masks (needed for exact resume).
 */
export function seedDropouts(root: Module, seed: number): void {
  let i = 0;
  for (const [, m] of root.named_modules()) {
    if (m instanceof Dropout) {
      m.seed = (Math.imul(seed ^ 0x9e3779b9, 2654435761) + Math.imul(++i, 0x85ebca6b)) >>> 0;
      m.calls = 0;
    }
  }
}
