import assert from "node:assert/strict";
import { join } from "node:path";
import { trainByteLevelBPE } from "../src/data/bpe_train.ts";
import { TextGenerationPipeline } from "../src/pipelines/text_generation.ts";
import { pipeline } from "../src/pipelines/pipeline.ts";
import { pickToken } from "../src/models/llama/generate.ts";
import { mulberry32 } from "../src/util/rng.ts";
import { testDevice } from "./helpers/gpu.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { saveTinyLlama } from "./helpers/tiny_llama.ts";

Deno.test("text-generation pipeline: left-padded batches continue as single prompts; chats use the template", async () => {
  const device = await testDevice();
  await withTempDir(async (dir) => {
    const json = trainByteLevelBPE(
      ["the cat sat on the mat and the dog ran to the park", "<|im_start|>user hi<|im_end|>"],
      { vocab_size: 280, special_tokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] },
    );
    await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(json));
    await Deno.writeTextFile(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({
        eos_token: "<|endoftext|>",
        pad_token: "<|endoftext|>",
        chat_template:
          "{% for m in messages %}{{ '<|im_start|>' + m['role'] + ' ' + m['content'] + " +
          "'<|im_end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant ' }}" +
          "{% endif %}",
      }),
    );
    await saveTinyLlama(dir, {
      vocab_size: 280,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    }, 5);
    const generator = await TextGenerationPipeline.from_pretrained(dir, { device });
    const opts = { max_new_tokens: 6, eos_token_id: null };
    const one = await generator.call("the cat sat on", opts) as { generated_text: string }[];
    assert.equal(one.length, 1);
    assert.ok((one[0].generated_text as string).startsWith("the cat sat on"));
    const other = await generator.call("dog", opts) as { generated_text: string }[];
    const both = await generator.call(["the cat sat on", "dog"], opts) as {
      generated_text: string;
    }[][];
    assert.deepEqual(both, [one, other]);
    const chat = await generator.call([{ role: "user", content: "hi" }], opts) as {
      generated_text: { role: string; content: string }[];
    }[];
    assert.equal(chat[0].generated_text.length, 2);
    assert.equal(chat[0].generated_text[1].role, "assistant");
    // Sampling is seeded: the same seed gives the same text.
    const s1 = await generator.call("the", {
      ...opts,
      do_sample: true,
      top_k: 20,
      top_p: 0.9,
      seed: 3,
    });
    const s2 = await generator.call("the", {
      ...opts,
      do_sample: true,
      top_k: 20,
      top_p: 0.9,
      seed: 3,
    });
    assert.deepEqual(s1, s2);
    generator.model.dispose();
    // The same through pipeline() (transformers.js style: a callable).
    const gen = await pipeline("text-generation", dir, { device });
    assert.deepEqual(await gen("the cat sat on", opts), one);
    assert.equal(gen.task, "text-generation");
    gen.model.dispose();
  });
});

Deno.test("pickToken: greedy argmax, then temperature → top-k → top-p as HF's warpers", () => {
  const logits = Float32Array.from([1, 3, 2, 0]);
  const draw = (o: { temperature?: number; top_k?: number; top_p?: number }, n = 400) => {
    const r = mulberry32(9);
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      seen.add(pickToken(logits, { do_sample: true, temperature: 1, top_k: 0, top_p: 1, ...o }, r));
    }
    return [...seen].sort();
  };
  assert.equal(
    pickToken(logits, { do_sample: false, temperature: 1, top_k: 0, top_p: 1 }, () => 0),
    1,
  );
  assert.deepEqual(draw({}), [0, 1, 2, 3]);
  assert.deepEqual(draw({ top_k: 2 }), [1, 2]);
  // softmax(3, 2, 1, 0): 0.644, 0.237, 0.087, 0.032 → top_p 0.6 keeps the first token only,
  // 0.85 the first two.
  assert.deepEqual(draw({ top_p: 0.6 }), [1]);
  assert.deepEqual(draw({ top_p: 0.85 }), [1, 2]);
  // A low temperature sharpens: with T = 0.05 the argmax carries all the mass.
  assert.deepEqual(draw({ temperature: 0.05 }), [1]);
});
