import { join } from "node:path";
import type { Module } from "../nn/module.ts";
import type { FromPretrainedOptions } from "../models/pretrained.ts";
import { AutoModelForSequenceClassification } from "../models/auto/auto.ts";
import { ADAPTER_CONFIG_NAME, PeftModel, readAdapterConfig } from "./peft_model.ts";

/** Whether `dir` is a local adapter folder (holds `adapter_config.json`). */
export async function isAdapterFolder(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(join(dir, ADAPTER_CONFIG_NAME))).isFile;
  } catch {
    return false;
  }
}

/** Something with `from_pretrained(idOrDir, options)` returning a model (an Auto class). */
export interface BaseModelLoader {
  /** Loads the base model. */
  from_pretrained(idOrDir: string, options: FromPretrainedOptions): Promise<Module>;
}

/**
 * PEFT `AutoPeftModel...from_pretrained(adapterDir)`: reads `adapter_config.json`, loads the base
 * model named by its `base_model_name_or_path` with `loader` (an Auto class), and wraps it with
 * the adapter (frozen and in eval mode unless `is_trainable`).
 * @throws {Error} naming the file when the config names no base model or loading fails.
 */
export async function peftFromPretrained(
  loader: BaseModelLoader,
  adapterDir: string,
  options: FromPretrainedOptions & { is_trainable?: boolean },
): Promise<PeftModel> {
  const config = await readAdapterConfig(adapterDir);
  const baseId = config.base_model_name_or_path;
  if (!baseId) {
    throw new Error(
      `${join(adapterDir, ADAPTER_CONFIG_NAME)}: base_model_name_or_path is not set; load the ` +
        `base model yourself and call PeftModel.from_pretrained(base, dir)`,
    );
  }
  const base = await loader.from_pretrained(baseId, options);
  return await PeftModel.from_pretrained(base, adapterDir, { is_trainable: options.is_trainable });
}

/** An adapter-folder loader (PEFT `AutoPeftModel...`). */
export interface AutoPeftModelClass {
  /** Loads the base named by the adapter config and wraps it with the adapter. */
  from_pretrained(
    adapterDir: string,
    options: FromPretrainedOptions & { is_trainable?: boolean },
  ): Promise<PeftModel>;
}

/** PEFT `AutoPeftModelForSequenceClassification`. */
export const AutoPeftModelForSequenceClassification: AutoPeftModelClass = {
  /** See {@linkcode peftFromPretrained}. */
  from_pretrained(
    adapterDir: string,
    options: FromPretrainedOptions & { is_trainable?: boolean },
  ): Promise<PeftModel> {
    return peftFromPretrained(
      AutoModelForSequenceClassification as unknown as BaseModelLoader,
      adapterDir,
      options,
    );
  },
};
