import assert from "node:assert/strict";
import { join } from "node:path";
import { BertConfig } from "../src/models/bert/config.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { sharedPresent } from "./helpers/shared_data.ts";

const BERT_BASE = new URL("../../shared/data/bert-base-uncased/", import.meta.url);
const TINY = new URL("../../shared/data/fixtures/tiny-bert-random-safetensors/", import.meta.url);

const present = (dir: URL) => sharedPresent(dir, ["config.json"], "a config.json test");

Deno.test("defaults match transformers.BertConfig", () => {
  const c = new BertConfig();
  assert.equal(c.model_type, "bert");
  assert.equal(c.architectures, null);
  assert.equal(c.vocab_size, 30522);
  assert.equal(c.hidden_size, 768);
  assert.equal(c.num_hidden_layers, 12);
  assert.equal(c.num_attention_heads, 12);
  assert.equal(c.intermediate_size, 3072);
  assert.equal(c.hidden_act, "gelu");
  assert.equal(c.hidden_dropout_prob, 0.1);
  assert.equal(c.attention_probs_dropout_prob, 0.1);
  assert.equal(c.max_position_embeddings, 512);
  assert.equal(c.type_vocab_size, 2);
  assert.equal(c.initializer_range, 0.02);
  assert.equal(c.layer_norm_eps, 1e-12);
  assert.equal(c.pad_token_id, 0);
  assert.equal(c.position_embedding_type, "absolute");
  assert.equal(c.classifier_dropout, null);
  assert.equal(c.problem_type, null);
  assert.equal(c.num_labels, 2);
  assert.deepEqual(c.id2label, { "0": "LABEL_0", "1": "LABEL_1" });
  assert.deepEqual(c.label2id, { LABEL_0: 0, LABEL_1: 1 });
  assert.equal(c.attention_head_size, 64);
});

Deno.test("labels: num_labels, id2label with string keys, label2id, setter", () => {
  const three = new BertConfig({ num_labels: 3 });
  assert.deepEqual(three.id2label, { "0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2" });
  const named = new BertConfig({ id2label: { "1": "positive", "0": "negative" } });
  assert.equal(named.num_labels, 2);
  assert.deepEqual(named.label2id, { negative: 0, positive: 1 });
  const fromLabel2id = new BertConfig({ label2id: { a: 0, b: 1, c: 2 } });
  assert.deepEqual(fromLabel2id.id2label, { "0": "a", "1": "b", "2": "c" });
  named.num_labels = 2; // same count: labels kept
  assert.equal(named.id2label["1"], "positive");
  named.num_labels = 4;
  assert.deepEqual(named.label2id, { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2, LABEL_3: 3 });
  assert.throws(() => (named.num_labels = 0), /num_labels = 0/);
  assert.equal(new BertConfig({ problem_type: "regression", num_labels: 1 }).num_labels, 1);
});

Deno.test("unsupported values name the field and value", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hidden_act: "gelu_new" }, /hidden_act = "gelu_new" is invalid.*supported: "gelu", "relu"/],
    [{ hidden_act: "silu" }, /hidden_act = "silu"/],
    [{ position_embedding_type: "relative_key" }, /position_embedding_type = "relative_key"/],
    [{ model_type: "distilbert" }, /model_type = "distilbert".*"bert", "roberta"/],
    [
      { hidden_size: 100, num_attention_heads: 12 },
      /hidden_size = 100 is not divisible by num_attention_heads = 12/,
    ],
    [{ hidden_size: 0 }, /hidden_size = 0 is invalid: expected a positive integer/],
    [{ vocab_size: -5 }, /vocab_size = -5/],
    [{ num_hidden_layers: 1.5 }, /num_hidden_layers = 1.5/],
    [{ intermediate_size: "3072" }, /intermediate_size = "3072"/],
    [{ max_position_embeddings: 0 }, /max_position_embeddings = 0/],
    [{ type_vocab_size: 0 }, /type_vocab_size = 0/],
    [{ num_attention_heads: 0 }, /num_attention_heads = 0/],
    [{ hidden_dropout_prob: 1 }, /hidden_dropout_prob = 1 .*\[0, 1\)/],
    [{ attention_probs_dropout_prob: -0.1 }, /attention_probs_dropout_prob = -0.1/],
    [{ classifier_dropout: 2 }, /classifier_dropout = 2/],
    [{ layer_norm_eps: 0 }, /layer_norm_eps = 0/],
    [{ pad_token_id: -1 }, /pad_token_id = -1/],
    [{ pad_token_id: 40000 }, /pad_token_id = 40000 .*below vocab_size = 30522/],
    [{ problem_type: "ranking" }, /problem_type = "ranking"/],
    [{ num_labels: 0 }, /num_labels = 0/],
    [{ num_labels: 3, id2label: { "0": "a", "1": "b" } }, /num_labels = 3 disagrees with id2label/],
    [{ id2label: { "0": "a", "2": "b" } }, /id2label = .* is invalid/],
    [{ id2label: { "0": 1 } }, /id2label = /],
    [{ label2id: { a: "x" } }, /label2id = /],
    [{ architectures: "BertModel" }, /architectures = "BertModel"/],
  ];
  for (const [json, pattern] of cases) {
    assert.throws(() => new BertConfig(json, "x/config.json"), (e: Error) => {
      assert.match(e.message, /^x\/config\.json: /);
      assert.match(e.message, pattern);
      return true;
    }, JSON.stringify(json));
  }
  assert.equal(new BertConfig({ hidden_act: "relu" }).hidden_act, "relu");
});

