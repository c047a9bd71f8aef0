/**
 * `BertConfig`: the `config.json` of a Hugging Face BERT (or RoBERTa) model, with the field
 * names and defaults of `transformers.BertConfig` / `PretrainedConfig`.
 *
 * @module
 */

import type { ResolveModelFileOptions } from "../../hub/resolve.ts";
import type { ParameterEstimate } from "../size_check.ts";
import type { AttnImplementation } from "../../nn/attention.ts";
import { configJson, isPlainObject, readConfigJson, writeConfigJson } from "../config_json.ts";

/** Activation functions velora implements: `"gelu"` is the exact (erf) GELU, as HF's `"gelu"`. */
export const SUPPORTED_HIDDEN_ACTS = ["gelu", "relu"] as const;
/** A supported `hidden_act`. */
export type BertHiddenAct = typeof SUPPORTED_HIDDEN_ACTS[number];

/** Model types sharing BERT's config fields. RoBERTa's position offset is the model's business. */
export const SUPPORTED_MODEL_TYPES = ["bert", "roberta"] as const;
/** A supported `model_type`. */
export type BertModelType = typeof SUPPORTED_MODEL_TYPES[number];

/** HF `problem_type` values for sequence classification. */
export const PROBLEM_TYPES = [
  "regression",
  "single_label_classification",
  "multi_label_classification",
] as const;
/** An HF `problem_type`. */
export type ProblemType = typeof PROBLEM_TYPES[number];

/** The typed fields of a BERT config, spelled as in `config.json`. */
export interface BertConfigFields {
  /** `"bert"` (default) or `"roberta"`. */
  model_type: BertModelType;
  /** Model classes the weights were saved from, e.g. `["BertForMaskedLM"]`; null when unknown. */
  architectures: string[] | null;
  /** Token vocabulary size. Default 30522. */
  vocab_size: number;
  /** Width D of every hidden state. Default 768. */
  hidden_size: number;
  /** Encoder layers. Default 12. */
  num_hidden_layers: number;
  /** Attention heads; must divide hidden_size. Default 12. */
  num_attention_heads: number;
  /** Feed-forward inner width. Default 3072. */
  intermediate_size: number;
  /** Feed-forward activation: `"gelu"` (erf) or `"relu"`. Default `"gelu"`. */
  hidden_act: BertHiddenAct;
  /** Dropout on embeddings and sub-layer outputs, in [0, 1). Default 0.1. */
  hidden_dropout_prob: number;
  /** Dropout on attention probabilities, in [0, 1). Default 0.1. */
  attention_probs_dropout_prob: number;
  /** Longest sequence (position embedding rows). Default 512. */
  max_position_embeddings: number;
  /** Token type (segment) embedding rows. Default 2. */
  type_vocab_size: number;
  /** Std of the normal weight init. Default 0.02. */
  initializer_range: number;
  /** LayerNorm epsilon. Default 1e-12. */
  layer_norm_eps: number;
  /** Padding token id; default 0 for BERT, 1 for RoBERTa; may be null. */
  pad_token_id: number | null;
  /** Only `"absolute"` is supported. */
  position_embedding_type: "absolute";
  /** Dropout before a classification head; null means hidden_dropout_prob. Default null. */
  classifier_dropout: number | null;
  /** Loss selection for sequence classification; null picks from num_labels and label dtype. */
  problem_type: ProblemType | null;
  /** Class index (as a decimal string key, as in JSON) → label name. Default `LABEL_0`, .... */
  id2label: Record<string, string>;
  /** Label name → class index. Default: the inverse of id2label. */
  label2id: Record<string, number>;
}

/** Input accepted by the constructor: a parsed `config.json` (untrusted), plus `num_labels`. */
export type BertConfigInput = Partial<BertConfigFields> & {
  num_labels?: number;
  [field: string]: unknown;
};

/** Options of {@link BertConfig.from_pretrained}: hub options plus config field overrides. */
export type BertConfigFromPretrainedOptions =
  & Omit<ResolveModelFileOptions, "required">
  & Partial<Omit<BertConfigFields, "model_type">>
  & { num_labels?: number };

const FIELD_NAMES: readonly (keyof BertConfigFields)[] = [
  "model_type",
  "architectures",
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "hidden_act",
  "hidden_dropout_prob",
  "attention_probs_dropout_prob",
  "max_position_embeddings",
  "type_vocab_size",
  "initializer_range",
  "layer_norm_eps",
  "pad_token_id",
  "position_embedding_type",
  "classifier_dropout",
  "problem_type",
  "id2label",
  "label2id",
];

