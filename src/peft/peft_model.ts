import { join } from "node:path";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "../nn/module.ts";
import type { Linear } from "../nn/linear.ts";
import { loadSafetensors, saveSafetensors } from "../io/safetensors.ts";
import { writeJsonAtomic } from "../util/write_atomic.ts";
import { readJsonIfExists } from "../util/json_file.ts";
import { VeLoRASharing } from "../velora/sharing.ts";
import { LoraConfig, SEQ_CLS_HEAD_NAMES } from "./config.ts";
import { DEFAULT_ADAPTER, LoraLinear } from "./lora_layer.ts";
import { ModulesToSaveWrapper } from "./modules_to_save.ts";
import { matchesName, resolveTargets, setModule } from "./targets.ts";
import { adapterStateNames, toFileName, toRuntimeName } from "./save_and_load.ts";

/** File names of a saved adapter (PEFT). */
export const ADAPTER_CONFIG_NAME = "adapter_config.json";
/** The adapter weights, PEFT key names. */
export const ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";

/** What a wrapped model must offer: a forward; config and save_pretrained when present. */
// deno-lint-ignore no-explicit-any
type AnyForward = (...args: any[]) => any;

/**
 * PEFT `LoraModel`: the base model (`model`) with LoRA layers injected in place; named
 * `base_model` inside a {@linkcode PeftModel}, so parameter names read
 * `base_model.model.<HF name>`.
 */
export class LoraModel extends Module {
  /** The base model, adapted in place. */
  model: Module;
  /** Config per adapter. */
  readonly peft_config: Record<string, LoraConfig> = {};
  /** Names (in `model`) of the adapted linear layers. */
  readonly targeted_module_names: string[];
  /** Names (in `model`) of the modules wrapped for modules_to_save. */
  readonly modules_to_save_names: string[];
  /** VeLoRA state shared by the adapters (null without `velora_config`). */
  readonly sharing: VeLoRASharing | null;

  /**
   * Injects adapter `adapter` of `config` into `model` (validated before anything changes).
   * @throws {Error} for targets that match nothing or a non-linear module (see
   * `resolveTargets`), and for modules_to_save names that match no module.
   */
  constructor(model: Module, config: LoraConfig, adapter = DEFAULT_ADAPTER) {
    super();
    const names = resolveTargets(model, config);
    const modules = [...model.named_modules()].filter(([n]) => n !== "");
    const saveNames = config.modules_to_save ?? [];
    const toSave = modules.filter(([n]) => saveNames.some((s) => matchesName(n, s)))
      .map(([n]) => n)
      // The outermost match only (a wrapped module's children are not wrapped again).
      .filter((n, _i, all) => !all.some((o) => o !== n && n.startsWith(`${o}.`)));
    const unmatched = saveNames.filter((s) =>
      !SEQ_CLS_HEAD_NAMES.includes(s as typeof SEQ_CLS_HEAD_NAMES[number]) &&
      !toSave.some((n) => matchesName(n, s))
    );
    if (unmatched.length) {
      throw new Error(
        `LoraConfig: modules_to_save ${JSON.stringify(unmatched)} matched no module of ` +
          `${model.constructor.name}`,
      );
    }
    const clash = names.filter((n) => toSave.some((s) => n === s || n.startsWith(`${s}.`)));
    if (clash.length) {
      throw new Error(
        `LoraConfig: ${clash.join(", ")} is both a LoRA target and in modules_to_save`,
      );
    }
    this.model = model;
    this.peft_config[adapter] = config;
    this.sharing = config.velora_config ? new VeLoRASharing() : null;
    for (const p of model.parameters()) p.requiresGrad = false;
    const byName = new Map(modules);
    for (const name of names) {
      const base = byName.get(name) as Linear;
      setModule(model, name, new LoraLinear(base, config, name, this.sharing, adapter));
    }
    for (const name of toSave) {
      setModule(model, name, new ModulesToSaveWrapper(byName.get(name)!, adapter));
    }
    this.targeted_module_names = names;
    this.modules_to_save_names = toSave;
    this.#markTrainable(config, adapter);
  }

