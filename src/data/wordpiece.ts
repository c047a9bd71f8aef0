/**
 * Builds a Hugging Face `tokenizer.json` object for a BERT WordPiece tokenizer from a plain
 * vocabulary (the lines of a `vocab.txt`), for models that ship no `tokenizer.json`.
 *
 * @module
 */

import { specialAddedToken } from "./tokenizer_json.ts";

/** Options of {@linkcode bertTokenizerJson}. */
export interface WordPieceOptions {
  /** Lowercase (and strip accents), as `bert-base-uncased`. Default `true`. */
  lowercase?: boolean;
  /** The unknown token. Default `[UNK]`. */
  unkToken?: string;
  /** The classifier token. Default `[CLS]`. */
  clsToken?: string;
  /** The separator token. Default `[SEP]`. */
  sepToken?: string;
  /** The padding token. Default `[PAD]`. */
  padToken?: string;
  /** The mask token. Default `[MASK]`. */
  maskToken?: string;
}

/**
 * Returns the `tokenizer.json` content that the Hugging Face `BertTokenizerFast` would save for
 * this vocabulary: BertNormalizer, BertPreTokenizer, WordPiece (`##` continuation, 100 chars per
 * word), `[CLS] A [SEP] (B [SEP])` template, WordPiece decoder.
 *
 * @param vocab The tokens in id order (the lines of `vocab.txt`).
 * @throws {Error} naming the option when a special token is missing from the vocabulary.
 */
export function bertTokenizerJson(
  vocab: readonly string[],
  options: WordPieceOptions = {},
): Record<string, unknown> {
  const lowercase = options.lowercase ?? true;
  const special = {
    unkToken: options.unkToken ?? "[UNK]",
    clsToken: options.clsToken ?? "[CLS]",
    sepToken: options.sepToken ?? "[SEP]",
    padToken: options.padToken ?? "[PAD]",
    maskToken: options.maskToken ?? "[MASK]",
  };
  const ids: Record<string, number> = {};
  vocab.forEach((token, id) => {
    if (!(token in ids)) ids[token] = id;
  });
  for (const [option, token] of Object.entries(special)) {
    if (!(token in ids)) throw new Error(`option ${option}: "${token}" is not in the vocabulary`);
  }
  const { unkToken: unk, clsToken: cls, sepToken: sep } = special;
  const added = [special.padToken, unk, cls, sep, special.maskToken]
    .sort((a, b) => ids[a] - ids[b])
    .map((content) => specialAddedToken(ids[content], content));
  const tok = (id: string, type_id: number) => ({ SpecialToken: { id, type_id } });
  const seq = (id: string, type_id: number) => ({ Sequence: { id, type_id } });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [tok(cls, 0), seq("A", 0), tok(sep, 0)],
      pair: [tok(cls, 0), seq("A", 0), tok(sep, 0), seq("B", 1), tok(sep, 1)],
      special_tokens: {
        [cls]: { id: cls, ids: [ids[cls]], tokens: [cls] },
        [sep]: { id: sep, ids: [ids[sep]], tokens: [sep] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: unk,
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: ids,
    },
  };
}