/** Builds the checked value readers used by the constructor; errors name `source` and field. */
function reader(json: Record<string, unknown>, source: string) {
  const fail = (field: string, value: unknown, want: string): never => {
    throw new Error(`${source}: ${field} = ${JSON.stringify(value)} is invalid: ${want}`);
  };
  const num = (field: string, dflt: number, ok: (v: number) => boolean, want: string) => {
    const v = json[field] ?? dflt;
    return typeof v === "number" && ok(v) ? v : fail(field, v, want);
  };
  return {
    fail,
    positiveInt: (f: string, d: number) =>
      num(f, d, (v) => Number.isSafeInteger(v) && v > 0, "expected a positive integer"),
    probability: (f: string, d: number) =>
      num(f, d, (v) => v >= 0 && v < 1, "expected a probability in [0, 1)"),
    positive: (f: string, d: number) =>
      num(f, d, (v) => Number.isFinite(v) && v > 0, "expected a positive number"),
    nonNegative: (f: string, d: number) =>
      num(f, d, (v) => Number.isFinite(v) && v >= 0, "expected a non-negative number"),
    oneOf: <T extends string>(f: string, allowed: readonly T[], d: T, what: string): T => {
      const v = json[f] ?? d;
      return allowed.includes(v as T)
        ? v as T
        : fail(f, v, `${what} (supported: ${allowed.map((a) => `"${a}"`).join(", ")})`);
    },
  };
}

function defaultLabels(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `LABEL_${i}`]));
}

function invert(id2label: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(id2label).map(([i, l]) => [l, Number(i)]));
}

function parseId2label(v: unknown, source: string): Record<string, string> {
  const bad = () => {
    throw new Error(
      `${source}: id2label = ${
        JSON.stringify(v)
      } is invalid: expected an object mapping "0".."n-1" to label strings`,
    );
  };
  if (!isPlainObject(v)) return bad();
  const n = Object.keys(v).length;
  if (n === 0) return bad();
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const label = v[String(i)];
    if (typeof label !== "string") return bad();
    out[String(i)] = label;
  }
  return out;
}

function parseLabel2id(v: unknown, source: string): Record<string, number> {
  if (
    !isPlainObject(v) || !Object.values(v).every((i) => Number.isSafeInteger(i) && i as number >= 0)
  ) {
    throw new Error(
      `${source}: label2id = ${JSON.stringify(v)} is invalid: expected label → class index`,
    );
  }
  return { ...(v as Record<string, number>) };
}

/** id2label / label2id from num_labels, id2label or label2id (in that precedence for counts). */
function parseLabels(
  json: BertConfigInput,
  source: string,
): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const n = json.num_labels;
  if (n !== undefined && !(Number.isSafeInteger(n) && n > 0)) {
    throw new Error(
      `${source}: num_labels = ${JSON.stringify(n)} is invalid: expected a positive integer`,
    );
  }
  const label2id = json.label2id == null ? null : parseLabel2id(json.label2id, source);
  let id2label: Record<string, string>;
  if (json.id2label != null) {
    id2label = parseId2label(json.id2label, source);
  } else if (label2id !== null && n === undefined) {
    id2label = parseId2label(
      Object.fromEntries(Object.entries(label2id).map(([l, i]) => [String(i), l])),
      source,
    );
  } else {
    id2label = defaultLabels(n ?? 2);
  }
  const count = Object.keys(id2label).length;
  if (n !== undefined && n !== count) {
    throw new Error(
      `${source}: num_labels = ${n} disagrees with id2label, which has ${count} entries`,
    );
  }
  return { id2label, label2id: label2id ?? invert(id2label) };
}

/**
 * A BERT / RoBERTa configuration (HF `config.json`), validated for what velora supports.
 *
 * Fields keep HF spelling. Unknown fields (`use_cache`, `transformers_version`, ...) are kept in
 * {@link BertConfig.extra} and written back by {@link BertConfig.toJSON}.
 */
