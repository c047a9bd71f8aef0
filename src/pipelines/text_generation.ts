/**
 * The text-generation pipeline (transformers.js / HF `TextGenerationPipeline`): a causal LM and its
 * tokenizer; prompts are tokenised, left-padded into one batch, continued with the model's
 * KV-cached `generate`, and decoded.
 *
 * @module
 */

import { AutoTokenizer, type PreTrainedTokenizer } from "../data/auto_tokenizer.ts";
import type { FromPretrainedOptions } from "../models/pretrained.ts";
import { AutoModelForCausalLM } from "../models/auto/auto.ts";
import type { ChatMessage } from "../data/chat_template.ts";
import type { GenerateOptions } from "../models/llama/generate.ts";
import { LlamaForCausalLM } from "../models/llama/modeling_llama.ts";

/** Options of a text-generation call (HF generation names plus the pipeline's own). */
export interface TextGenerationOptions extends Omit<GenerateOptions, "attention_mask"> {
  /** Prepend the prompt to the generated text (HF default true for text prompts). */
  return_full_text?: boolean;
  /** Skip special tokens when decoding. Default true. */
  skip_special_tokens?: boolean;
}

/** One result: the text, or for a chat input the conversation with the assistant's reply added. */
export interface TextGenerationOutput {
  /** Prompt + continuation (or the continuation alone), or the chat with the new message. */
  generated_text: string | ChatMessage[];
}

function isChat(x: unknown): x is ChatMessage[] {
  return Array.isArray(x) && x.length > 0 && typeof x[0] === "object" && x[0] !== null &&
    "role" in x[0];
}

/**
 * `pipeline("text-generation", ...)`: `await generator("Once upon a time", { max_new_tokens: 20 })`
 * → `[{ generated_text }]`. A list of prompts gives one list per prompt (batched with left
 * padding); a chat (`[{ role, content }, ...]`) is rendered with the tokenizer's chat template and
 * answered with the conversation plus `{ role: "assistant", content }`.
 */
export class TextGenerationPipeline {
  /** The task name. */
  readonly task = "text-generation";

  /** A pipeline over `model` and `tokenizer`. */
  constructor(
    /** The causal LM. */
    readonly model: LlamaForCausalLM,
    /** Its tokenizer. */
    readonly tokenizer: PreTrainedTokenizer,
  ) {}

  /** Frees the model's GPU buffers. */
  dispose(): void {
    this.model.dispose();
  }

  /**
   * Loads the model (AutoModelForCausalLM) and the tokenizer (AutoTokenizer) of one folder or
   * hub repo.
   * @throws {Error} when the folder is not a causal LM or has no tokenizer.
   */
  static async from_pretrained(
    idOrDir: string,
    options: FromPretrainedOptions,
  ): Promise<TextGenerationPipeline> {
    const model = await AutoModelForCausalLM.from_pretrained(idOrDir, options);
    if (!(model instanceof LlamaForCausalLM)) {
      model.dispose();
      throw new Error(
        `${idOrDir}: text-generation needs a causal LM, got ${model.constructor.name}`,
      );
    }
    const tokenizer = await AutoTokenizer.from_pretrained(idOrDir, options);
    return new TextGenerationPipeline(model, tokenizer);
  }

  /**
   * Continues each prompt. Defaults: greedy, `max_new_tokens` 20, eos from the model's config (or
   * the tokenizer's), the prompt kept in `generated_text` (not for chats).
   * @throws {Error} for an empty prompt list or bad generation options.
   */
  async call(
    inputs: string | string[] | ChatMessage[] | ChatMessage[][],
    options: TextGenerationOptions = {},
  ): Promise<TextGenerationOutput[] | TextGenerationOutput[][]> {
    const single = typeof inputs === "string" || isChat(inputs);
    const list = (single ? [inputs] : inputs) as (string | ChatMessage[])[];
    if (!list.length) throw new Error("text-generation: no prompts given");
    const tok = this.tokenizer;
    const prompts = list.map((p) =>
      typeof p === "string"
        ? tok.encode(p)
        : tok.apply_chat_template(p, { add_generation_prompt: true }) as number[]
    );
    const pad = tok.pad_token_id ?? 0;
    const width = Math.max(...prompts.map((p) => p.length));
    const ids = prompts.map((p) => [...Array(width - p.length).fill(pad), ...p]);
    const mask = prompts.map((p) => [...Array(width - p.length).fill(0), ...p.map(() => 1)]);
    const { return_full_text, skip_special_tokens, ...gen } = options;
    const configEos = this.model.config.eos_token_ids;
    const eos = gen.eos_token_id !== undefined
      ? gen.eos_token_id
      : configEos.length
      ? configEos
      : tok.eos_token_id;
    const out = await this.model.generate(ids, {
      max_new_tokens: 20,
      ...gen,
      eos_token_id: eos,
      pad_token_id: gen.pad_token_id ?? pad,
      attention_mask: mask,
    });
    const skip = skip_special_tokens ?? true;
    const results = list.map((p, i) => {
      const fresh = tok.decode(out[i].slice(width), { skip_special_tokens: skip });
      if (typeof p !== "string") {
        return [{ generated_text: [...p, { role: "assistant", content: fresh }] }];
      }
      return [{ generated_text: (return_full_text ?? true) ? p + fresh : fresh }];
    });
    return single ? results[0] : results;
  }
}
