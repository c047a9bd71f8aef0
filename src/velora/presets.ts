/**
 * VeLoRA target presets (HF module names), for BERT-family encoders ({@linkcode VELORA_PRESETS},
 * the `--velora-layers` of `deno task finetune`) and LLaMA-family decoders
 * ({@linkcode DECODER_VELORA_PRESETS}).
 *
 * Decoders:
 * - `vd`: the paper's setting (Miles et al. 2024, §4.2: value and FFN down projections). On a
 *   decoder `v_proj` shares its input with `q_proj`/`k_proj`, which keep it for their own weight
 *   gradients, so only `down_proj`'s input is really freed (the report's `inputsHeldElsewhere()`
 *   says so per layer).
 * - `qkvd`: `vd` plus q/k, so the shared normed input of the attention block is compressed once
 *   (one z) and freed for all three.
 * - `all`: every linear input: q/k/v share one z, gate/up share one z, o_proj and down_proj each
 *   their own.
 * @module
 */

/** Decoder presets by name: `vd`, `qkvd`, `all`. */
export const DECODER_VELORA_PRESETS: Readonly<Record<string, readonly string[]>> = {
  vd: ["self_attn.v_proj", "mlp.down_proj"],
  qkvd: ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.down_proj"],
  all: [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
  ],
};

/**
 * BERT-family encoder presets: `all`, the six encoder linear types; `vd`, the paper's value + FFN
 * down projection (`layer.N.output.dense`, not `attention.output.dense`).
 */
export const VELORA_PRESETS: Record<string, (string | RegExp)[]> = {
  all: [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    /.*layer\.\d+\.output\.dense/,
  ],
  vd: ["attention.self.value", /.*layer\.\d+\.output\.dense/],
};
