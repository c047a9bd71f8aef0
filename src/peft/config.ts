import type { VeLoRAInitType } from "../velora/velora_linear.ts";

/** Which linear layers get an adapter (PEFT `target_modules`). */
export type TargetModules = string | RegExp | readonly (string | RegExp)[];

/** VeLoRA on each `lora_A` input (the `velora_config` of a {@linkcode LoraConfig}). */
export interface LoraVeLoRAConfig {
  /** Sub-tokens per token G (default min(32, in_features)). */
  num_groups?: number;
  /** Sub-token size M, instead of `num_groups`. */
  sub_token_size?: number;
  /** How v is chosen (default "batch_average_once"). */
  init_type?: VeLoRAInitType;
  /** Multiplies lora_A's weight gradient (default 1). */
  scale?: number;
  /** Seed of the "random" init. */
  seed?: number;
}

/** The options of a {@linkcode LoraConfig} (PEFT names and defaults). */
export interface LoraConfigInit {
  /** Rank r of the update B·A (default 8). */
  r?: number;
  /** The update is scaled by lora_alpha / r (default 8). */
  lora_alpha?: number;
  /** Dropout on the adapter's input (default 0). */
  lora_dropout?: number;
  /**
   * Layers to adapt: a list of names or name suffixes (a name matches when equal or ending in
   * "." + entry), a RegExp (or a single string other than "all-linear", as PEFT) that must match
   * the whole module name, or "all-linear" (every linear layer but the output head).
   */
  target_modules?: TargetModules | null;
  /** Which biases train: "none" (default), "all", or "lora_only" (those of adapted layers). */
  bias?: "none" | "all" | "lora_only";
  /** Modules trained in full and saved with the adapter (e.g. ["classifier"]). */
  modules_to_save?: readonly string[] | null;
  /** Scale by lora_alpha / √r (rank-stabilised LoRA, Kalajdzievski 2023) instead of / r. */
  use_rslora?: boolean;
  /**
   * true (default): A Kaiming-uniform (a = √5), B zeros, so the adapter starts as a no-op;
   * false: both random (tests only), "gaussian": A ~ N(0, 1/r), B zeros.
   */
  init_lora_weights?: boolean | "gaussian";
  /** PEFT task type, e.g. "SEQ_CLS" (adds the classifier head to modules_to_save), "CAUSAL_LM". */
  task_type?: string | null;
  /** Recorded in adapter_config.json (the base model's hub id or folder). */
  base_model_name_or_path?: string | null;
  /** Frozen adapters (set by `PeftModel.from_pretrained` without `is_trainable`). */
  inference_mode?: boolean;
  /** VeLoRA on each lora_A input (PEFT's VeLoRA variant of LoRA). */
  velora_config?: LoraVeLoRAConfig | null;
  /** Seed of the adapter initialisation (default 0). Not saved by PEFT. */
  seed?: number;
}

const KNOWN_BIAS = ["none", "all", "lora_only"];

/** Class heads PEFT keeps out of "all-linear" and adds to modules_to_save for SEQ_CLS. */
export const SEQ_CLS_HEAD_NAMES = ["score", "classifier"] as const;

/**
 * PEFT `LoraConfig`: the rank, scaling, targets and training options of LoRA adapters (Hu et
 * al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"). y = x·Wᵀ + b +
 * (dropout(x)·Aᵀ·Bᵀ)·scaling with scaling = lora_alpha / r (or lora_alpha / √r with use_rslora).
 * @throws {Error} naming the option for invalid values (r not a positive integer, dropout outside
 * [0, 1), unknown bias, non-finite alpha).
 */
export class LoraConfig {
  /** Always "LORA". */
  readonly peft_type = "LORA";
  /** Rank. */
  r: number;
  /** Scaling numerator. */
  lora_alpha: number;
  /** Input dropout probability. */
  lora_dropout: number;
  /** Targets (null: none given yet). */
  target_modules: TargetModules | null;
  /** Which biases train. */
  bias: "none" | "all" | "lora_only";
  /** Fully trained modules saved with the adapter. */
  modules_to_save: string[] | null;
  /** Rank-stabilised scaling. */
  use_rslora: boolean;
  /** Initialisation of A and B. */
  init_lora_weights: boolean | "gaussian";
  /** PEFT task type. */
  task_type: string | null;
  /** The base model's hub id or folder. */
  base_model_name_or_path: string | null;
  /** Frozen adapters. */
  inference_mode: boolean;
  /** VeLoRA on lora_A inputs, or null. */
  velora_config: LoraVeLoRAConfig | null;
  /** Initialisation seed. */
  seed: number;

