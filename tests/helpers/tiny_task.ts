// A tiny seeded text-classification task and a BERT small enough to train on it in a test.
import { testDevice } from "./gpu.ts";
import { BertConfig } from "../../src/models/bert/config.ts";
import { BertForSequenceClassification } from "../../src/models/bert/modeling_bert.ts";
import type { Example } from "../../src/data/types.ts";

const WORDS = [
  "free",
  "money",
  "win",
  "cash",
  "prize",
  "meeting",
  "lunch",
  "report",
  "team",
  "now",
];

/** A tiny seeded task over a 15-token vocabulary. */
export function tinyTask(rows: number, seed = 0): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < rows; i++) {
    const spam = (i + seed) % 2 === 0;
    const base = spam ? 0 : 5;
    const w = (k: number) => WORDS[base + ((i * 3 + k * 7 + seed) % 5)];
    out.push({ text: `${w(0)} ${w(1)} ${w(2)}`, label: spam ? 1 : 0 });
  }
  return out;
}

export const TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...WORDS];

/** A 1-layer hidden-8 BERT over {@linkcode TINY_VOCAB}. */
export async function tinyModel(seed = 1, extra: Record<string, unknown> = {}) {
  const device = await testDevice();
  const config = new BertConfig({
    vocab_size: TINY_VOCAB.length,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 12,
    max_position_embeddings: 16,
    num_labels: 2,
    ...extra,
  });
  return new BertForSequenceClassification(device, config, { seed });
}