export class BertConfig implements BertConfigFields {
  model_type!: BertModelType;
  architectures!: string[] | null;
  vocab_size!: number;
  hidden_size!: number;
  num_hidden_layers!: number;
  num_attention_heads!: number;
  intermediate_size!: number;
  hidden_act!: BertHiddenAct;
  hidden_dropout_prob!: number;
  attention_probs_dropout_prob!: number;
  max_position_embeddings!: number;
  type_vocab_size!: number;
  initializer_range!: number;
  layer_norm_eps!: number;
  pad_token_id!: number | null;
  position_embedding_type!: "absolute";
  classifier_dropout!: number | null;
  problem_type!: ProblemType | null;
  id2label!: Record<string, string>;
  label2id!: Record<string, number>;
  /** Fields of the input that velora does not interpret, passed through to `toJSON()`. */
  extra: Record<string, unknown>;
  /**
   * Attention implementation, by name or as a function (HF `attn_implementation`, see `nn/attention.ts`); runtime
   * only, not written to config.json. Default "eager".
   */
  attn_implementation: AttnImplementation = "eager";
  /** Where the config came from (its file path, or the class name), for error messages. */
  readonly source: string;

  /**
   * Builds and validates a config from a parsed `config.json` object.
   *
   * @param json a parsed `config.json` object (untrusted); missing fields take HF defaults.
   * `num_labels` (default 2) builds `LABEL_i` labels when `id2label` is absent.
   * @param source what to name in error messages (a file path), default `"BertConfig"`
   * @throws Error naming the source, field and value for: a model_type other than bert/roberta,
   * hidden_act other than gelu/relu, position_embedding_type other than absolute, non-positive
   * sizes, hidden_size not divisible by num_attention_heads, dropout outside [0, 1), malformed
   * labels, num_labels disagreeing with id2label, or an unknown problem_type.
   */
  constructor(json: BertConfigInput = {}, source = "BertConfig") {
    if (!isPlainObject(json)) throw new Error(`${source}: config must be a JSON object`);
    this.source = source;
    const r = reader(json, source);
    this.model_type = r.oneOf(
      "model_type",
      SUPPORTED_MODEL_TYPES,
      (this.constructor as typeof BertConfig).model_type,
      "unsupported model",
    );
    const arch = json.architectures ?? null;
    if (arch !== null && !(Array.isArray(arch) && arch.every((a) => typeof a === "string"))) {
      r.fail("architectures", arch, "expected an array of class names");
    }
    this.architectures = arch === null ? null : [...arch as string[]];
    this.vocab_size = r.positiveInt("vocab_size", 30522);
    this.hidden_size = r.positiveInt("hidden_size", 768);
    this.num_hidden_layers = r.positiveInt("num_hidden_layers", 12);
    this.num_attention_heads = r.positiveInt("num_attention_heads", 12);
    if (this.hidden_size % this.num_attention_heads !== 0) {
      throw new Error(
        `${source}: hidden_size = ${this.hidden_size} is not divisible by num_attention_heads = ${this.num_attention_heads}`,
      );
    }
    this.intermediate_size = r.positiveInt("intermediate_size", 3072);
    this.hidden_act = r.oneOf(
      "hidden_act",
      SUPPORTED_HIDDEN_ACTS,
      "gelu",
      "unsupported activation",
    );
    this.hidden_dropout_prob = r.probability("hidden_dropout_prob", 0.1);
    this.attention_probs_dropout_prob = r.probability("attention_probs_dropout_prob", 0.1);
    this.max_position_embeddings = r.positiveInt("max_position_embeddings", 512);
    this.type_vocab_size = r.positiveInt("type_vocab_size", 2);
    this.initializer_range = r.nonNegative("initializer_range", 0.02);
    this.layer_norm_eps = r.positive("layer_norm_eps", 1e-12);
    const pad = json.pad_token_id === undefined
      ? (this.model_type === "roberta" ? 1 : 0)
      : json.pad_token_id;
    if (pad !== null && !(Number.isSafeInteger(pad) && (pad as number) >= 0)) {
      r.fail("pad_token_id", pad, "expected a non-negative integer or null");
    }
    if (pad !== null && (pad as number) >= this.vocab_size) {
      r.fail("pad_token_id", pad, `expected an id below vocab_size = ${this.vocab_size}`);
    }
    this.pad_token_id = pad as number | null;
    this.position_embedding_type = r.oneOf(
      "position_embedding_type",
      ["absolute"] as const,
      "absolute",
      "unsupported position embedding",
    );
    this.classifier_dropout = json.classifier_dropout == null
      ? null
      : r.probability("classifier_dropout", 0);
    this.problem_type = json.problem_type == null
      ? null
      : r.oneOf("problem_type", PROBLEM_TYPES, "single_label_classification", "unknown");
    ({ id2label: this.id2label, label2id: this.label2id } = parseLabels(json, source));
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) {
      if (!(FIELD_NAMES as readonly string[]).includes(k) && k !== "num_labels") extra[k] = v;
    }
    this.extra = structuredClone(extra);
  }

  /** The `model_type` a config of this class has when config.json names none. */
  static readonly model_type: BertModelType = "bert";

  /**
   * Parameter counts of a BERT-family model with this config (base model, pooler and a
   * classification head; an MLM head adds about vocab_size), for the size check before
   * allocation.
   */
  estimateParameters(): ParameterEstimate {
    const d = this.hidden_size, i = this.intermediate_size, v = this.vocab_size;
    const embeddings = (v + this.max_position_embeddings + this.type_vocab_size + 2) * d;
    const layer = 4 * d * d + 2 * d * i + 9 * d + i;
    const layers = this.num_hidden_layers * layer;
    const heads = d * d + d + v + 2 * d * d + (this.num_labels + 3) * d;
    const largest = [
      { elements: v * d, fields: ["vocab_size", "hidden_size"] },
      {
        elements: this.max_position_embeddings * d,
        fields: ["max_position_embeddings", "hidden_size"],
      },
      { elements: i * d, fields: ["intermediate_size", "hidden_size"] },
      { elements: d * d, fields: ["hidden_size", "hidden_size"] },
    ].reduce((a, b) => (b.elements > a.elements ? b : a));
    return {
      total: embeddings + layers + heads,
      largest,
      dominant: layers >= embeddings ? "num_hidden_layers" : largest.fields.join(" × "),
      tensors: 5 + 16 * this.num_hidden_layers + 8,
      repeat: { field: "num_hidden_layers", value: this.num_hidden_layers },
    };
  }

  /** Number of classes: the size of id2label. */
  get num_labels(): number {
    return Object.keys(this.id2label).length;
  }

  /**
   * Sets the number of classes; like HF, labels are reset to `LABEL_i` when the count changes.
   *
   * @throws Error naming num_labels when `n` is not a positive integer.
   */
  set num_labels(n: number) {
    if (!(Number.isSafeInteger(n) && n > 0)) {
      throw new Error(`BertConfig: num_labels = ${n} is invalid: expected a positive integer`);
    }
    if (n === this.num_labels) return;
    this.id2label = defaultLabels(n);
    this.label2id = invert(this.id2label);
  }

  /** Per-head width: hidden_size / num_attention_heads (HF `attention_head_size`). */
  get attention_head_size(): number {
    return this.hidden_size / this.num_attention_heads;
  }

  /**
   * The HF-compatible `config.json` object: every typed field (keys sorted, as HF writes them,
   * `num_labels` implied by id2label), plus the pass-through fields of {@link extra};
   * `architectures` only when known.
   */
  toJSON(): Record<string, unknown> {
    return configJson(this, FIELD_NAMES, this.extra);
  }

  /**
   * Writes `config.json` (2-space indented) into `dir`, creating it; atomic (temp file + rename).
   *
   * @throws Error naming the file when writing fails.
   */
  async save_pretrained(dir: string): Promise<void> {
    await writeConfigJson(dir, this.toJSON());
  }

  /**
   * Loads `config.json` from a local directory or a hub repo (see `resolveModelFile`) and applies
   * field overrides from `options` (e.g. `num_labels: 3`, `problem_type`); other option keys
   * are ignored.
   *
   * @param idOrDir local model directory or hub repo id
   * @param options revision, cache_dir, local_files_only, progress_callback, endpoint, token,
   * and config field overrides
   * @throws Error naming the config file for unreadable or non-object JSON, and the field for an
   * unsupported value (see the constructor), plus any `resolveModelFile` error.
   */
  static async from_pretrained<T extends BertConfig>(
    this: new (json: BertConfigInput, source: string) => T,
    idOrDir: string,
    options: BertConfigFromPretrainedOptions = {},
  ): Promise<T> {
    const { path, json } = await readConfigJson(idOrDir, options);
    if (!isPlainObject(json)) throw new Error(`${path}: config.json must be a JSON object`);
    const opts = options as Record<string, unknown>;
    const overrides: Record<string, unknown> = {};
    for (const f of FIELD_NAMES) {
      if (f !== "model_type" && opts[f] !== undefined) overrides[f] = opts[f];
    }
    const merged: BertConfigInput = { ...json, ...overrides };
    const n = options.num_labels;
    if (n !== undefined && overrides.id2label === undefined) {
      // HF semantics: a new num_labels replaces the file's labels when the count differs.
      const config = new this(merged, path);
      if (n !== config.num_labels) {
        delete merged.id2label;
        if (overrides.label2id === undefined) delete merged.label2id;
        merged.num_labels = n;
      }
    } else if (n !== undefined) {
      merged.num_labels = n;
    }
    return new this(merged, path);
  }
}
