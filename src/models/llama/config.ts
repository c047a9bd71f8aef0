/**
 * `LlamaConfig`: the `config.json` of a Hugging Face LLaMA-family causal LM ("llama", "qwen2",
 * "mistral"), with the field names and defaults of `transformers.LlamaConfig`.
 *
 * @module
 */

import type { ResolveModelFileOptions } from "../../hub/resolve.ts";
import type { Llama3RopeScaling } from "../../ops/rope.ts";
import type { ParameterEstimate } from "../size_check.ts";
import type { AttnImplementation } from "../../nn/attention.ts";
import { configJson, isPlainObject, readConfigJson, writeConfigJson } from "../config_json.ts";
export type { Llama3RopeScaling } from "../../ops/rope.ts";

/** `model_type`s that share LLaMA's layout. */
export const LLAMA_MODEL_TYPES = ["llama", "qwen2", "mistral"] as const;
/** A supported decoder `model_type`. */
export type LlamaModelType = typeof LLAMA_MODEL_TYPES[number];

/** The typed fields of a LLaMA-family config, spelled as in `config.json`. */
export interface LlamaConfigFields {
  /** "llama" (default), "qwen2" (q/k/v biases) or "mistral" (sliding window). */
  model_type: LlamaModelType;
  /** e.g. `["LlamaForCausalLM"]`; null when unknown. */
  architectures: string[] | null;
  /** Default 32000. */
  vocab_size: number;
  /** Width D of the residual stream. Default 4096. */
  hidden_size: number;
  /** SwiGLU inner width. Default 11008. */
  intermediate_size: number;
  /** Decoder layers. Default 32. */
  num_hidden_layers: number;
  /** Query heads. Default 32. */
  num_attention_heads: number;
  /** Key/value heads (GQA); must divide num_attention_heads. Default num_attention_heads. */
  num_key_value_heads: number;
  /** Per-head width; default hidden_size / num_attention_heads. */
  head_dim: number;
  /** Only "silu" is supported. */
  hidden_act: "silu";
  /** Longest sequence the model was trained for. Default 2048. */
  max_position_embeddings: number;
  /** Std of the normal weight init. Default 0.02. */
  initializer_range: number;
  /** RMSNorm epsilon. Default 1e-6. */
  rms_norm_eps: number;
  /** RoPE base. Default 10000. */
  rope_theta: number;
  /** null (default) or llama3 frequency scaling. */
  rope_scaling: Llama3RopeScaling | null;
  /** Biases on q/k/v/o (llama); qwen2 always has q/k/v biases. Default false. */
  attention_bias: boolean;
  /** Must be 0 (training here uses no attention dropout). Default 0. */
  attention_dropout: number;
  /** Biases on the MLP projections. Default false. */
  mlp_bias: boolean;
  /** lm_head shares embed_tokens' weight. Default false (qwen2 small models: true). */
  tie_word_embeddings: boolean;
  /** Mistral / Qwen2 sliding-window size, or null. */
  sliding_window: number | null;
  /** Qwen2: whether the sliding window is used. Default false. */
  use_sliding_window: boolean;
  /** Default 1 (null allowed). */
  bos_token_id: number | null;
  /** Default 2; a list for some chat models (null allowed). */
  eos_token_id: number | number[] | null;
  /** Default null. */
  pad_token_id: number | null;
}

/** Input of the constructor: a parsed `config.json` (untrusted). */
export type LlamaConfigInput = Partial<LlamaConfigFields> & { [field: string]: unknown };

const FIELD_NAMES: readonly (keyof LlamaConfigFields)[] = [
  "model_type",
  "architectures",
  "vocab_size",
  "hidden_size",
  "intermediate_size",
  "num_hidden_layers",
  "num_attention_heads",
  "num_key_value_heads",
  "head_dim",
  "hidden_act",
  "max_position_embeddings",
  "initializer_range",
  "rms_norm_eps",
  "rope_theta",
  "rope_scaling",
  "attention_bias",
  "attention_dropout",
  "mlp_bias",
  "tie_word_embeddings",
  "sliding_window",
  "use_sliding_window",
  "bos_token_id",
  "eos_token_id",
  "pad_token_id",
];

/**
 * A LLaMA-family configuration with HF names and defaults. Unknown fields are kept in
 * {@linkcode LlamaConfig.extra} and written back by `toJSON()`.
 */
