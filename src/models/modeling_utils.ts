/**
 * `PreTrainedModel`: what every Hugging Face port shares (HF `modeling_utils.PreTrainedModel`):
 * the config, `from_pretrained` (local folder or hub, single or sharded safetensors, HF cache),
 * `save_pretrained`, initialisation of the weights a checkpoint lacks (and only those: HF "fast
 * init"), HF key renames and base-model prefixes, tied weights, and a size check of the config
 * before anything is allocated.
 *
 * A model subclasses it with a constructor `(device, config, options?)` that builds its layers
 * with `{ init: options.init }` (see {@linkcode ModelOptions}) and ends with
 * `this.post_init(options)`, and overrides {@linkcode PreTrainedModel._init_weights} (HF's
 * per-module initialiser) and, for a head on a base model, `static base_model_prefix`.
 *
 * @module
 */

import type { Device } from "../runtime/device.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type InitOptions, Module } from "../nn/module.ts";
import { Dropout } from "../nn/dropout.ts";
import { ALL_ATTENTION_FUNCTIONS, type AttnImplementation } from "../nn/attention.ts";
import { type Generator, mulberry32, normal_ } from "../nn/init.ts";
import { checkParameterBudget, type ParameterEstimate } from "./size_check.ts";
import {
  type FromPretrainedOptions,
  loadPretrainedWeights,
  resolveWeights,
  type SavePretrainedOptions,
  saveWeights,
} from "./pretrained.ts";

/** What the base class needs of a model config (BertConfig, RobertaConfig, LlamaConfig, ...). */
export interface PretrainedConfigLike {
  /** HF `model_type`, e.g. `"bert"`. */
  model_type: string;
  /** Model classes the weights were saved from; set by `save_pretrained`. */
  architectures: string[] | null;
  /** The attention implementation, by name or as a function (see `nn/attention.ts`); default "eager". */
  attn_implementation?: AttnImplementation;
  /** Where the config came from (a file path), for error messages. */
  readonly source?: string;
  /**
   * HF `_name_or_path`: the hub id or folder `from_pretrained` loaded the model from (PEFT
   * records it as the adapter's `base_model_name_or_path`); unset for a model built in code.
   */
  _name_or_path?: string;
  /** Writes config.json into `dir`. */
  save_pretrained(dir: string): Promise<void>;
  /** Parameter counts the config implies, for the size check before allocation. */
  estimateParameters(): ParameterEstimate;
}

/** Options of a model constructor. */
export interface ModelOptions extends InitOptions {
  /** Seed of the weight initialisation and of the dropout masks (default 0). */
  seed?: number;
}

/** A config class: `from_pretrained` reads config.json (HF `config_class`). */
export interface ConfigClass<C extends PretrainedConfigLike = PretrainedConfigLike> {
  /** Reads config.json from a folder or hub repo, with field overrides from `options`. */
  from_pretrained(idOrDir: string, options?: Record<string, unknown>): Promise<C>;
}

/** A model class as `from_pretrained` and the Auto classes use it. */
export interface PreTrainedModelClass<
  M extends PreTrainedModel = PreTrainedModel,
  C extends PretrainedConfigLike = PretrainedConfigLike,
> {
  /** Builds the model (see {@linkcode ModelOptions}). */
  new (device: Device, config: C, options?: ModelOptions): M;
  /** The class name, for messages. */
  readonly name: string;
  /** The config class whose `from_pretrained` reads config.json. */
  readonly config_class: ConfigClass<C>;
  /** Attribute name of the base model inside a model with a head (HF `base_model_prefix`). */
  readonly base_model_prefix: string;
}

/**
 * Writes initial values into parameters, skipping those `want` rejects and those already written
 * (a tied tensor is initialised once). Seeded; the draws follow the module order.
 */
export class WeightInit {
  readonly #gen: Generator;
  readonly #want: (t: Tensor) => boolean;
  readonly #done = new Set<Tensor>();

  /** Draws from `seed`; writes only tensors `want` accepts (default: all). */
  constructor(seed: number, want: (t: Tensor) => boolean = () => true) {
    this.#gen = mulberry32(seed);
    this.#want = want;
  }

  #take(t: Tensor | null | undefined): t is Tensor {
    if (!t || this.#done.has(t) || !this.#want(t)) return false;
    this.#done.add(t);
    return true;
  }

