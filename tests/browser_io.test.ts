// The browser path without a browser: safetensors from/to memory, hub files over fetch with the
// Cache API, and the page's training loop on a tiny BERT.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BertConfig,
  BertForSequenceClassification,
  fetchModelFile,
  loadSafetensors,
  loadSafetensorsFromBuffer,
  PreTrainedTokenizer,
  saveSafetensors,
  serializeSafetensors,
} from "../mod.ts";
import { classifyTexts, trainLoop } from "../examples/browser/train_loop.ts";
import { parseTextClassification } from "../src/data/text_file.ts";
import { modelFiles, modelFromUrl } from "../examples/browser/model.ts";
import { testDevice } from "./helpers/gpu.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

Deno.test("safetensors: bytes in memory match the file writer and parse back", async () => {
  const tensors = {
    b: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    a: { shape: [3], data: new Int32Array([7, -8, 9]) },
  };
  const bytes = serializeSafetensors(tensors, { note: "x" });
  const dir = await Deno.makeTempDir({ prefix: "velora-buf-" });
  try {
    await saveSafetensors(join(dir, "m.safetensors"), tensors, { note: "x" });
    assert.deepEqual(bytes, await Deno.readFile(join(dir, "m.safetensors")));
    const back = loadSafetensorsFromBuffer(bytes.buffer, "m.safetensors");
    assert.deepEqual([...back.keys()], ["a", "b"]);
    assert.deepEqual([...back.get("b")!.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(back.get("b")!.shape, [2, 3]);
    const fromFile = await loadSafetensors(join(dir, "m.safetensors"));
    assert.deepEqual([...fromFile.get("a")!.data], [...back.get("a")!.data]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // Same validation as files: a truncated buffer and a duplicate key name the buffer.
  assert.throws(() => loadSafetensorsFromBuffer(bytes.slice(0, 20), "cut"), /cut: safetensors/);
  const dup =
    `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`;
  const text = new TextEncoder().encode(dup);
  const raw = new Uint8Array(8 + text.length + 4);
  new DataView(raw.buffer).setBigUint64(0, BigInt(text.length), true);
  raw.set(text, 8);
  assert.throws(() => loadSafetensorsFromBuffer(raw, "dup"), /dup: .*key "a" twice/);
  assert.throws(() => loadSafetensorsFromBuffer(bytes, "m", { names: ["zz"] }), /"zz"/);
});

Deno.test("fetchModelFile: folder URLs and hub ids over fetch, cached with the Cache API", async () => {
  const files: Record<string, string> = { "config.json": '{"a":1}', "vocab.txt": "x\n" };
  const log: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    log.push(path);
    if (path.startsWith("/evil/")) {
      return new Response(null, { status: 302, headers: { location: "file:///etc/passwd" } });
    }
    const name = path.split("/").pop()!;
    if (!(name in files)) return new Response("no", { status: 404 });
    return new Response(files[name], {
      headers: { etag: `"${name}-v1"`, "x-repo-commit": COMMIT },
    });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const cache = `velora-test-${crypto.randomUUID()}`;
  try {
    const events: string[] = [];
    const o = { cache, progress_callback: (p: { status: string }) => events.push(p.status) };
    const url = `${base}/models/tiny`;
    assert.equal(new TextDecoder().decode(await fetchModelFile(url, "config.json", o)), '{"a":1}');
    assert.deepEqual(events, ["initiate", "download", "progress", "done"]);
    // Unchanged ETag: answered from the cache, no body read.
    events.length = 0;
    assert.equal(new TextDecoder().decode(await fetchModelFile(url, "config.json", o)), '{"a":1}');
    assert.deepEqual(events, ["initiate", "done"]);
    assert.equal(await fetchModelFile(url, "tokenizer.json", { ...o, required: false }), null);
    await assert.rejects(
      () => fetchModelFile(url, "tokenizer.json", o),
      /"tokenizer\.json" of .*HTTP 404/,
    );
    // Hub ids: resolve URLs, validated names; offline from the cache.
    const hub = { ...o, endpoint: base };
    await fetchModelFile("org/tiny", "vocab.txt", hub);
    assert.equal(log.at(-1), "/org/tiny/resolve/main/vocab.txt");
    const n = log.length;
    await fetchModelFile("org/tiny", "vocab.txt", { ...hub, local_files_only: true });
    assert.equal(log.length, n);
    await assert.rejects(() => fetchModelFile("a/.", "vocab.txt", hub), /is neither/);
    await assert.rejects(() => fetchModelFile("org/x", "../x", hub), /invalid filename/);
    await assert.rejects(() => fetchModelFile("evil/x", "config.json", hub), /only http\(s\)/);
  } finally {
    await server.shutdown();
    await caches.delete(cache);
  }
});

const VOCAB = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  ..."free money win prize click now offer meeting notes project lunch tomorrow report team"
    .split(" "),
];

Deno.test("the page's training loop lowers the loss, classifies, and exports HF files", async () => {
  const device = await testDevice();
  try {
    const tokenizer = await PreTrainedTokenizer.fromVocab(VOCAB);
    const config = new BertConfig({
      vocab_size: VOCAB.length,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 32,
      hidden_dropout_prob: 0,
      attention_probs_dropout_prob: 0,
      num_labels: 2,
      id2label: { 0: "ham", 1: "spam" },
      label2id: { ham: 0, spam: 1 },
    });
    const model = new BertForSequenceClassification(device, config, { seed: 1 });
    const examples = [
      { text: "free money win prize now", label: 1 },
      { text: "click now offer free prize", label: 1 },
      { text: "meeting notes project tomorrow", label: 0 },
      { text: "lunch tomorrow team report", label: 0 },
    ];
    const steps: number[] = [];
    const result = await trainLoop(device, model, tokenizer, examples, {
      mode: "velora",
      epochs: 16,
      maxSteps: 0,
      batchSize: 4,
      maxLength: 16,
      lr: 3e-2,
      warmupRatio: 0,
      weightDecay: 0,
      maxGradNorm: 1,
      seed: 3,
      numGroups: 4,
    }, (r) => steps.push(r.loss));
    assert.equal(result.steps, 16);
    assert.equal(result.veloraLayers.length, 6);
    assert.ok(
      result.lastLoss < result.firstLoss * 0.8,
      `${result.firstLoss} -> ${result.lastLoss}`,
    );
    const [spam, ham] = await classifyTexts(device, model, tokenizer, [
      "win free money now",
      "team meeting tomorrow",
    ], 16);
    assert.equal(spam.label, "spam");
    assert.equal(ham.label, "ham");
    // Stop between steps.
    let calls = 0;
    const stopped = await trainLoop(
      device,
      model,
      tokenizer,
      examples,
      {
        mode: "full",
        epochs: 5,
        maxSteps: 0,
        batchSize: 2,
        maxLength: 16,
        lr: 1e-3,
        warmupRatio: 0,
        weightDecay: 0,
        maxGradNorm: 1,
        seed: 3,
        numGroups: 4,
      },
      () => calls++,
      () => calls >= 2,
    );
    assert.deepEqual([stopped.steps, stopped.stopped], [2, true]);
    // The download: config.json + model.safetensors, loadable again over HTTP.
    const [now] = await classifyTexts(device, model, tokenizer, ["win free money now"], 16);
    const files = await modelFiles(model);
    const dir = await Deno.makeTempDir({ prefix: "velora-page-model-" });
    await Deno.writeTextFile(join(dir, "config.json"), files.config);
    await Deno.writeFile(join(dir, "model.safetensors"), files.weights);
    await Deno.writeTextFile(join(dir, "vocab.txt"), VOCAB.join("\n") + "\n");
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (req) => {
        try {
          return new Response(await Deno.readFile(join(dir, new URL(req.url).pathname.slice(1))));
        } catch {
          return new Response("no", { status: 404 });
        }
      },
    );
    try {
      assert.equal(JSON.parse(files.config).architectures[0], "BertForSequenceClassification");
      const again = await modelFromUrl(
        device,
        `http://127.0.0.1:${server.addr.port}`,
        ["ham", "spam"],
        9,
        { cache: false },
        (m) => assert.fail(m),
      );
      const [r] = await classifyTexts(
        device,
        again.model,
        again.tokenizer,
        ["win free money now"],
        16,
      );
      assert.equal(r.label, now.label);
      assert.ok(Math.abs(r.score - now.score) < 1e-5, `${r.score} vs ${now.score}`);
      again.model.dispose();
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
    model.dispose();
  } finally {
    // The device is shared by this file's tests (tests/helpers/gpu.ts): not destroyed here.
    device.memory.resetPeak();
  }
});

Deno.test("a picked TSV/CSV parses from bytes, with FILE:LINE errors", async () => {
  const enc = (t: string) => new TextEncoder().encode(t);
  const tsv = await parseTextClassification(
    enc("sentence\tlabel\ngood film\t1\nbad\t0\n"),
    "p.tsv",
  );
  assert.deepEqual(tsv.examples.map((e) => [e.text, tsv.id2label[e.label]]), [
    ["good film", "1"],
    ["bad", "0"],
  ]);
  const csv = await parseTextClassification(enc('text,label\n"a, b",pos\nc,neg\n'), "p.csv");
  assert.equal(csv.examples[0].text, "a, b");
  await assert.rejects(
    () => parseTextClassification(enc("sentence\tlabel\nx\n"), "q.tsv"),
    /q\.tsv:2:/,
  );
});
