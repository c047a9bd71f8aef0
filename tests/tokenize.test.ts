import assert from "node:assert/strict";
import {
  encodeBatch,
  type LoadedTokenizer,
  loadTokenizer,
  longestFirst,
  tokenizerFromVocab,
} from "../src/data/tokenize.ts";
import { bertTokenizerJson } from "../src/data/wordpiece.ts";
import { sharedPresent } from "./helpers/shared_data.ts";

const BERT = new URL("../../shared/data/bert-base-uncased/", import.meta.url);
const bertPresent = sharedPresent(
  BERT,
  ["tokenizer.json", "vocab.txt"],
  "bert-base-uncased tokenizer tests",
);

let shared: Promise<LoadedTokenizer> | undefined;
const bert = () => shared ??= loadTokenizer(BERT);

/** A tiny made-up WordPiece vocabulary, so the batching tests run without shared data. */
const TINY = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "the",
  "cat",
  "sat",
  "on",
  "mat",
  "dog",
  "##s",
  ".",
];

Deno.test("a tokenizer built from a vocab list encodes and batches (no shared data)", async () => {
  const tok = await tokenizerFromVocab(TINY);
  assert.equal(tok.padTokenId, 0);
  assert.equal(tok.unkTokenId, 1);
  assert.equal(tok.vocabSize, TINY.length);
  const b = encodeBatch(tok, ["The cats sat.", "dog"], undefined, { maxLength: 16 });
  assert.equal(b.batch, 2);
  assert.equal(b.seqLen, 7);
  assert.deepEqual([...b.input_ids], [2, 5, 6, 11, 7, 12, 3, 2, 10, 3, 0, 0, 0, 0]);
  assert.deepEqual([...b.attention_mask], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual([...b.token_type_ids], new Array(14).fill(0));
  const p = encodeBatch(tok, ["the cat"], ["on a mat"], { maxLength: 8, padding: "max_length" });
  assert.deepEqual([...p.input_ids], [2, 5, 6, 3, 8, 1, 9, 3]);
  assert.deepEqual([...p.token_type_ids], [0, 0, 0, 0, 1, 1, 1, 1]);
  const t = encodeBatch(tok, ["the cat sat on the mat"], undefined, { maxLength: 5 });
  assert.deepEqual([...t.input_ids], [2, 5, 6, 7, 3]);
  assert.throws(() => encodeBatch(tok, ["a"], undefined, { maxLength: 2 }), /option maxLength/);
  assert.throws(() => encodeBatch(tok, ["a", "b"], ["c"], { maxLength: 8 }), /textPairs has 1/);
  assert.throws(() => bertTokenizerJson(["a"]), /option unkToken: "\[UNK\]" is not in/);
});

Deno.test("longestFirst matches Hugging Face truncation", () => {
  assert.deepEqual(longestFirst(3, 4, 10), [3, 4]);
  assert.deepEqual(longestFirst(94, 11, 29), [18, 11]);
  assert.deepEqual(longestFirst(11, 94, 29), [11, 18]);
  assert.deepEqual(longestFirst(50, 40, 29), [15, 14]);
  assert.deepEqual(longestFirst(40, 50, 29), [14, 15]);
  assert.deepEqual(longestFirst(20, 20, 30), [15, 15]);
});

Deno.test({
  name: "bert-base-uncased: 'Hello world' gives [101, 7592, 2088, 102]",
  ignore: !bertPresent,
  fn: async () => {
    const tok = await bert();
    assert.equal(tok.vocabSize, 30522);
    assert.equal(tok.padTokenId, 0);
    assert.equal(tok.modelMaxLength, 512);
    const b = encodeBatch(tok, ["Hello world"], undefined, { maxLength: 128 });
    assert.deepEqual([...b.input_ids], [101, 7592, 2088, 102]);
    const p = encodeBatch(tok, ["Hello world", "Héllo, WORLD!"], ["unaffable", "x"], {
      maxLength: 12,
      padding: "max_length",
    });
    assert.equal(p.seqLen, 12);
    assert.deepEqual(
      [...p.input_ids.slice(0, 12)],
      [101, 7592, 2088, 102, 14477, 20961, 3468, 102, 0, 0, 0, 0],
    );
    assert.deepEqual([...p.token_type_ids.slice(0, 12)], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    assert.deepEqual([...p.input_ids.slice(12, 20)], [101, 7592, 1010, 2088, 999, 102, 1060, 102]);
  },
});

Deno.test({
  name: "bert-base-uncased: batching equals the reference encoder; long texts truncate the same",
  ignore: !bertPresent,
  fn: async () => {
    const tok = await bert();
    const words = "The quick brown fox, unaffably jumping over 12 lazy dogs! ".split(" ");
    const long = Array.from({ length: 4000 }, (_, i) => words[(i * 7) % words.length]).join(" ");
    const texts = ["a short one", long, "Straße café naïve 東京 emoji 🙂 tabs\tand\nnewlines"];
    for (const text of texts) {
      const ref = tok.tokenizer.encode(text).ids;
      const b = encodeBatch(tok, [text], undefined, { maxLength: 64 });
      const want = ref.length <= 64 ? ref : [...ref.slice(0, 63), 102];
      assert.deepEqual([...b.input_ids], want);
    }
    const pair = encodeBatch(tok, [long], ["a short one"], { maxLength: 32 });
    const a = tok.tokenizer.tokenize(long).slice(0, 32 - 3 - 3);
    const want = [101, ...a.map((t) => tok.tokenizer.token_to_id(t)!), 102, 1037, 2460, 2028, 102];
    assert.deepEqual([...pair.input_ids], want);
  },
});

Deno.test({
  name: "bert-base-uncased: vocab.txt alone gives the same ids as tokenizer.json",
  ignore: !bertPresent,
  fn: async () => {
    const tok = await bert();
    const vocab = (await Deno.readTextFile(new URL("vocab.txt", BERT))).split("\n");
    vocab.pop();
    const fromVocab = await tokenizerFromVocab(vocab);
    const texts = [
      "Hello world",
      "it 's a charming and often affecting journey .",
      "Héllo, WORLD! unaffable [MASK] don't re-evaluate $3.50",
    ];
    const a = encodeBatch(tok, texts, undefined, { maxLength: 64 });
    const b = encodeBatch(fromVocab, texts, undefined, { maxLength: 64 });
    assert.deepEqual(b, a);
  },
});
