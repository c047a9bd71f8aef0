/**
 * transformers.js `pipeline(task, model, options)`: a callable that tokenizes, runs the model and
 * post-processes. Tasks live in {@linkcode SUPPORTED_TASKS}; a new task is one entry there (a
 * loader from a model id or folder to a callable).
 * @module
 */

import type { PreTrainedModel } from "../models/modeling_utils.ts";
import {
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForSequenceClassification,
} from "../models/auto/auto.ts";
import { LlamaForCausalLM } from "../models/llama/modeling_llama.ts";
import type { ChatMessage } from "../data/chat_template.ts";
import {
  type TextGenerationOptions,
  type TextGenerationOutput,
  TextGenerationPipeline,
} from "./text_generation.ts";
import { loadPipelineTokenizer, type PipelineOptions } from "./base.ts";
import { type BaseModelLoader, isAdapterFolder, peftFromPretrained } from "../peft/auto.ts";
import {
  type TextClassificationOptions,
  type TextClassificationOutput,
  TextClassificationPipeline,
} from "./text_classification.ts";
import { type FillMaskOptions, type FillMaskOutput, FillMaskPipeline } from "./fill_mask.ts";

/** A pipeline as a function, with the pipeline object's members (`model`, `tokenizer`, ...). */
export type Callable<P, I, O, R> = ((input: I, options?: O) => Promise<R>) & P;

/** `pipeline("text-classification", ...)`. */
export type TextClassifier = Callable<
  TextClassificationPipeline,
  string | string[],
  TextClassificationOptions,
  TextClassificationOutput[] | TextClassificationOutput[][]
>;

/** `pipeline("fill-mask", ...)`. */
export type FillMasker = Callable<
  FillMaskPipeline,
  string | string[],
  FillMaskOptions,
  FillMaskOutput[] | FillMaskOutput[][]
>;

/** `pipeline("text-generation", ...)`: a prompt, prompts, or a chat (`[{ role, content }]`). */
export type TextGenerator = Callable<
  TextGenerationPipeline,
  string | string[] | ChatMessage[] | ChatMessage[][],
  TextGenerationOptions,
  TextGenerationOutput[] | TextGenerationOutput[][]
>;

/** Makes `p` callable as `p(input, options)` (transformers.js style), keeping its members. */
export function callable<P extends { call(i: I, o?: O): Promise<R> }, I, O, R>(
  p: P,
): Callable<P, I, O, R> {
  const fn = (input: I, options?: O) => p.call(input, options);
  return new Proxy(fn, {
    get: (_t, key) => {
      const v = (p as Record<PropertyKey, unknown>)[key];
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(p) : v;
    },
    has: (_t, key) => key in p,
  }) as Callable<P, I, O, R>;
}

/** Builds a task's pipeline from a model (id, folder or loaded model) and options. */
export type PipelineLoader = (
  model: string | PreTrainedModel,
  options: PipelineOptions,
) => Promise<unknown>;

async function modelAndTokenizer(
  auto: { from_pretrained(id: string, o: PipelineOptions): Promise<PreTrainedModel> },
  model: string | PreTrainedModel,
  options: PipelineOptions,
) {
  if (typeof model !== "string") {
    if (!options.tokenizer) {
      throw new Error("pipeline: a loaded model needs options.tokenizer (an id, folder or object)");
    }
    return { m: model, tok: await loadPipelineTokenizer("", options) };
  }
  const tok = await loadPipelineTokenizer(model, options);
  if (await isAdapterFolder(model)) {
    // A PEFT adapter folder: the base from its base_model_name_or_path, the adapter merged in.
    const peft = await peftFromPretrained(auto as unknown as BaseModelLoader, model, options);
    return { m: peft.merge_and_unload() as PreTrainedModel, tok };
  }
  return { m: await auto.from_pretrained(model, options), tok };
}

/** Task name → loader (HF / transformers.js `SUPPORTED_TASKS`). */
export const SUPPORTED_TASKS: Readonly<Record<string, PipelineLoader>> = Object.freeze({
  "text-classification": async (model, options) => {
    const { m, tok } = await modelAndTokenizer(AutoModelForSequenceClassification, model, options);
    return callable(new TextClassificationPipeline(m, tok, options));
  },
  "fill-mask": async (model, options) => {
    const { m, tok } = await modelAndTokenizer(AutoModelForMaskedLM, model, options);
    return callable(new FillMaskPipeline(m, tok, options));
  },
  "text-generation": async (model, options) => {
    const { m, tok } = await modelAndTokenizer(AutoModelForCausalLM, model, options);
    if (!(m instanceof LlamaForCausalLM)) {
      throw new Error(`pipeline("text-generation"): ${m.constructor.name} is not a causal LM`);
    }
    return callable(new TextGenerationPipeline(m, tok));
  },
});

/**
 * A pipeline for `task` over `model` (a hub id, a local folder, or a loaded model with
 * `options.tokenizer`), transformers.js style:
 * `const classify = await pipeline("text-classification", dir, { device }); await classify("hi")`.
 * @throws {Error} listing the supported tasks for an unknown one, and any loading error.
 */
export async function pipeline(
  task: "text-classification",
  model: string | PreTrainedModel,
  options: PipelineOptions,
): Promise<TextClassifier>;
/** A fill-mask pipeline (see the first overload). */
export async function pipeline(
  task: "fill-mask",
  model: string | PreTrainedModel,
  options: PipelineOptions,
): Promise<FillMasker>;
/** A text-generation pipeline (see the first overload). */
export async function pipeline(
  task: "text-generation",
  model: string | PreTrainedModel,
  options: PipelineOptions,
): Promise<TextGenerator>;
/** A pipeline of a task registered in {@linkcode SUPPORTED_TASKS} (see the first overload). */
export async function pipeline(
  task: string,
  model: string | PreTrainedModel,
  options: PipelineOptions,
): Promise<unknown>;
export async function pipeline(
  task: string,
  model: string | PreTrainedModel,
  options: PipelineOptions,
): Promise<unknown> {
  const load = SUPPORTED_TASKS[task];
  if (!load) {
    throw new Error(
      `pipeline: unknown task "${task}" (supported: ${
        Object.keys(SUPPORTED_TASKS).map((t) => `"${t}"`).join(", ")
      })`,
    );
  }
  return await load(model, options);
}