  /** PEFT `mark_only_lora_as_trainable` plus the modules_to_save copies and bias option. */
  #markTrainable(config: LoraConfig, adapter: string): void {
    const trainAdapters = !config.inference_mode;
    for (const [name, p] of this.model.named_parameters()) {
      if (/\.lora_[AB]\./.test(name)) p.requiresGrad = trainAdapters;
      else if (
        name.includes(`.modules_to_save.${adapter}.`) || name.startsWith(`modules_to_save.`)
      ) {
        p.requiresGrad = trainAdapters;
      }
    }
    if (config.bias === "none" || !trainAdapters) return;
    for (const [name, p] of this.model.named_parameters()) {
      if (!/(^|\.)bias$/.test(name) || name.includes("original_module.")) continue;
      if (config.bias === "all" || name.endsWith(".base_layer.bias")) p.requiresGrad = true;
    }
  }

  /** The LoRA layers with their names in `model`. */
  loraLayers(): [string, LoraLinear][] {
    return [...this.model.named_modules()].filter((e): e is [string, LoraLinear] =>
      e[1] instanceof LoraLinear
    );
  }

  /** The base model's forward. */
  forward(...args: unknown[]): unknown {
    return (this.model as unknown as { forward: AnyForward }).forward(...args);
  }
}

/**
 * PEFT `PeftModel` for LoRA: `get_peft_model(model, config)` wraps a model so that only the
 * adapters (and modules_to_save, and biases as `bias` says) train; the base weights are frozen
 * (requiresGrad false: no gradient buffers, no optimizer state, no weight-gradient matmul).
 * Parameter names as PEFT's at run time (`base_model.model.<HF name>`, `...lora_A.default.weight`);
 * `save_pretrained` writes PEFT's adapter folder, `PeftModel.from_pretrained` reads one (also one
 * written by PEFT).
 */
export class PeftModel extends Module {
  /** The LoRA-injected model (`base_model.model` is the base). */
  base_model: LoraModel;
  /** The active adapter's name. */
  readonly active_adapter: string;

  /** Wraps `model` with `config` (see {@linkcode get_peft_model}). */
  constructor(model: Module, config: LoraConfig, adapter = DEFAULT_ADAPTER) {
    super();
    if (model instanceof PeftModel) {
      throw new Error("get_peft_model: the model is already a PeftModel");
    }
    const cfg = withTaskHeads(model, config);
    this.base_model = new LoraModel(model, cfg, adapter);
    this.active_adapter = adapter;
    this.training = model.training;
  }

  /** The adapter config of the active adapter. */
  get peft_config(): Record<string, LoraConfig> {
    return this.base_model.peft_config;
  }

  /** The base model's config (HF), if it has one. */
  get config(): unknown {
    return (this.base_model.model as unknown as { config?: unknown }).config;
  }

  /** The base model (with the adapters injected). */
  get_base_model(): Module {
    return this.base_model.model;
  }

  /** The base model's forward (same inputs and outputs). */
  // deno-lint-ignore no-explicit-any
  forward(...args: any[]): any {
    return this.base_model.forward(...args);
  }

  /** [trainable, all] parameter element counts (PEFT `get_nb_trainable_parameters`). */
  get_nb_trainable_parameters(): [number, number] {
    let trainable = 0;
    let all = 0;
    for (const p of this.parameters()) {
      all += p.numel;
      if (p.requiresGrad) trainable += p.numel;
    }
    return [trainable, all];
  }

  /**
   * Prints (and returns) "trainable params: N || all params: M || trainable%: P" as PEFT does
   * (counts with thousands separators, P with 4 decimals).
   */
  print_trainable_parameters(log: (line: string) => void = console.log): string {
    const [t, a] = this.get_nb_trainable_parameters();
    const fmt = (n: number) => n.toLocaleString("en-US");
    const line = `trainable params: ${fmt(t)} || all params: ${fmt(a)} || trainable%: ${
      (100 * t / a).toFixed(4)
    }`;
    log(line);
    return line;
  }