Deno.test("roberta keeps its model_type and pad_token_id default 1", () => {
  const c = new BertConfig({
    model_type: "roberta",
    max_position_embeddings: 514,
    type_vocab_size: 1,
  });
  assert.equal(c.model_type, "roberta");
  assert.equal(c.pad_token_id, 1);
  assert.equal(c.toJSON().model_type, "roberta");
  assert.equal(new BertConfig({ model_type: "roberta", pad_token_id: 0 }).pad_token_id, 0);
});

Deno.test("toJSON is HF-compatible and passes unknown fields through", () => {
  const input = {
    architectures: ["BertForSequenceClassification"],
    hidden_size: 64,
    num_attention_heads: 4,
    use_cache: true,
    transformers_version: "4.40.0",
    nested: { a: [1, 2] },
    id2label: { "0": "neg", "1": "pos" },
  };
  const c = new BertConfig(input);
  const json = c.toJSON();
  assert.equal(json.model_type, "bert");
  assert.deepEqual(json.architectures, ["BertForSequenceClassification"]);
  assert.equal(json.use_cache, true);
  assert.equal(json.transformers_version, "4.40.0");
  assert.deepEqual(json.nested, { a: [1, 2] });
  assert.deepEqual(json.id2label, { "0": "neg", "1": "pos" });
  assert.deepEqual(json.label2id, { neg: 0, pos: 1 });
  assert.equal(json.num_labels, undefined);
  assert.equal(json.hidden_size, 64);
  assert.equal(json.layer_norm_eps, 1e-12);
  assert.deepEqual(Object.keys(json), Object.keys(json).sort());
  assert.ok(!("architectures" in new BertConfig().toJSON()));
  // Round trip through JSON text, and the input object is not aliased.
  const again = new BertConfig(JSON.parse(JSON.stringify(c)));
  assert.deepEqual(again.toJSON(), json);
  input.nested.a.push(3);
  assert.deepEqual(c.extra.nested, { a: [1, 2] });
});

Deno.test("from_pretrained reads a directory, applies overrides; save_pretrained round-trips", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      join(dir, "config.json"),
      JSON.stringify({ hidden_size: 32, num_attention_heads: 4, id2label: { "0": "a", "1": "b" } }),
    );
    const c = await BertConfig.from_pretrained(dir);
    assert.equal(c.hidden_size, 32);
    assert.deepEqual(c.id2label, { "0": "a", "1": "b" });
    const same = await BertConfig.from_pretrained(dir, { num_labels: 2 });
    assert.deepEqual(same.id2label, { "0": "a", "1": "b" });
    const three = await BertConfig.from_pretrained(dir, {
      num_labels: 3,
      problem_type: "single_label_classification",
      hidden_dropout_prob: 0,
    });
    assert.equal(three.num_labels, 3);
    assert.deepEqual(three.label2id, { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 });
    assert.equal(three.problem_type, "single_label_classification");
    assert.equal(three.hidden_dropout_prob, 0);

    const out = join(dir, "saved");
    await three.save_pretrained(out);
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["config.json"]);
    const reloaded = await BertConfig.from_pretrained(out);
    assert.deepEqual(reloaded.toJSON(), three.toJSON());

    await Deno.writeTextFile(join(dir, "config.json"), "{oops");
    await assert.rejects(
      () => BertConfig.from_pretrained(dir),
      /config\.json: cannot read config\.json/,
    );
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ hidden_act: "swish" }));
    await assert.rejects(
      () => BertConfig.from_pretrained(dir),
      new RegExp(`${dir}/config\\.json: hidden_act = "swish"`),
    );
    await assert.rejects(
      () => BertConfig.from_pretrained(join(dir, "absent")),
      /absent: local model directory not found/,
    );
  });
});

Deno.test({
  name: "reads bert-base-uncased config.json",
  ignore: !present(BERT_BASE),
  fn: async () => {
    const c = await BertConfig.from_pretrained(BERT_BASE.pathname);
    assert.equal(c.hidden_size, 768);
    assert.equal(c.num_hidden_layers, 12);
    assert.equal(c.vocab_size, 30522);
    assert.deepEqual(c.architectures, ["BertForMaskedLM"]);
    assert.equal(c.num_labels, 2);
    const json = c.toJSON();
    assert.equal(json.transformers_version, "4.6.0.dev0");
    assert.equal(json.gradient_checkpointing, false);
    assert.equal(json.use_cache, true);
  },
});

Deno.test({
  name: "reads the tiny random BERT fixture config.json",
  ignore: !present(TINY),
  fn: async () => {
    const c = await BertConfig.from_pretrained(TINY.pathname, { num_labels: 3 });
    assert.equal(c.hidden_size, 32);
    assert.equal(c.num_hidden_layers, 2);
    assert.equal(c.num_attention_heads, 4);
    assert.equal(c.attention_head_size, 8);
    assert.equal(c.intermediate_size, 64);
    assert.equal(c.vocab_size, 256);
    assert.equal(c.max_position_embeddings, 128);
    assert.equal(c.num_labels, 3);
    assert.equal(c.pad_token_id, 0);
  },
});
