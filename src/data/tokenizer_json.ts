/**
 * Pieces of a Hugging Face `tokenizer.json` shared by the code that writes one (the WordPiece
 * files of `wordpiece.ts`, the byte-level BPE of `bpe_train.ts`).
 *
 * @module
 */

/** An `added_tokens` entry of tokenizer.json for a special token (HF `AddedToken`, special). */
export function specialAddedToken(id: number, content: string): Record<string, unknown> {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  };
}