  /** A config with PEFT's defaults for what `init` leaves out. */
  constructor(init: LoraConfigInit = {}) {
    this.r = init.r ?? 8;
    this.lora_alpha = init.lora_alpha ?? 8;
    this.lora_dropout = init.lora_dropout ?? 0;
    this.target_modules = init.target_modules ?? null;
    this.bias = init.bias ?? "none";
    this.modules_to_save = init.modules_to_save ? [...init.modules_to_save] : null;
    this.use_rslora = init.use_rslora ?? false;
    this.init_lora_weights = init.init_lora_weights ?? true;
    this.task_type = init.task_type ?? null;
    this.base_model_name_or_path = init.base_model_name_or_path ?? null;
    this.inference_mode = init.inference_mode ?? false;
    this.velora_config = init.velora_config ?? null;
    this.seed = init.seed ?? 0;
    if (!Number.isInteger(this.r) || this.r < 1) {
      throw new Error(`LoraConfig: r must be a positive integer, got ${this.r}`);
    }
    if (!Number.isFinite(this.lora_alpha)) {
      throw new Error(`LoraConfig: lora_alpha must be finite, got ${this.lora_alpha}`);
    }
    if (!(this.lora_dropout >= 0 && this.lora_dropout < 1)) {
      throw new Error(`LoraConfig: lora_dropout must be in [0, 1), got ${this.lora_dropout}`);
    }
    if (!KNOWN_BIAS.includes(this.bias)) {
      throw new Error(`LoraConfig: bias must be "none", "all" or "lora_only", got "${this.bias}"`);
    }
    if (![true, false, "gaussian"].includes(this.init_lora_weights)) {
      throw new Error(
        `LoraConfig: init_lora_weights must be true, false or "gaussian", got ` +
          JSON.stringify(this.init_lora_weights),
      );
    }
  }

  /** The update's scale: lora_alpha / r, or lora_alpha / √r with use_rslora (PEFT). */
  get scaling(): number {
    return this.use_rslora ? this.lora_alpha / Math.sqrt(this.r) : this.lora_alpha / this.r;
  }

  /**
   * adapter_config.json's content, as PEFT writes it (RegExp targets as their source string,
   * which PEFT reads as a full-match pattern).
   */
  to_dict(): Record<string, unknown> {
    const t = this.target_modules;
    let targets: unknown = null;
    if (t instanceof RegExp) targets = t.source;
    else if (typeof t === "string") targets = t;
    else if (Array.isArray(t)) {
      const regs = t.filter((x) => x instanceof RegExp) as RegExp[];
      if (regs.length) {
        // PEFT has one regex or a list of names; join mixed targets into one full-match regex.
        targets = t.map((x) => x instanceof RegExp ? `(?:${x.source})` : `(?:.*\\.)?${esc(x)}`)
          .join("|");
      } else targets = [...t];
    }
    const out: Record<string, unknown> = {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: this.base_model_name_or_path,
      bias: this.bias,
      fan_in_fan_out: false,
      inference_mode: this.inference_mode,
      init_lora_weights: this.init_lora_weights,
      layers_pattern: null,
      layers_to_transform: null,
      lora_alpha: this.lora_alpha,
      lora_dropout: this.lora_dropout,
      modules_to_save: this.modules_to_save,
      peft_type: "LORA",
      r: this.r,
      rank_pattern: {},
      revision: null,
      target_modules: targets,
      task_type: this.task_type,
      use_dora: false,
      use_rslora: this.use_rslora,
    };
    if (this.velora_config) out.velora_config = { ...this.velora_config };
    return out;
  }

  /**
   * A config from adapter_config.json's content. @throws {Error} naming the field for another
   * `peft_type`, or PEFT features we do not implement (use_dora, rank_pattern, alpha_pattern,
   * layers_to_transform, fan_in_fan_out).
   */
  static from_dict(d: Record<string, unknown>, where = "adapter_config.json"): LoraConfig {
    if (d.peft_type !== undefined && d.peft_type !== "LORA") {
      throw new Error(`${where}: peft_type ${JSON.stringify(d.peft_type)} is not supported (LORA)`);
    }
    const unsupported: [string, (v: unknown) => boolean][] = [
      ["use_dora", (v) => v === true],
      ["fan_in_fan_out", (v) => v === true],
      ["rank_pattern", (v) => !!v && Object.keys(v as object).length > 0],
      ["alpha_pattern", (v) => !!v && Object.keys(v as object).length > 0],
      ["layers_to_transform", (v) => v !== null && v !== undefined],
    ];
    for (const [k, bad] of unsupported) {
      if (bad(d[k])) throw new Error(`${where}: ${k} ${JSON.stringify(d[k])} is not supported`);
    }
    try {
      return new LoraConfig({
        r: d.r as number,
        lora_alpha: d.lora_alpha as number,
        lora_dropout: d.lora_dropout as number,
        target_modules: d.target_modules as TargetModules,
        bias: d.bias as LoraConfig["bias"],
        modules_to_save: d.modules_to_save as string[] | null,
        use_rslora: d.use_rslora as boolean,
        init_lora_weights: d.init_lora_weights as boolean,
        task_type: d.task_type as string | null,
        base_model_name_or_path: d.base_model_name_or_path as string | null,
        inference_mode: d.inference_mode as boolean,
        velora_config: d.velora_config as LoraVeLoRAConfig | null,
      });
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  }
}

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
