/**
 * Chat templates (HF `apply_chat_template`): a model's Jinja template from
 * `tokenizer_config.json` rendered with `@huggingface/jinja`, the Jinja implementation
 * transformers.js uses.
 *
 * @module
 */

import { Template } from "npm:@huggingface/jinja@0.5.11";

/** One chat message (HF / OpenAI shape). */
export interface ChatMessage {
  /** "system", "user", "assistant", ... */
  role: string;
  /** The text. */
  content: string;
}

/** Options of {@linkcode renderChatTemplate} (HF names). */
export interface ChatTemplateOptions {
  /** Append the tokens that start an assistant reply. Default false. */
  add_generation_prompt?: boolean;
  /** Extra template variables (e.g. `bos_token`, `eos_token`, tools, date strings). */
  [variable: string]: unknown;
}

/**
 * Renders `template` (Jinja) for `messages`, as HF `apply_chat_template(..., tokenize=False)`:
 * the variables are `messages`, `add_generation_prompt` and the extra ones given.
 * @throws {Error} naming the problem when the template does not parse or render.
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions = {},
): string {
  let compiled: Template;
  try {
    compiled = new Template(template);
  } catch (e) {
    throw new Error(`chat_template does not parse: ${(e as Error).message}`);
  }
  try {
    return compiled.render({
      ...options,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: options.add_generation_prompt ?? false,
    });
  } catch (e) {
    throw new Error(`chat_template failed to render: ${(e as Error).message}`);
  }
}
