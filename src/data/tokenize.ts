/**
 * Tokenization for training: load a Hugging Face tokenizer from a local model folder and encode
 * batches of texts (or text pairs) into padded `Int32Array`s. The tokenizer implementation,
 * `@huggingface/tokenizers` (the pure-JS library that transformers.js uses), is imported on first
 * use, so importing the data layer loads no tokenizer code.
 *
 * @module
 */

import { bertTokenizerJson } from "./wordpiece.ts";
import { readJsonIfExists } from "../util/json_file.ts";

/** The part of the `@huggingface/tokenizers` `Tokenizer` API that callers may use. */
export interface Tokenizer {
  /** The tokens of a text (or pair), without special tokens unless asked. */
  tokenize(
    text: string,
    options?: { text_pair?: string | null; add_special_tokens?: boolean },
  ): string[];
  /** Token ids (with special tokens by default) of a text or pair. */
  encode(
    text: string,
    options?: {
      text_pair?: string | null;
      add_special_tokens?: boolean;
      return_token_type_ids?: boolean | null;
    },
  ): { ids: number[]; tokens: string[]; attention_mask: number[]; token_type_ids?: number[] };
  /** Text of a list of ids. */
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  /** Id of a token, or `undefined` when it is not in the vocabulary. */
  token_to_id(token: string): number | undefined;
  /** Token of an id, or `undefined`. */
  id_to_token(id: number): string | undefined;
}

/** Special tokens added around one sequence or a pair, with their segment ids. */
export interface PostProcessed {
  /** The tokens with special tokens added. */
  tokens: string[];
  /** Segment ids, one per token, when the tokenizer defines them. */
  token_type_ids?: number[];
}

/** A loaded tokenizer plus the ids that batching needs. */
export interface LoadedTokenizer {
  /** The `@huggingface/tokenizers` instance. */
  readonly tokenizer: Tokenizer;
  /** Adds the special tokens (`[CLS] A [SEP] B [SEP]` for BERT) to already truncated tokens. */
  postProcess(tokens: string[], pair: string[] | null): PostProcessed;
  /** Id of the padding token. */
  readonly padTokenId: number;
  /** Id of the unknown token (used for tokens missing from the vocabulary). */
  readonly unkTokenId: number;
  /** Size of the vocabulary including added tokens. */
  readonly vocabSize: number;
  /** `model_max_length` from `tokenizer_config.json` (512 when absent or unbounded). */
  readonly modelMaxLength: number;
}

/** A padded batch, row-major `[batch, seqLen]`. */
export interface EncodedBatch {
  /** Token ids, padded with the pad id. */
  input_ids: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  attention_mask: Int32Array;
  /** Segment ids: 0 for the first sequence, 1 for the second of a pair, 0 for padding. */
  token_type_ids: Int32Array;
  /** Number of rows. */
  batch: number;
  /** Length of every row. */
  seqLen: number;
}

/** Options of {@linkcode encodeBatch}. */
export interface EncodeOptions {
  /** Maximum tokens per row, special tokens included; longer inputs are truncated. */
  maxLength: number;
  /** Pad to the longest row of the batch (default) or always to `maxLength`. */
  padding?: "longest" | "max_length";
}

type PostProcessor = (a: string[], b: string[] | null, addSpecial: boolean) => PostProcessed;
type TokenizerImpl = Tokenizer & {
  post_processor: PostProcessor | null;
  model: { unk_token_id?: number };
  get_vocab(withAdded: boolean): Map<string, number>;
};
type TokenizerModule = { Tokenizer: new (json: object, config: object) => TokenizerImpl };

let tokenizersModule: Promise<TokenizerModule> | undefined;

function loadModule(): Promise<TokenizerModule> {
  tokenizersModule ??= import("npm:@huggingface/tokenizers@0.2.0") as Promise<TokenizerModule>;
  return tokenizersModule;
}

