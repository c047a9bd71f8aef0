import assert from "node:assert/strict";
import { defaultTokenizer, loadDefaultVocab } from "../src/data/default_vocab.ts";
import { encodeBatch } from "../src/data/tokenize.ts";

const shared = new URL("../../shared/data/bert-base-uncased/vocab.txt", import.meta.url);
const hasShared = await Deno.stat(shared).then(() => true, () => false);

Deno.test("the packaged default vocabulary is bert-base-uncased's WordPiece vocab", async () => {
  const vocab = await loadDefaultVocab();
  assert.equal(vocab.length, 30522);
  assert.equal(vocab[0], "[PAD]");
  assert.equal(vocab[101], "[CLS]");
  assert.equal(vocab[7592], "hello");
  const tok = await defaultTokenizer();
  const enc = encodeBatch(tok, ["Hello world"], undefined, { maxLength: 16 });
  assert.deepEqual([...enc.input_ids.slice(0, 4)], [101, 7592, 2088, 102]);
});

Deno.test({
  name: "the packaged vocabulary equals ../shared's vocab.txt line by line",
  ignore: !hasShared,
  fn: async () => {
    const expected = (await Deno.readTextFile(shared)).split("\n").filter((l, i, a) =>
      i < a.length - 1 || l !== ""
    );
    assert.deepEqual(await loadDefaultVocab(), expected);
  },
});
if (!hasShared) console.log("skipping the vocab.txt comparison: ../shared/data is absent");

import { AutoTokenizer, PreTrainedTokenizer } from "../src/data/auto_tokenizer.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

Deno.test({
  name: "AutoTokenizer loads bert-base-uncased's tokenizer.json and saves a loadable copy",
  ignore: !hasShared,
  fn: async () => {
    const tok = await AutoTokenizer.from_pretrained(
      new URL("../../shared/data/bert-base-uncased/", import.meta.url).pathname,
    );
    assert.deepEqual(tok.encode("Hello world"), [101, 7592, 2088, 102]);
    await withTempDir(async (dir) => {
      await tok.save_pretrained(dir);
      const again = await AutoTokenizer.from_pretrained(dir);
      assert.deepEqual(again.encode("Hello world"), [101, 7592, 2088, 102]);
    });
  },
});

Deno.test("the default tokenizer saves vocab.txt that AutoTokenizer reloads", async () => {
  const tok = await PreTrainedTokenizer.default();
  await withTempDir(async (dir) => {
    await tok.save_pretrained(dir);
    const again = await AutoTokenizer.from_pretrained(dir);
    assert.deepEqual(
      again.encode("Spam filters hate this!"),
      tok.encode("Spam filters hate this!"),
    );
    const b = again.batch(["a b c", "d"], null, { max_length: 8 });
    assert.equal(b.batch, 2);
  });
});

Deno.test("AutoTokenizer: a folder without a tokenizer and an id that is neither a folder nor cached are told apart", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      AutoTokenizer.from_pretrained(dir),
      new RegExp(`${dir}: no tokenizer.json or vocab.txt`),
    );
    await assert.rejects(
      AutoTokenizer.from_pretrained("nobody/no-such-model", {
        cache_dir: dir,
        local_files_only: true,
      }),
      (e: Error) => {
        assert.match(e.message, /^nobody\/no-such-model: not a local folder, and no tokenizer/);
        assert.match(e.message, /is not in the cache .* local_files_only is set/);
        return true;
      },
    );
  });
});