  /** Runtime name → tensor of what `save_pretrained` writes (adapter, saved modules, biases). */
  adapter_state_dict(adapter = this.active_adapter): Map<string, Tensor> {
    const state = this.state_dict();
    const layers = this.base_model.loraLayers().map(([n]) => `base_model.model.${n}`);
    const names = adapterStateNames(state, this.peft_config[adapter], adapter, layers);
    return new Map(names.map((n) => [n, state.get(n)!]));
  }

  /**
   * Writes `adapter_config.json` and `adapter_model.safetensors` (PEFT key names without the
   * adapter name, e.g. `base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight`)
   * into `dir`, both atomically. The base weights are not written.
   * @throws {Error} naming the file when writing fails.
   */
  async save_pretrained(dir: string): Promise<void> {
    const adapter = this.active_adapter;
    const tensors = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
    for (const [name, t] of this.adapter_state_dict(adapter)) {
      tensors.set(toFileName(name, adapter), { shape: [...t.shape], data: await t.toArray() });
    }
    await Deno.mkdir(dir, { recursive: true });
    await saveSafetensors(join(dir, ADAPTER_WEIGHTS_NAME), tensors, { format: "pt" });
    const config = this.peft_config[adapter];
    const dict = config.to_dict();
    // PEFT saves the config in inference mode, and names the base model.
    dict.inference_mode = true;
    dict.base_model_name_or_path ??= baseName(this.base_model.model);
    await writeJsonAtomic(join(dir, ADAPTER_CONFIG_NAME), dict);
  }

