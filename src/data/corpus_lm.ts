/**
 * The pre-training corpus of `examples/pretrain_llama.ts`: the Brown corpus split by sample into
 * train and held-out text, a byte-level BPE tokenizer trained on the train split (saved as
 * `tokenizer.json`, loaded back through `AutoTokenizer`), and the token streams packed into
 * fixed-length rows (GPT-style: paragraphs joined by the end-of-text token).
 *
 * @module
 */

import { join } from "node:path";
import { mulberry32 } from "../util/rng.ts";
import { writeAtomic } from "../util/write_atomic.ts";
import { AutoTokenizer, type PreTrainedTokenizer } from "./auto_tokenizer.ts";
import { type BrownParagraph, loadBrownCorpus } from "./brown.ts";
import { trainByteLevelBPE } from "./bpe_train.ts";

/** The end-of-text token: id 0, also BOS and padding. */
export const EOS_TOKEN = "<|endoftext|>";

/** What {@linkcode prepareLMCorpus} returns. */
export interface LMCorpus {
  /** The trained tokenizer, loaded back from `<dir>/tokenizer.json`. */
  tokenizer: PreTrainedTokenizer;
  /** Training tokens (paragraphs of the train samples in a seeded order, EOS after each). */
  train: Int32Array;
  /** Held-out tokens (the held-out samples, in file order). */
  eval: Int32Array;
  /** Sample files held out, e.g. ["ca05", ...]. */
  evalFiles: string[];
  /** Paragraph counts. */
  paragraphs: { train: number; eval: number };
}

/** Options of {@linkcode prepareLMCorpus}. */
export interface LMCorpusOptions {
  /** Where tokenizer.json and tokenizer_config.json are written. */
  dir: string;
  /** BPE vocabulary size (special token included). */
  vocabSize: number;
  /** Seed of the split and the training order. */
  seed: number;
  /**
   * Train tokens needed: tokenisation stops after that many (a run that needs more than the
   * split holds reads it again from the start, i.e. trains more than one epoch).
   */
  trainTokens: number;
  /** Held-out tokens needed. */
  evalTokens: number;
  /** Every `evalEvery`-th sample (after a seeded shuffle) is held out. Default 20 (5%). */
  evalEvery?: number;
  /** Characters of train text the tokenizer is trained on. Default 3,000,000. */
  tokenizerChars?: number;
  /** Model context length written to tokenizer_config.json. */
  maxLength: number;
}

function shuffle<T>(xs: T[], seed: number): T[] {
  const r = mulberry32(seed);
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

function encodeUntil(tok: PreTrainedTokenizer, paras: BrownParagraph[], need: number): Int32Array {
  const out: number[] = [];
  for (const p of paras) {
    if (out.length >= need) break;
    for (const id of tok.encode(p.text, { add_special_tokens: false })) out.push(id);
    out.push(0);
  }
  return Int32Array.from(out);
}

/**
 * Loads the Brown corpus, holds out whole samples (no paragraph of a held-out sample is trained
 * on), trains the tokenizer on train text only and tokenises what the run needs.
 * @throws {Error} when the corpus cannot be loaded or is too small for the requested tokens.
 */
export async function prepareLMCorpus(o: LMCorpusOptions): Promise<LMCorpus> {
  const paras = await loadBrownCorpus();
  const files = shuffle([...new Set(paras.map((p) => p.file))], o.seed);
  const every = o.evalEvery ?? 20;
  const evalFiles = new Set(files.filter((_, i) => i % every === 0));
  const trainParas: BrownParagraph[] = [];
  for (const f of files) {
    if (!evalFiles.has(f)) trainParas.push(...paras.filter((p) => p.file === f));
  }
  const evalParas = paras.filter((p) => evalFiles.has(p.file));
  const budget = o.tokenizerChars ?? 3_000_000;
  const sample: string[] = [];
  let chars = 0;
  for (const p of trainParas) {
    if (chars >= budget) break;
    sample.push(p.text);
    chars += p.text.length;
  }
  const json = trainByteLevelBPE(sample, { vocab_size: o.vocabSize, special_tokens: [EOS_TOKEN] });
  await Deno.mkdir(o.dir, { recursive: true });
  await writeAtomic(join(o.dir, "tokenizer.json"), JSON.stringify(json));
  await writeAtomic(
    join(o.dir, "tokenizer_config.json"),
    JSON.stringify(
      {
        bos_token: EOS_TOKEN,
        eos_token: EOS_TOKEN,
        pad_token: EOS_TOKEN,
        unk_token: null,
        add_bos_token: false,
        model_max_length: o.maxLength,
        tokenizer_class: "PreTrainedTokenizerFast",
      },
      null,
      2,
    ) + "\n",
  );
  const tokenizer = await AutoTokenizer.from_pretrained(o.dir);
  const train = encodeUntil(tokenizer, trainParas, o.trainTokens);
  const evalTokens = encodeUntil(tokenizer, evalParas, o.evalTokens);
  return {
    tokenizer,
    train,
    eval: evalTokens,
    evalFiles: [...evalFiles].sort(),
    paragraphs: { train: trainParas.length, eval: evalParas.length },
  };
}