/** A JSON object file of the tokenizer folder, or undefined when absent. */
async function readJson(url: URL): Promise<Record<string, unknown> | undefined> {
  return await readJsonIfExists(url) as Record<string, unknown> | undefined;
}

function tokenName(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "content" in value) {
    return String((value as { content: unknown }).content);
  }
  return undefined;
}

/**
 * Wraps a `tokenizer.json` object and its `tokenizer_config.json` (old-format files without a
 * model `type` work too).
 */
export async function tokenizerFromJson(
  tokenizerJson: object,
  tokenizerConfig: Record<string, unknown> = {},
): Promise<LoadedTokenizer> {
  const { Tokenizer } = await loadModule();
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  const json = tokenizerJson as { padding?: { pad_id?: number } | null };
  const padName = tokenName(tokenizerConfig.pad_token) ?? "[PAD]";
  const unkName = tokenName(tokenizerConfig.unk_token) ?? "[UNK]";
  const padTokenId = tokenizer.token_to_id(padName) ?? json.padding?.pad_id ?? 0;
  const unkTokenId = tokenizer.token_to_id(unkName) ?? tokenizer.model.unk_token_id ?? 0;
  const max = Number(tokenizerConfig.model_max_length);
  const post = tokenizer.post_processor;
  return {
    tokenizer,
    postProcess: (a, b) => post ? post(a, b, true) : { tokens: b ? [...a, ...b] : a },
    padTokenId,
    unkTokenId,
    vocabSize: tokenizer.get_vocab(true).size,
    modelMaxLength: Number.isInteger(max) && max > 0 && max < 1e9 ? max : 512,
  };
}

/**
 * Builds a BERT WordPiece tokenizer from the lines of a `vocab.txt`.
 *
 * @param vocab Tokens in id order.
 * @param lowercase Lowercase and strip accents (uncased models). Default `true`.
 */
export function tokenizerFromVocab(
  vocab: readonly string[],
  lowercase = true,
): Promise<LoadedTokenizer> {
  return tokenizerFromJson(bertTokenizerJson(vocab, { lowercase }), {
    do_lower_case: lowercase,
    model_max_length: 512,
  });
}

/**
 * Loads the tokenizer of a local model folder: its `tokenizer.json` (with
 * `tokenizer_config.json` when present), or failing that a BERT WordPiece tokenizer built from
 * `vocab.txt`. Nothing is fetched from the network.
 *
 * @param folder The model folder, as a path or a `file:` URL.
 * @throws {Error} naming the folder when it holds neither file.
 */
export async function loadTokenizer(folder: string | URL): Promise<LoadedTokenizer> {
  let dir: URL;
  if (folder instanceof URL) dir = folder;
  else if (/^file:/.test(folder)) dir = new URL(folder);
  else dir = new URL(`file://${await Deno.realPath(folder)}`);
  if (!dir.pathname.endsWith("/")) dir = new URL(`${dir.href}/`);
  const config = (await readJson(new URL("tokenizer_config.json", dir))) ?? {};
  const json = await readJson(new URL("tokenizer.json", dir));
  if (json) return tokenizerFromJson(json, config);
  let vocabText: string;
  try {
    vocabText = await Deno.readTextFile(new URL("vocab.txt", dir));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(`${dir.pathname}: no tokenizer.json or vocab.txt in this folder`);
  }
  const vocab = vocabText.split("\n").map((l) => l.replace(/\r$/, ""));
  if (vocab.at(-1) === "") vocab.pop();
  return tokenizerFromVocab(vocab, config.do_lower_case !== false);
}

/**
 * The tokens of `text` without special tokens, at least the first `need` of them (more when
 * cheap). Long texts are tokenized by growing prefixes cut at whitespace, which gives the same
 * leading tokens as the whole text for tokenizers that split words at whitespace (BERT, BPE,
 * SentencePiece), without tokenizing a whole 10,000-character e-mail for 128 tokens.
 */
