/**
 * Training a byte-level BPE tokenizer (Sennrich et al. 2016; GPT-2's byte-level variant, Radford
 * et al. 2019) and writing it as a Hugging Face `tokenizer.json` that `AutoTokenizer` (npm
 * `@huggingface/tokenizers`) and HF `tokenizers` load. No npm package trains BPE models, so the
 * trainer is here; the encoder that uses the result is the library's.
 *
 * Algorithm (HF `BpeTrainer` semantics for byte-level models): texts are split with GPT-2's
 * pre-tokenisation regex, each piece is mapped to GPT-2's printable byte alphabet, and the most
 * frequent adjacent pair (ties: the pair made of the earlier tokens) is merged repeatedly until
 * the vocabulary reaches `vocab_size` or no pair occurs `min_frequency` times. Pair counts are
 * updated incrementally (only words containing the merged pair are touched), with a lazy max-heap.
 *
 * @module
 */

import { specialAddedToken } from "./tokenizer_json.ts";

/** GPT-2's pre-tokenisation pattern (HF `ByteLevel` pre-tokenizer with `use_regex`). */
export const GPT2_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's `bytes_to_unicode`: each byte → a printable character (index = byte). */
export function bytesToUnicode(): string[] {
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return out;
}

/** Options of {@linkcode trainByteLevelBPE}. */
export interface BPETrainOptions {
  /** Final vocabulary size, special tokens and the 256 byte symbols included. */
  vocab_size: number;
  /** A pair must occur this often to be merged. Default 2. */
  min_frequency?: number;
  /** Tokens with the first ids, never split (e.g. `<|endoftext|>`). Default none. */
  special_tokens?: string[];
}

/** Max-heap of [count, a, b] ordered by count, then by smaller (a, b). */
class PairHeap {
  readonly #h: [number, number, number][] = [];
  get size(): number {
    return this.#h.length;
  }
  #less(i: number, j: number): boolean {
    const x = this.#h[i], y = this.#h[j];
    if (x[0] !== y[0]) return x[0] < y[0];
    return x[1] !== y[1] ? x[1] > y[1] : x[2] > y[2];
  }
  push(e: [number, number, number]): void {
    const h = this.#h;
    h.push(e);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.#less(p, i)) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  pop(): [number, number, number] | undefined {
    const h = this.#h;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(m, l)) m = l;
        if (r < h.length && this.#less(m, r)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Trains a byte-level BPE model on `texts` and returns HF `tokenizer.json` content: ByteLevel
 * pre-tokenizer and decoder (no prefix space), a BPE model with `vocab` and `merges`, and the
 * special tokens as added tokens.
 * @throws {Error} when vocab_size is smaller than the byte alphabet plus the special tokens.
 */
export function trainByteLevelBPE(
  texts: Iterable<string>,
  options: BPETrainOptions,
): Record<string, unknown> {
  const specials = options.special_tokens ?? [];
  const minFreq = options.min_frequency ?? 2;
  const base = specials.length + 256;
  if (!Number.isInteger(options.vocab_size) || options.vocab_size < base) {
    throw new Error(
      `trainByteLevelBPE: vocab_size must be an integer ≥ ${base} (256 bytes + ${specials.length} ` +
        `special tokens), got ${options.vocab_size}`,
    );
  }
  const alphabet = bytesToUnicode();
  const tokens: string[] = [...specials, ...alphabet];
  const enc = new TextEncoder();
  // Pre-token → count.
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  }
  const words: { ids: number[]; n: number }[] = [];
  for (const [w, n] of counts) {
    words.push({ ids: Array.from(enc.encode(w), (b) => specials.length + b), n });
  }
  const KEY = 1 << 20;
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: number) => {
    const { ids, n } = words[wi];
    for (let i = 0; i + 1 < ids.length; i++) {
      const k = ids[i] * KEY + ids[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * n);
      if (sign > 0) {
        let s = where.get(k);
        if (!s) where.set(k, s = new Set());
        s.add(wi);
      }
    }
  };
  words.forEach((_, i) => addPairs(i, 1));
  const heap = new PairHeap();
  for (const [k, c] of pairCount) heap.push([c, Math.floor(k / KEY), k % KEY]);
  const merges: string[] = [];
  while (tokens.length < options.vocab_size && heap.size) {
    const [c, a, b] = heap.pop()!;
    const k = a * KEY + b;
    const now = pairCount.get(k) ?? 0;
    if (now !== c) {
      if (now > 0) heap.push([now, a, b]);
      continue;
    }
    if (c < minFreq) break;
    const id = tokens.length;
    tokens.push(tokens[a] + tokens[b]);
    merges.push(`${tokens[a]} ${tokens[b]}`);
    const touched = new Map<number, number>();
    const before = new Map(
      [...(where.get(k) ?? [])].map((wi) => [wi, words[wi].ids] as const),
    );
    for (const [wi, ids] of before) {
      addPairs(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(ids[i]);
      }
      words[wi].ids = next;
      addPairs(wi, 1);
      for (let i = 0; i + 1 < next.length; i++) {
        const p = next[i] * KEY + next[i + 1];
        touched.set(p, pairCount.get(p) ?? 0);
      }
    }
    pairCount.delete(k);
    where.delete(k);
    for (const [p, n] of touched) {
      if (n > 0 && p !== k) heap.push([n, Math.floor(p / KEY), p % KEY]);
    }
  }
  const byteLevel = {
    type: "ByteLevel",
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => specialAddedToken(id, content)),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
      merges,
    },
  };
}