  /** N(0, std), with row `zeroRow` (an embedding's padding_idx) set to zero (HF `normal_`). */
  normal(t: Tensor | null | undefined, std: number, zeroRow: number | null = null): void {
    if (!this.#take(t)) return;
    const data = normal_(new Float32Array(t.numel), 0, std, this.#gen);
    if (zeroRow !== null) {
      const cols = t.shape[t.ndim - 1];
      data.fill(0, zeroRow * cols, (zeroRow + 1) * cols);
    }
    t.device.write(t.buffer, data);
  }

  /** Every element `value` (HF `fill_`, `zero_`). */
  fill(t: Tensor | null | undefined, value: number): void {
    if (!this.#take(t)) return;
    t.device.write(t.buffer, new Float32Array(t.numel).fill(value));
  }
}

/** The base of every Hugging Face model port (see the module docs). */
export abstract class PreTrainedModel<
  C extends PretrainedConfigLike = PretrainedConfigLike,
> extends Module {
  /** HF `base_model_prefix` ("bert", "roberta", "model"): the base model's attribute name. */
  static readonly base_model_prefix: string = "";
  /** The config. */
  readonly config: C;

  /** HF `name_or_path`: the id or folder the model was loaded from (`config._name_or_path`). */
  get name_or_path(): string | null {
    return this.config._name_or_path ?? null;
  }

  /**
   * Stores the config after checking that its parameters fit (before any allocation).
   * @throws {Error} naming the config file and field when the model would not fit.
   */
  constructor(device: Device, config: C) {
    super();
    checkParameterBudget(config, device);
    this.config = config;
  }

  /**
   * HF `_init_weights`: initialises `module`'s own parameters through `init`. Called for every
   * module of the tree, children before parents' later siblings (pre-order).
   */
  protected abstract _init_weights(module: Module, init: WeightInit): void;

  /**
   * Ties shared weights (HF `tie_weights`), e.g. an LM head's decoder to the input embeddings, by
   * making both names hold the same tensor. Default: nothing.
   */
  tie_weights(): void {}

  /**
   * Initialises parameters (all, or only those `want` accepts) with `_init_weights` from `seed`.
   */
  init_weights(seed = 0, want?: (t: Tensor) => boolean): void {
    const init = new WeightInit(seed, want);
    for (const [, m] of this.named_modules()) this._init_weights(m, init);
  }

  /**
   * HF `post_init`: ties weights, initialises every weight unless `init` is false (then
   * `from_pretrained` fills them), and seeds the dropout masks so that two models built with
   * the same seed draw the same masks (exact resume). Call at the end of a model constructor.
   */
  protected post_init(options: ModelOptions = {}): void {
    this.tie_weights();
    if (options.init !== false) this.init_weights(options.seed ?? 0);
    seedDropouts(this, options.seed ?? 0);
  }

  /**
   * Loads config.json and the safetensors weights (single or sharded) from a local folder or the
   * hub (HF cache layout), streaming each tensor from the file to the GPU; only the weights the
   * checkpoint lacks are initialised (with a warning naming them, as HF). Returns the model in
   * eval mode, as HF does.
   * @throws {Error} naming the file, tensor or field for missing files, bad or oversized configs,
   * a config of another model type, or shape mismatches.
   */
  static async from_pretrained<M extends PreTrainedModel, C2 extends PretrainedConfigLike>(
    this: PreTrainedModelClass<M, C2>,
    idOrDir: string,
    options: FromPretrainedOptions,
  ): Promise<M> {
    const config = await this.config_class.from_pretrained(
      idOrDir,
      options as unknown as Record<string, unknown>,
    );
    return await loadModel(this, idOrDir, config, options);
  }

  /**
   * Writes config.json (with `architectures`) and the weights, loadable by HF: `model.safetensors`,
   * or — past `options.max_shard_size` (HF's, default "5GB"; bytes or "200MB", "2GiB") —
   * `model-00001-of-0000N.safetensors` shards with `model.safetensors.index.json`. Every file is
   * written atomically; weight files an earlier save left in `dir` that this one does not use
   * are removed (HF removes stale shards).
   * @throws {Error} naming the value for a bad `max_shard_size` (nothing is written), or the file
   * whose write failed.
   */
  async save_pretrained(dir: string, options: SavePretrainedOptions = {}): Promise<void> {
    await saveWeights(this, dir, options);
    this.config.architectures = [this.constructor.name];
    await this.config.save_pretrained(dir);
  }
}

/**
 * Builds `cls` for `config` without initialising, streams the weights from `idOrDir` into it, and
 * initialises what the checkpoint lacked (shared by `from_pretrained` and the Auto classes).
 */
export async function loadModel<M extends PreTrainedModel, C extends PretrainedConfigLike>(
  cls: PreTrainedModelClass<M, C>,
  idOrDir: string,
  config: C,
  options: FromPretrainedOptions,
): Promise<M> {
  const expected = (cls.config_class as { model_type?: string }).model_type;
  if (expected !== undefined && config.model_type !== expected) {
    throw new Error(
      `${config.source ?? idOrDir}: model_type "${config.model_type}" cannot be loaded as ` +
        `${cls.name} (a "${expected}" model); use the "${config.model_type}" class or an Auto ` +
        "class such as AutoModelForSequenceClassification",
    );
  }
  if (options.attn_implementation !== undefined) {
    config.attn_implementation = options.attn_implementation;
  }
  // Fail before allocating anything (the layers look the name up as they are built).
  if (config.attn_implementation !== undefined) {
    ALL_ATTENTION_FUNCTIONS.get(config.attn_implementation);
  }
  const path = await resolveWeights(idOrDir, options);
  config._name_or_path = idOrDir;
  const model = new cls(options.device, config, { seed: options.seed, init: false });
  try {
    const { loaded } = await loadPretrainedWeights(
      model,
      path,
      cls.base_model_prefix,
      options.warn,
    );
    model.init_weights(options.seed ?? 0, (t) => !loaded.has(t));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model.eval();
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