function leadingTokens(tokenizer: Tokenizer, text: string, need: number): string[] {
  for (let limit = Math.max(1024, need * 16); limit < text.length; limit *= 4) {
    let cut = limit;
    while (cut > 0 && !/\s/.test(text[cut])) cut--;
    if (cut === 0) break;
    const tokens = tokenizer.tokenize(text.slice(0, cut));
    if (tokens.length >= need) return tokens;
  }
  return tokenizer.tokenize(text);
}

/**
 * Lengths after Hugging Face's `longest_first` truncation of a pair to `budget` tokens: the
 * longer sequence loses tokens first; when both are long, the first keeps the extra odd token.
 */
export function longestFirst(lenA: number, lenB: number, budget: number): [number, number] {
  if (lenA + lenB <= budget) return [lenA, lenB];
  const swap = lenA > lenB;
  let [n1, n2] = swap ? [lenB, lenA] : [lenA, lenB];
  n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

function specialCount(tok: LoadedTokenizer, pair: boolean): number {
  return tok.postProcess([], pair ? [] : null).tokens.length;
}

/**
 * Encodes a batch of texts (or text pairs) with special tokens, truncated to `maxLength`
 * (pairs `longest_first`, as Hugging Face does) and padded to the longest row or to `maxLength`.
 *
 * @param tok A tokenizer from {@linkcode loadTokenizer}.
 * @param texts The texts (first sequences).
 * @param textPairs The second sequences, one per text, for pair tasks.
 * @throws {Error} naming the option when `maxLength` is too small for the special tokens or
 *   `textPairs` does not match `texts` in length.
 */
export function encodeBatch(
  tok: LoadedTokenizer,
  texts: readonly string[],
  textPairs: readonly string[] | undefined,
  options: EncodeOptions,
): EncodedBatch {
  const { maxLength, padding = "longest" } = options;
  const { tokenizer } = tok;
  if (textPairs !== undefined && textPairs.length !== texts.length) {
    throw new Error(
      `encodeBatch: textPairs has ${textPairs.length} entries but texts has ${texts.length}`,
    );
  }
  if (padding !== "longest" && padding !== "max_length") {
    throw new Error(`encodeBatch: option padding must be "longest" or "max_length"`);
  }
  const pair = textPairs !== undefined;
  const budget = maxLength - specialCount(tok, pair);
  if (!Number.isInteger(maxLength) || budget < (pair ? 2 : 1)) {
    throw new Error(
      `encodeBatch: option maxLength must be an integer leaving room for the text after the ` +
        `special tokens, got ${maxLength}`,
    );
  }
  const rows: { ids: number[]; types: number[] }[] = [];
  for (let i = 0; i < texts.length; i++) {
    let a = leadingTokens(tokenizer, texts[i], budget);
    let b = pair ? leadingTokens(tokenizer, textPairs[i], budget) : null;
    if (b) {
      const [na, nb] = longestFirst(a.length, b.length, budget);
      a = a.slice(0, na);
      b = b.slice(0, nb);
    } else {
      a = a.slice(0, budget);
    }
    const out = tok.postProcess(a, b);
    const ids = out.tokens.map((t) => tokenizer.token_to_id(t) ?? tok.unkTokenId);
    const types = out.token_type_ids ??
      (b ? [...a.map(() => 0), ...b.map(() => 1)] : ids.map(() => 0));
    rows.push({ ids, types });
  }
  const seqLen = padding === "max_length"
    ? maxLength
    : Math.max(1, ...rows.map((r) => r.ids.length));
  const n = rows.length;
  const input_ids = new Int32Array(n * seqLen).fill(tok.padTokenId);
  const attention_mask = new Int32Array(n * seqLen);
  const token_type_ids = new Int32Array(n * seqLen);
  rows.forEach((r, i) => {
    input_ids.set(r.ids, i * seqLen);
    attention_mask.fill(1, i * seqLen, i * seqLen + r.ids.length);
    token_type_ids.set(r.types, i * seqLen);
  });
  return { input_ids, attention_mask, token_type_ids, batch: n, seqLen };
}
