/**
 * HF Auto classes: read `model_type` from config.json and build the registered class
 * (`AutoConfig`, `AutoModel`, `AutoModelForSequenceClassification`, `AutoModelForMaskedLM`).
 * A new task: a mapping in `registry.ts` and `export const AutoModelForX = new
 * AutoModelClass("AutoModelForX", MODEL_FOR_X_MAPPING)`.
 * @module
 */

import { readConfigJson } from "../config_json.ts";
import {
  loadModel,
  type PretrainedConfigLike,
  type PreTrainedModel,
  type PreTrainedModelClass,
} from "../modeling_utils.ts";
import type { FromPretrainedOptions } from "../pretrained.ts";
import {
  CONFIG_MAPPING,
  MODEL_FOR_CAUSAL_LM_MAPPING,
  MODEL_FOR_MASKED_LM_MAPPING,
  MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
  MODEL_MAPPING,
  type ModelMapping,
} from "./registry.ts";

/** Hub and override options of {@linkcode AutoConfig.from_pretrained}. */
export type AutoConfigOptions = Omit<FromPretrainedOptions, "device"> & Record<string, unknown>;

/** Reads `model_type` from config.json. @throws {Error} naming the file and the supported types. */
async function readModelType(idOrDir: string, options: AutoConfigOptions): Promise<string> {
  const { path, json } = await readConfigJson(idOrDir, options);
  const type = (json as { model_type?: unknown } | null)?.model_type;
  if (typeof type !== "string" || !(type in CONFIG_MAPPING)) {
    throw new Error(
      `${path}: model_type = ${JSON.stringify(type)} is not supported (supported: ${
        Object.keys(CONFIG_MAPPING).map((t) => `"${t}"`).join(", ")
      })`,
    );
  }
  return type;
}

/** HF `AutoConfig`: the config class registered for config.json's `model_type`. */
export class AutoConfig {
  /**
   * Reads config.json from a folder or hub repo with the class its `model_type` names.
   * @throws {Error} naming the file for a missing or unsupported `model_type`.
   */
  static async from_pretrained(
    idOrDir: string,
    options: AutoConfigOptions = {},
  ): Promise<PretrainedConfigLike> {
    const type = await readModelType(idOrDir, options);
    return await CONFIG_MAPPING[type].from_pretrained(idOrDir, options);
  }
}

/** An Auto model class over one task's mapping (HF `_BaseAutoModelClass`). */
export class AutoModelClass {
  /** The Auto class name, for messages. */
  readonly name: string;
  readonly #mapping: ModelMapping;

  /** An Auto class called `name` dispatching through `mapping`. */
  constructor(name: string, mapping: ModelMapping) {
    this.name = name;
    this.#mapping = mapping;
  }

  /** The `model_type`s this class can build. */
  get supported(): string[] {
    return Object.keys(this.#mapping);
  }

  /**
   * Reads config.json, picks the class registered for its `model_type`, and loads it as that
   * class's `from_pretrained` does.
   * @throws {Error} naming the file, the model_type and what this Auto class supports.
   */
  async from_pretrained(
    idOrDir: string,
    options: FromPretrainedOptions,
  ): Promise<PreTrainedModel> {
    const type = await readModelType(idOrDir, options as unknown as AutoConfigOptions);
    const cls = this.#mapping[type] as unknown as PreTrainedModelClass | undefined;
    if (!cls) {
      throw new Error(
        `${idOrDir}: ${this.name} does not support model_type "${type}" (supported: ${
          this.supported.map((t) => `"${t}"`).join(", ")
        })`,
      );
    }
    const config = await cls.config_class.from_pretrained(
      idOrDir,
      options as unknown as Record<string, unknown>,
    );
    return await loadModel(cls, idOrDir, config, options);
  }
}

/** HF `AutoModel`: the base model (BertModel, RobertaModel). */
export const AutoModel: AutoModelClass = new AutoModelClass("AutoModel", MODEL_MAPPING);

/** HF `AutoModelForSequenceClassification`. */
export const AutoModelForSequenceClassification: AutoModelClass = new AutoModelClass(
  "AutoModelForSequenceClassification",
  MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
);

/** HF `AutoModelForMaskedLM`. */
export const AutoModelForMaskedLM: AutoModelClass = new AutoModelClass(
  "AutoModelForMaskedLM",
  MODEL_FOR_MASKED_LM_MAPPING,
);

/** HF `AutoModelForCausalLM`: LlamaForCausalLM for "llama", "qwen2" and "mistral" checkpoints. */
export const AutoModelForCausalLM: AutoModelClass = new AutoModelClass(
  "AutoModelForCausalLM",
  MODEL_FOR_CAUSAL_LM_MAPPING,
);