  /**
   * Loads adapter weights saved by `save_pretrained` or PEFT (PEFT key names; runtime names are
   * accepted too) from `dir` into this model; with `requireFinite`, Inf/NaN values are an error
   * (checked before anything is copied).
   * @throws {Error} naming the file and keys when keys are unknown, adapter weights are missing,
   * or shapes differ.
   */
  async load_adapter_weights(
    dir: string,
    { requireFinite = false }: { requireFinite?: boolean } = {},
  ): Promise<void> {
    const path = join(dir, ADAPTER_WEIGHTS_NAME);
    const file = await loadSafetensors(path);
    for (const [name, t] of requireFinite ? file : []) {
      const i = t.data.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) throw new Error(`${path}: tensor "${name}" holds ${t.data[i]} at index ${i}`);
    }
    const adapter = this.active_adapter;
    const saved = this.base_model.modules_to_save_names;
    const sd = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
    for (const [k, v] of file) sd.set(toRuntimeName(k, adapter, saved), v);
    const expected = new Set(this.adapter_state_dict(adapter).keys());
    let result;
    try {
      result = this.load_state_dict(sd, { strict: false });
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`);
    }
    const missing = result.missing_keys.filter((k) => expected.has(k) && /\.lora_[AB]\./.test(k));
    const problems: string[] = [];
    if (result.unexpected_keys.length) {
      problems.push(
        `keys the model does not have: ${result.unexpected_keys.slice(0, 6).join(", ")}`,
      );
    }
    if (missing.length) problems.push(`adapter weights missing: ${missing.slice(0, 6).join(", ")}`);
    if (problems.length) throw new Error(`${path}: ${problems.join("; ")}`);
  }

  /**
   * Reads back what `save_pretrained` wrote into a training checkpoint (the adapter weights), so
   * a generic resume restores this model (see `loadCheckpoint`).
   */
  async load_checkpoint_weights(dir: string): Promise<void> {
    await this.load_adapter_weights(dir, { requireFinite: true });
  }

  /**
   * PEFT `PeftModel.from_pretrained(model, dir)`: wraps `model` with the adapter in `dir`
   * (`adapter_config.json` + `adapter_model.safetensors`, ours or PEFT's). Unless `is_trainable`,
   * the adapter is frozen and the model in eval mode, as PEFT does.
   * @throws {Error} naming the file for a missing or invalid config or weights.
   */
  static async from_pretrained(
    model: Module,
    dir: string,
    options: { is_trainable?: boolean; adapter_name?: string } = {},
  ): Promise<PeftModel> {
    const config = await readAdapterConfig(dir);
    config.inference_mode = !options.is_trainable;
    const peft = new PeftModel(model, config, options.adapter_name ?? DEFAULT_ADAPTER);
    try {
      await peft.load_adapter_weights(dir);
    } catch (e) {
      peft.unload();
      throw e;
    }
    if (!options.is_trainable) peft.eval();
    return peft;
  }

  /** Adds scaling·B·A into every adapted base weight (PEFT `merge_adapter`). */
  merge_adapter(): void {
    for (const [, l] of this.base_model.loraLayers()) l.merge();
  }

  /** Undoes {@linkcode PeftModel.merge_adapter} (PEFT `unmerge_adapter`). */
  unmerge_adapter(): void {
    for (const [, l] of this.base_model.loraLayers()) l.unmerge();
  }

  /** Alias of {@linkcode PeftModel.unmerge_adapter}. */
  unmerge(): void {
    this.unmerge_adapter();
  }

  /**
   * Merges the adapters into the base weights and returns the plain base model (PEFT
   * `merge_and_unload`): each LoRA layer is replaced by its base linear (W + scaling·B·A) and each
   * modules_to_save wrapper by its trained copy. The adapter tensors are freed; this PeftModel
   * must not be used afterwards.
   */
  merge_and_unload(): Module {
    this.merge_adapter();
    return this.#unload();
  }

  /** Returns the base model without merging (PEFT `unload`): the original weights back. */
  unload(): Module {
    this.unmerge_adapter();
    return this.#unload();
  }

  #unload(): Module {
    const model = this.base_model.model;
    for (const [name, l] of this.base_model.loraLayers()) {
      setModule(model, name, l.base_layer);
      for (const k of l.adapters) {
        l.lora_A.get(k).dispose();
        l.lora_B.get(k).dispose();
      }
    }
    for (const [name, m] of [...model.named_modules()]) {
      if (!(m instanceof ModulesToSaveWrapper)) continue;
      const trained = m.modules_to_save.get(m.active_adapter);
      m.original_module.dispose();
      setModule(model, name, trained);
    }
    return model;
  }
}

/** task_type SEQ_CLS adds the classification head (`classifier` or `score`) to modules_to_save. */
function withTaskHeads(model: Module, config: LoraConfig): LoraConfig {
  if (config.task_type !== "SEQ_CLS") return config;
  const top = new Map(model.named_children());
  const heads = SEQ_CLS_HEAD_NAMES.filter((n) => top.has(n));
  const list = config.modules_to_save ?? [];
  const added = heads.filter((h) => !list.includes(h));
  if (!added.length) return config;
  const copy = Object.assign(Object.create(LoraConfig.prototype), config) as LoraConfig;
  copy.modules_to_save = [...list, ...added];
  return copy;
}

function baseName(model: Module): string | null {
  const cfg = (model as unknown as { config?: Record<string, unknown> }).config;
  const n = cfg?._name_or_path ?? cfg?.name_or_path;
  return typeof n === "string" && n ? n : null;
}

/**
 * Reads `<dir>/adapter_config.json` into a {@linkcode LoraConfig}.
 * @throws {Error} naming the file when it is missing, not JSON, or not a LoRA config.
 */
export async function readAdapterConfig(dir: string): Promise<LoraConfig> {
  const path = join(dir, ADAPTER_CONFIG_NAME);
  const d = await readJsonIfExists(path);
  if (d === undefined) {
    throw new Error(
      `${path}: not found (an adapter folder holds ${ADAPTER_CONFIG_NAME} and ${ADAPTER_WEIGHTS_NAME})`,
    );
  }
  if (typeof d !== "object" || d === null || Array.isArray(d)) {
    throw new Error(`${path}: expected a JSON object`);
  }
  return LoraConfig.from_dict(d as Record<string, unknown>, path);
}

/**
 * PEFT `get_peft_model(model, config)`: injects LoRA adapters into `model` in place and returns
 * the wrapping {@linkcode PeftModel}. With `config.task_type` "SEQ_CLS" the classifier head is
 * trained in full and saved too (as PEFT's `PeftModelForSequenceClassification`).
 * @throws {Error} for invalid targets (see {@linkcode LoraConfig}).
 */
export function get_peft_model(
  model: Module,
  config: LoraConfig,
  adapter_name = DEFAULT_ADAPTER,
): PeftModel {
  return new PeftModel(model, config, adapter_name);
}
