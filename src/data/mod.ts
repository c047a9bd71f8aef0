/**
 * The data layer: datasets (SpamAssassin from its npm package; TSV/CSV/JSONL files), label
 * mapping, seeded stratified splits and subsets, and tokenization into padded batches.
 *
 * Importing this module loads no parser or tokenizer package; each is imported on first use.
 *
 * @module
 */

export type { Dataset, Example } from "./types.ts";
export { deriveSeed, mulberry32, type Rng, shuffle } from "./rng.ts";
export {
  epochBatches,
  epochPermutation,
  type Split,
  type SplitOptions,
  stratifiedSplit,
  takeSubset,
} from "./split.ts";
export { buildLabelMap, type LabelMap } from "./labels.ts";
export {
  type ColumnOptions,
  type Columns,
  LABEL_COLUMNS,
  PAIR_COLUMNS,
  resolveColumns,
  TEXT_COLUMNS,
} from "./columns.ts";
export {
  formatFromPath,
  loadTextClassificationFile,
  type TextFileFormat,
  type TextFileOptions,
} from "./text_file.ts";
export { collapseWhitespace, type MailTextOptions, mailToText, truncateText } from "./mail.ts";
export { looksLikeHtml } from "./html.ts";
export {
  loadSpamAssassin,
  SPAM_ASSASSIN_GROUPS,
  SPAM_ASSASSIN_PACKAGE,
  type SpamAssassinMail,
  type SpamAssassinOptions,
} from "./spam_assassin.ts";
export {
  encodeBatch,
  type EncodedBatch,
  type EncodeOptions,
  type LoadedTokenizer,
  loadTokenizer,
  longestFirst,
  type PostProcessed,
  type Tokenizer,
  tokenizerFromJson,
  tokenizerFromVocab,
} from "./tokenize.ts";
export { bertTokenizerJson, type WordPieceOptions } from "./wordpiece.ts";
export { AutoTokenizer, PreTrainedTokenizer } from "./auto_tokenizer.ts";
export { DEFAULT_VOCAB_PACKAGE, defaultTokenizer, loadDefaultVocab } from "./default_vocab.ts";
export {
  type BPETrainOptions,
  bytesToUnicode,
  GPT2_SPLIT,
  trainByteLevelBPE,
} from "./bpe_train.ts";
export { type BrownParagraph, detokenizeBrown, loadBrownCorpus } from "./brown.ts";