export class LlamaConfig implements LlamaConfigFields {
  model_type: LlamaModelType = "llama";
  architectures: string[] | null = null;
  vocab_size = 32000;
  hidden_size = 4096;
  intermediate_size = 11008;
  num_hidden_layers = 32;
  num_attention_heads = 32;
  num_key_value_heads = 32;
  head_dim = 128;
  hidden_act = "silu" as const;
  max_position_embeddings = 2048;
  initializer_range = 0.02;
  rms_norm_eps = 1e-6;
  rope_theta = 10000;
  rope_scaling: Llama3RopeScaling | null = null;
  attention_bias = false;
  attention_dropout = 0;
  mlp_bias = false;
  tie_word_embeddings = false;
  sliding_window: number | null = null;
  use_sliding_window = false;
  bos_token_id: number | null = 1;
  eos_token_id: number | number[] | null = 2;
  pad_token_id: number | null = null;
  /** Attention kernel, by name or as a function (see `nn/attention.ts`); default "eager". Not written to JSON. */
  attn_implementation?: AttnImplementation;
  /** Where the config came from (a file path), for error messages. */
  readonly source: string;
  /** Fields of the input velora does not interpret, passed through to `toJSON()`. */
  readonly extra: Record<string, unknown> = {};

  /**
   * Validates and fills defaults (HF's). `source` names the file in errors.
   * @throws {Error} naming the field and value for an unsupported model_type, hidden_act,
   * rope_scaling type, non-positive sizes, heads that do not divide, or attention dropout.
   */
  constructor(input: LlamaConfigInput = {}, source = "config") {
    this.source = source;
    const bad = (field: string, why: string): never => {
      throw new Error(`${source}: ${field} ${JSON.stringify(input[field])} ${why}`);
    };
    for (const [k, v] of Object.entries(input)) {
      if (k === "attn_implementation" || k === "_attn_implementation") {
        if (typeof v === "string" || typeof v === "function") {
          this.attn_implementation = v as AttnImplementation;
        }
      } else if (!(FIELD_NAMES as readonly string[]).includes(k)) this.extra[k] = v;
    }
    const mt = input.model_type ?? "llama";
    if (!(LLAMA_MODEL_TYPES as readonly string[]).includes(mt)) {
      bad("model_type", `is not supported (supported: ${LLAMA_MODEL_TYPES.join(", ")})`);
    }
    this.model_type = mt;
    if (mt === "qwen2") {
      // transformers.Qwen2Config defaults.
      Object.assign(this, {
        vocab_size: 151936,
        intermediate_size: 22016,
        rope_theta: 10000,
        max_position_embeddings: 32768,
        sliding_window: 4096,
        bos_token_id: null,
        eos_token_id: null,
      });
    } else if (mt === "mistral") {
      Object.assign(this, {
        intermediate_size: 14336,
        num_key_value_heads: 8,
        max_position_embeddings: 4096 * 32,
        sliding_window: 4096,
        // Mistral's window is always on (no use_sliding_window field).
        use_sliding_window: true,
      });
    }
    const num = (f: keyof LlamaConfigFields, { int = true, min = 1 } = {}) => {
      const v = input[f];
      if (v === undefined) return;
      if (
        typeof v !== "number" || !Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min
      ) {
        bad(f, `must be ${int ? "an integer" : "a number"} ≥ ${min}`);
      }
      (this as Record<string, unknown>)[f] = v;
    };
    for (
      const f of [
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "max_position_embeddings",
      ] as const
    ) num(f);
    this.num_key_value_heads = this.num_attention_heads;
    if (mt === "mistral" && input.num_key_value_heads === undefined) this.num_key_value_heads = 8;
    num("num_key_value_heads");
    num("initializer_range", { int: false, min: 0 });
    num("rms_norm_eps", { int: false, min: 0 });
    num("rope_theta", { int: false, min: Number.MIN_VALUE });
    this.head_dim = this.hidden_size / this.num_attention_heads;
    if (input.head_dim !== undefined && input.head_dim !== null) num("head_dim");
    if (!Number.isInteger(this.head_dim) || this.head_dim % 2 !== 0) {
      bad(
        "head_dim",
        `(hidden_size / num_attention_heads = ${this.head_dim}) must be an even integer`,
      );
    }
    if (this.num_attention_heads % this.num_key_value_heads !== 0) {
      bad(
        "num_key_value_heads",
        `must divide num_attention_heads (${this.num_attention_heads})`,
      );
    }
    if ((input.hidden_act ?? "silu") !== "silu") {
      bad("hidden_act", 'is not supported (only "silu")');
    }
    if (input.attention_dropout !== undefined && input.attention_dropout !== 0) {
      bad("attention_dropout", "is not supported (only 0)");
    }
    for (
      const f of [
        "attention_bias",
        "mlp_bias",
        "tie_word_embeddings",
        "use_sliding_window",
      ] as const
    ) {
      const v = input[f];
      if (v === undefined) continue;
      if (typeof v !== "boolean") bad(f, "must be true or false");
      this[f] = v as boolean;
    }
    if (input.sliding_window !== undefined) {
      const v = input.sliding_window;
      if (v !== null && !(typeof v === "number" && Number.isInteger(v) && v > 0)) {
        bad("sliding_window", "must be a positive integer or null");
      }
      this.sliding_window = v;
    }
    const rs = input.rope_scaling;
    if (rs !== undefined && rs !== null) {
      if (!isPlainObject(rs)) bad("rope_scaling", "must be an object or null");
      const r = rs as unknown as Record<string, unknown>;
      const type = r.rope_type ?? r.type;
      if (type !== "llama3") {
        bad("rope_scaling", 'is not supported (only null or rope_type "llama3")');
      }
      this.rope_scaling = { ...(rs as unknown as Llama3RopeScaling), rope_type: "llama3" };
    }
    if (input.architectures !== undefined) this.architectures = input.architectures;
    for (const f of ["bos_token_id", "eos_token_id", "pad_token_id"] as const) {
      if (input[f] !== undefined) (this as Record<string, unknown>)[f] = input[f];
    }
  }

