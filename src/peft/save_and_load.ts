/**
 * Runtime ↔ file names of adapter weights, as PEFT's `utils/save_and_load.py` maps them:
 * files hold `base_model.model.<module>.lora_A.weight` (no adapter name) and
 * `base_model.model.<head>.weight` for modules_to_save; the live model names them
 * `...lora_A.default.weight` and `...<head>.modules_to_save.default.weight`.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import type { LoraConfig } from "./config.ts";
import { matchesName } from "./targets.ts";

/** The runtime names that `save_pretrained` writes, for `bias` and `modules_to_save`. */
export function adapterStateNames(
  state: Map<string, Tensor>,
  config: LoraConfig,
  adapter: string,
  loraLayerNames: readonly string[],
): string[] {
  const out: string[] = [];
  const loraBiases = new Set(loraLayerNames.map((n) => `${n}.base_layer.bias`));
  for (const k of state.keys()) {
    const isLora = /\.lora_[AB]\./.test(k) && k.includes(`.${adapter}.`);
    const isSaved = k.includes(`.modules_to_save.${adapter}.`);
    const isBias = !isLora && !isSaved && !k.includes(".original_module.") &&
      /(^|\.)bias$/.test(k) &&
      (config.bias === "all" || (config.bias === "lora_only" && loraBiases.has(k)));
    if (isLora || isSaved || isBias) out.push(k);
  }
  return out;
}

/** Runtime name → file name (PEFT `get_peft_model_state_dict`): drop the adapter name. */
export function toFileName(runtime: string, adapter: string): string {
  return runtime.replace(`.modules_to_save.${adapter}.`, ".")
    .replace(new RegExp(`\\.(lora_[AB])\\.${escape(adapter)}\\.`), ".$1.");
}

/**
 * File name → runtime name (PEFT `set_peft_model_state_dict`): names under a modules_to_save
 * module get `modules_to_save.<adapter>`, LoRA names get the adapter after `lora_A`/`lora_B`.
 */
export function toRuntimeName(
  file: string,
  adapter: string,
  savedModules: readonly string[],
): string {
  const lora = /\.(lora_[AB])\./.exec(file);
  if (lora) return file.replace(`.${lora[1]}.`, `.${lora[1]}.${adapter}.`);
  for (const m of savedModules) {
    const at = `.${m}.`;
    const i = file.indexOf(at);
    if (i >= 0 && matchesName(file.slice(0, i + at.length - 1), m)) {
      return `${file.slice(0, i + at.length)}modules_to_save.${adapter}.${
        file.slice(i + at.length)
      }`;
    }
  }
  return file;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
