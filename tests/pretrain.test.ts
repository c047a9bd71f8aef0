import assert from "node:assert/strict";
import { join } from "node:path";
import { detokenizeBrown } from "../src/data/brown.ts";
import { bytesToUnicode, trainByteLevelBPE } from "../src/data/bpe_train.ts";
import { tokenizerFromJson } from "../src/data/tokenize.ts";
import { prepareLMCorpus } from "../src/data/corpus_lm.ts";
import { getCosineScheduleWithWarmup } from "../src/optim/schedule.ts";
import { runPretrain } from "../src/train/pretrain.ts";
import { AutoModelForCausalLM } from "../src/models/auto/auto.ts";
import { AutoTokenizer } from "../src/data/auto_tokenizer.ts";
import { testDevice } from "./helpers/gpu.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

Deno.test("detokenizeBrown strips tags and undoes the tokenisation", () => {
  assert.equal(
    detokenizeBrown(
      "The/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc 1/2/cd-tl it's/pps+bez done/vbn ./.",
    ),
    'The jury said "no evidence", and 1/2 it\'s done.',
  );
});

Deno.test("byte-level BPE: trained merges encode and decode any text losslessly", async () => {
  const alphabet = bytesToUnicode();
  assert.equal(new Set(alphabet).size, 256);
  assert.equal(alphabet[32], "Ġ");
  const texts = Array.from(
    { length: 50 },
    (_, i) => `the cat sat on the mat ${i} times, then the dog`,
  );
  const json = trainByteLevelBPE(texts, { vocab_size: 270, special_tokens: ["<|endoftext|>"] });
  const model = json.model as { vocab: Record<string, number>; merges: string[] };
  assert.equal(Object.keys(model.vocab).length, 270);
  assert.equal(model.merges.length, 270 - 257);
  // The most frequent pair of this corpus is "Ġ" + "t" (" the", " then", " times").
  assert.equal(model.merges[0], "Ġ t");
  assert.deepEqual(trainByteLevelBPE(texts, { vocab_size: 269 }).model, {
    ...model,
    vocab: Object.fromEntries(
      Object.entries(model.vocab).map(([k, v]) => [k, v - 1]).filter(([
        k,
      ]) => k !== "<|endoftext|>"),
    ),
  });
  const tok = await tokenizerFromJson(json, {});
  for (const s of ["the cat sat", "Ünïcödé — 😀 tabs\tand\nnewlines  ", "<|endoftext|>x"]) {
    const ids = tok.tokenizer.encode(s, { add_special_tokens: false }).ids;
    assert.equal(tok.tokenizer.decode(ids, {}), s);
  }
  assert.deepEqual(tok.tokenizer.encode("<|endoftext|>", { add_special_tokens: false }).ids, [0]);
  assert.ok(tok.tokenizer.encode(" the cat", { add_special_tokens: false }).ids.length <= 3);
  assert.throws(() => trainByteLevelBPE([], { vocab_size: 100 }), /vocab_size must be/);
});

Deno.test("cosine schedule with warm-up and a floor", () => {
  const f = getCosineScheduleWithWarmup(10, 110, 0.1);
  assert.equal(f(0), 0);
  assert.equal(f(5), 0.5);
  assert.equal(f(10), 1);
  assert.ok(Math.abs(f(60) - 0.55) < 1e-12);
  assert.ok(Math.abs(f(110) - 0.1) < 1e-12);
  assert.ok(Math.abs(f(500) - 0.1) < 1e-12);
});

Deno.test("pretraining on the Brown corpus: tokenizer round trip, full vs VeLoRA, saved model loads", async () => {
  const device = await testDevice();
  await withTempDir(async (dir) => {
    const corpus = await prepareLMCorpus({
      dir,
      vocabSize: 400,
      seed: 3,
      trainTokens: 4 * 2 * 32,
      evalTokens: 4 * 32,
      tokenizerChars: 50_000,
      maxLength: 32,
    });
    assert.ok(corpus.evalFiles.length >= 20);
    assert.equal(corpus.tokenizer.vocab_size, 400);
    const text = "The jury said it was done.";
    assert.equal(corpus.tokenizer.decode(corpus.tokenizer.encode(text)), text);
    const o = {
      config: {
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
      },
      vocabSize: 400,
      maxSteps: 4,
      batchSize: 2,
      seqLen: 32,
      lr: 3e-3,
      seed: 1,
      evalRows: 4,
      veloraLayers: "all",
      numGroups: 4,
    };
    const full = await runPretrain(device, "full", corpus.train, corpus.eval, o);
    const vel = await runPretrain(device, "velora", corpus.train, corpus.eval, o);
    for (const r of [full, vel]) {
      assert.equal(r.losses.length, 4);
      assert.ok(r.metrics.eval_perplexity > 1 && Number.isFinite(r.metrics.eval_perplexity));
      assert.ok(Math.abs(r.metrics.eval_perplexity - Math.exp(r.metrics.eval_loss)) < 1e-9);
    }
    // Same seed, same rows: the first loss is identical; VeLoRA saves fewer activation bytes.
    assert.equal(vel.losses[0].loss, full.losses[0].loss);
    assert.ok(vel.metrics.activation_bytes < full.metrics.activation_bytes);
    assert.ok(vel.metrics.velora_inputs_freed!.every((e) => e.freed === true));
    await vel.model.save_pretrained(dir);
    const back = await AutoModelForCausalLM.from_pretrained(dir, { device });
    assert.equal(back.constructor.name, "LlamaForCausalLM");
    back.dispose();
    full.model.dispose();
    vel.model.dispose();
    assert.ok((await Deno.stat(join(dir, "tokenizer.json"))).isFile);
  });
});

Deno.test("apply_chat_template renders tokenizer_config.json's template with @huggingface/jinja", async () => {
  await withTempDir(async (dir) => {
    const json = trainByteLevelBPE(["<|im_start|>user hello<|im_end|>"], {
      vocab_size: 260,
      special_tokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    });
    await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(json));
    const template =
      "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + " +
      "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}" +
      "{% endif %}";
    await Deno.writeTextFile(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({ chat_template: template, eos_token: "<|im_end|>", bos_token: null }),
    );
    const tok = await AutoTokenizer.from_pretrained(dir);
    const messages = [{ role: "user", content: "Hi there" }];
    assert.equal(
      tok.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }),
      "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    );
    const ids = tok.apply_chat_template(messages) as number[];
    assert.equal(ids[0], 1);
    assert.equal(ids.filter((i) => i === 2).length, 1);
    assert.equal(tok.eos_token_id, 2);
    assert.equal(tok.decode(ids), "<|im_start|>user\nHi there<|im_end|>\n");
  });
});