  /** q/k/v projections have biases (qwen2 always; llama with attention_bias). */
  get qkv_bias(): boolean {
    return this.model_type === "qwen2" || this.attention_bias;
  }

  /** o_proj has a bias (llama's attention_bias; never for qwen2). */
  get o_bias(): boolean {
    return this.model_type !== "qwen2" && this.attention_bias;
  }

  /** The sliding window in force, or null (Mistral always; Qwen2 with use_sliding_window). */
  get effective_sliding_window(): number | null {
    if (this.model_type === "llama") return null;
    if (this.model_type === "qwen2" && !this.use_sliding_window) return null;
    return this.sliding_window;
  }

  /** The eos ids as a list (empty when none). */
  get eos_token_ids(): number[] {
    const e = this.eos_token_id;
    return e === null ? [] : Array.isArray(e) ? e : [e];
  }

  /**
   * Parameter counts of a causal LM with this config (embeddings, layers, final norm, and an
   * untied lm_head), for the size check before allocation.
   */
  estimateParameters(): ParameterEstimate {
    const d = this.hidden_size, i = this.intermediate_size, v = this.vocab_size;
    const q = this.num_attention_heads * this.head_dim;
    const kv = this.num_key_value_heads * this.head_dim;
    const bias = this.qkv_bias ? q + 2 * kv : 0;
    const layer = 2 * d * q + 2 * d * kv + bias + 3 * d * i + 2 * d;
    const layers = this.num_hidden_layers * layer;
    const embeddings = v * d * (this.tie_word_embeddings ? 1 : 2) + d;
    const largest = [
      { elements: v * d, fields: ["vocab_size", "hidden_size"] },
      { elements: i * d, fields: ["intermediate_size", "hidden_size"] },
      { elements: q * d, fields: ["num_attention_heads", "head_dim", "hidden_size"] },
    ].reduce((a, b) => (b.elements > a.elements ? b : a));
    return {
      total: embeddings + layers,
      largest,
      dominant: layers >= embeddings ? "num_hidden_layers" : largest.fields.join(" × "),
      tensors: 3 + (this.qkv_bias ? 12 : 9) * this.num_hidden_layers,
      repeat: { field: "num_hidden_layers", value: this.num_hidden_layers },
    };
  }

  /** The HF-compatible `config.json` object (keys sorted), plus the pass-through fields. */
  toJSON(): Record<string, unknown> {
    return configJson(this, FIELD_NAMES, this.extra);
  }

  /** Writes `config.json` (2-space indented) into `dir` atomically. @throws {Error} naming the file. */
  async save_pretrained(dir: string): Promise<void> {
    await writeConfigJson(dir, this.toJSON());
  }

  /**
   * Loads `config.json` from a local directory or a hub repo.
   * @throws {Error} naming the file for unreadable JSON and the field for unsupported values.
   */
  static async from_pretrained(
    idOrDir: string,
    options: Omit<ResolveModelFileOptions, "required"> & Record<string, unknown> = {},
  ): Promise<LlamaConfig> {
    const { path, json } = await readConfigJson(idOrDir, options);
    if (!isPlainObject(json)) throw new Error(`${path}: config.json must be a JSON object`);
    return new LlamaConfig(json as LlamaConfigInput, path);
  }
}
