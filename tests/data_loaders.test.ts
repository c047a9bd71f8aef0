import assert from "node:assert/strict";
import { join } from "node:path";
import { loadTextClassificationFile, type TextFileOptions } from "../src/data/text_file.ts";
import { buildLabelMap } from "../src/data/labels.ts";
import { prepareData } from "../src/train/job.ts";
import { invalidUtf8Offset } from "../src/data/utf8.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { sharedPresent } from "./helpers/shared_data.ts";

const dir = await Deno.makeTempDir({ prefix: "velora_data_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

let counter = 0;
/** Writes `content` to a fresh temp file with the given extension and returns its path. */
async function write(ext: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, `f${counter++}.${ext}`);
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

async function rejects(path: string, message: RegExp, options: TextFileOptions = {}) {
  await assert.rejects(loadTextClassificationFile(path, options), (e: Error) => {
    assert.match(e.message, message);
    return true;
  });
}

const esc = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test("TSV single sentence (SST-2 style) keeps quotes and integer labels", async () => {
  const path = await write(
    "tsv",
    'sentence\tlabel\nit \'s a "charming" movie \t1\nbad , bad film \t0\nfine \t1\n',
  );
  const ds = await loadTextClassificationFile(path);
  assert.equal(ds.name, path);
  assert.deepEqual(ds.examples, [
    { text: 'it \'s a "charming" movie', label: 1 },
    { text: "bad , bad film", label: 0 },
    { text: "fine", label: 1 },
  ]);
  assert.deepEqual(ds.id2label, { 0: "0", 1: "1" });
  assert.deepEqual(ds.label2id, { "0": 0, "1": 1 });
  assert.equal(ds.skipped, 0);
});

Deno.test("TSV pairs: RTE columns and string labels in sorted order", async () => {
  const path = await write(
    "tsv",
    "index\tsentence1\tsentence2\tlabel\r\n" +
      "0\tA man sleeps.\tSomeone sleeps.\tentailment\r\n" +
      '1\tIt rains.\tIt is "dry".\tnot_entailment\r\n',
  );
  const ds = await loadTextClassificationFile(path);
  assert.deepEqual(ds.examples, [
    { text: "A man sleeps.", textPair: "Someone sleeps.", label: 0 },
    { text: "It rains.", textPair: 'It is "dry".', label: 1 },
  ]);
  assert.deepEqual(ds.id2label, { 0: "entailment", 1: "not_entailment" });
});

Deno.test("TSV pairs: MRPC columns (#1 String, #2 String, Quality)", async () => {
  const path = await write(
    "tsv",
    "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" +
      '1\t702876\t702977\tAmrozi said "he" did.\tHe said Amrozi did.\n' +
      "0\t2108705\t2108831\tYucaipa owned it.\tYucaipa bought it.\n",
  );
  const ds = await loadTextClassificationFile(path);
  assert.deepEqual(ds.examples, [
    { text: 'Amrozi said "he" did.', textPair: "He said Amrozi did.", label: 1 },
    { text: "Yucaipa owned it.", textPair: "Yucaipa bought it.", label: 0 },
  ]);
  assert.deepEqual(ds.id2label, { 0: "0", 1: "1" });
});

Deno.test("explicit column options override detection", async () => {
  const path = await write("tsv", "a\tb\ty\nfirst\tsecond\tpos\nthird\tfourth\tneg\n");
  const ds = await loadTextClassificationFile(path, {
    textColumn: "b",
    textPairColumn: "a",
    labelColumn: "y",
  });
  assert.deepEqual(ds.examples, [
    { text: "second", textPair: "first", label: 1 },
    { text: "fourth", textPair: "third", label: 0 },
  ]);
  await rejects(path, new RegExp(`^${esc(path)}:1: option textColumn: column "zz" not found`), {
    textColumn: "zz",
    labelColumn: "y",
  });
  await rejects(path, new RegExp(`^${esc(path)}:1: option labelColumn: no label column found`));
});

Deno.test("CSV with quoted commas, quotes and newlines (RFC 4180)", async () => {
  const path = await write(
    "csv",
    'text,label\r\n"Hello, world",greeting\r\n"He said ""hi""",quote\r\n' +
      '"line one\nline two",greeting\r\nplain text,quote\r\n',
  );
  const ds = await loadTextClassificationFile(path);
  assert.deepEqual(ds.examples, [
    { text: "Hello, world", label: 0 },
    { text: 'He said "hi"', label: 1 },
    { text: "line one\nline two", label: 0 },
    { text: "plain text", label: 1 },
  ]);
  assert.deepEqual(ds.id2label, { 0: "greeting", 1: "quote" });
});

Deno.test("CSV bad rows name the line where the record starts", async () => {
  const path = await write("csv", 'text,label\n"multi\nline",a\n\nonly one field\nok,b\n');
  await rejects(path, new RegExp(`^${esc(path)}:5: expected 2 comma-separated fields`));
  const unclosed = await write("csv", 'text,label\nok,a\n"never closed,b\n');
  await rejects(unclosed, new RegExp(`^${esc(unclosed)}:\\d+: CSV syntax error: Quote Not Closed`));
});

Deno.test("JSONL with string and numeric labels", async () => {
  const path = await write(
    "jsonl",
    '{"text": "good", "label": 1}\n\n{"text": "bad", "label": 0}\n{"text": "ok", "label": 2}\n',
  );
  const ds = await loadTextClassificationFile(path);
  assert.deepEqual(ds.examples.map((e) => e.label), [1, 0, 2]);
  assert.deepEqual(ds.id2label, { 0: "0", 1: "1", 2: "2" });
  const pairs = await write(
    "jsonl",
    '{"premise": "p1", "hypothesis": "h1", "label": "yes"}\n' +
      '{"premise": "p2", "hypothesis": "h2", "label": "no"}\n',
  );
  const pd = await loadTextClassificationFile(pairs);
  assert.deepEqual(pd.examples, [
    { text: "p1", textPair: "h1", label: 1 },
    { text: "p2", textPair: "h2", label: 0 },
  ]);
});

Deno.test("each kind of bad row throws FILE:LINE: reason", async () => {
  const cases: [string, string, RegExp, TextFileOptions?][] = [
    ["tsv", "sentence\tlabel\nok\t0\ntoo\tmany\tfields\n", /:3: expected 2 tab-separated fields/],
    ["tsv", "sentence\tlabel\nok\t0\n   \t1\n", /:3: column "sentence": empty text/],
    ["tsv", "sentence\tlabel\nok\t0\nfine\t\n", /:3: column "label": empty label/],
    ["tsv", "sentence\tlabel\nok\t0\nfine\t7\n", /:3: column "label": unknown label "7"/, {
      labels: ["0", "1"],
    }],
    ["jsonl", '{"text": "a", "label": 0}\n{"text": "b"}\n', /:2: missing column "label"/],
    [
      "jsonl",
      '{"text": "a", "label": 0}\n{"text": 5, "label": 1}\n',
      /:2: column "text": expected a string/,
    ],
    ["jsonl", '{"text": "a", "label": 0}\n{"text": "b", label: 1}\n', /:2: invalid JSON/],
    ["jsonl", '{"text": "a", "label": 0}\n\n["x", 1]\n', /:3: expected a JSON object/],
  ];
  for (const [ext, content, message, options] of cases) {
    const path = await write(ext, content);
    await rejects(path, new RegExp(`^${esc(path)}${message.source}`), options);
  }
});

Deno.test("empty files and header-only files are errors", async () => {
  for (const [ext, content] of [["tsv", ""], ["csv", "\n\n"], ["jsonl", "  \n"]]) {
    const path = await write(ext, content);
    await rejects(path, new RegExp(`^${esc(path)}:1: file is empty`));
  }
  const headerOnly = await write("tsv", "sentence\tlabel\n");
  await rejects(headerOnly, new RegExp(`^${esc(headerOnly)}:1: no examples after the header`));
  await rejects(join(dir, "f.txt"), /option format/);
  await assert.rejects(loadTextClassificationFile(join(dir, "missing.tsv")), Deno.errors.NotFound);
});

Deno.test("invalid UTF-8 is reported with line and byte", async () => {
  const enc = new TextEncoder();
  const bytes = new Uint8Array([
    ...enc.encode("sentence\tlabel\ngood\t1\nba"),
    0xff,
    ...enc.encode("d\t0\ncaf\u00e9\t0\n"),
  ]);
  const path = await write("tsv", bytes);
  await rejects(path, new RegExp(`^${esc(path)}:3: invalid UTF-8 at byte 3`));
  const ds = await loadTextClassificationFile(path, { skipBadRows: true });
  assert.deepEqual(ds.examples, [{ text: "good", label: 1 }, { text: "café", label: 0 }]);
  assert.equal(ds.skipped, 1);
  const csv = await write(
    "csv",
    new Uint8Array([...enc.encode('text,label\n"x\ny'), 0xc3, 0x28, ...enc.encode('",1\nz,0\n')]),
  );
  await rejects(csv, new RegExp(`^${esc(csv)}:2: invalid UTF-8 at byte 2 of line 3`));
  const header = await write("tsv", new Uint8Array([0x74, 0xe0, 0x80, 0x0a, 0x61, 0x0a]));
  await rejects(header, new RegExp(`^${esc(header)}:1: invalid UTF-8 at byte 2 of the header`));
  // The validator agrees with TextDecoder's fatal mode.
  const fatal = new TextDecoder("utf-8", { fatal: true });
  for (
    const b of [[0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0x80], [0xe2, 0x82], [
      0xf0,
      0x9f,
      0x98,
      0x80,
    ]]
  ) {
    const u = new Uint8Array(b);
    let valid = true;
    try {
      fatal.decode(u);
    } catch {
      valid = false;
    }
    assert.equal(invalidUtf8Offset(u) < 0, valid, `bytes ${b}`);
  }
});

Deno.test("skipBadRows skips and counts, keeping the first reasons", async () => {
  const path = await write(
    "tsv",
    "sentence\tlabel\n" +
      "a\t0\n" +
      "b\n" + // wrong field count
      "\t1\n" + // empty text
      "c\t9\n" + // unknown label
      "d\t1\n" +
      "e\t\n" + // empty label
      "f\t0\textra\n" + // wrong field count
      "g\t0\n",
  );
  const ds = await loadTextClassificationFile(path, {
    skipBadRows: true,
    labels: ["0", "1"],
    maxSkippedReasons: 3,
  });
  assert.deepEqual(ds.examples.map((e) => e.text), ["a", "d", "g"]);
  assert.equal(ds.skipped, 5);
  assert.equal(ds.skippedReasons.length, 3);
  assert.match(ds.skippedReasons[0], new RegExp(`^${esc(path)}:3: expected 2`));
  assert.match(ds.skippedReasons[1], new RegExp(`^${esc(path)}:4: column "sentence": empty`));
  assert.match(ds.skippedReasons[2], new RegExp(`^${esc(path)}:5: column "label": unknown label`));
});

Deno.test("label mapping: ints 0..K-1 kept, else numeric or string order, or as given", () => {
  assert.deepEqual(buildLabelMap(["1", "0", "2", "1"]).id2label, { 0: "0", 1: "1", 2: "2" });
  assert.deepEqual(buildLabelMap(["1", "2", "10"]).id2label, { 0: "1", 1: "2", 2: "10" });
  assert.deepEqual(buildLabelMap(["-1", "1"]).label2id, { "-1": 0, "1": 1 });
  assert.deepEqual(buildLabelMap(["spam", "ham", "Ham"]).id2label, {
    0: "Ham",
    1: "ham",
    2: "spam",
  });
  assert.deepEqual(buildLabelMap(["1"], ["not_entailment", "entailment"]).label2id, {
    not_entailment: 0,
    entailment: 1,
  });
  assert.throws(() => buildLabelMap([], ["a", "a"]), /option labels: label "a" is listed twice/);
});

Deno.test("eval file with the training labels shares the ids", async () => {
  const train = await write("csv", "text,label\na,neg\nb,pos\nc,neutral\n");
  const evalFile = await write("csv", "text,label\nd,pos\n");
  const tr = await loadTextClassificationFile(train);
  const ev = await loadTextClassificationFile(evalFile, { labels: Object.values(tr.id2label) });
  assert.deepEqual(ev.id2label, tr.id2label);
  assert.equal(ev.examples[0].label, tr.label2id.pos);
});

const glue = new URL("../../shared/data/glue/", import.meta.url);
const gluePresent = sharedPresent(glue, ["SST-2/train.tsv", "RTE/train.tsv"], "GLUE file tests");

Deno.test({
  name: "real GLUE files: SST-2 and RTE train.tsv",
  ignore: !gluePresent,
  fn: async () => {
    const sst = await loadTextClassificationFile(new URL("SST-2/train.tsv", glue));
    assert.equal(sst.examples.length, 67349);
    assert.deepEqual(sst.id2label, { 0: "0", 1: "1" });
    assert.equal(sst.examples[0].text, "hide new secretions from the parental units");
    assert.equal(sst.examples[0].label, 0);
    const rte = await loadTextClassificationFile(new URL("RTE/train.tsv", glue));
    assert.equal(rte.examples.length, 2490);
    assert.deepEqual(rte.id2label, { 0: "entailment", 1: "not_entailment" });
    assert.equal(rte.examples[0].textPair, "Weapons of Mass Destruction Found in Iraq.");
    assert.equal(rte.examples[0].label, 1);
    const dev = await loadTextClassificationFile(new URL("RTE/dev.tsv", glue), {
      labels: Object.values(rte.id2label),
    });
    assert.equal(dev.examples.length, 277);
  },
});

Deno.test("labels: a rare label is reported with counts and file:line; float labels mean regression; one class is an error", async () => {
  await withTempDir(async (dir) => {
    const rows = ["sentence\tlabel"];
    for (let i = 0; i < 200; i++) rows.push(`text ${i}\t${i === 57 ? "positive" : i % 2}`);
    const typo = join(dir, "typo.tsv");
    await Deno.writeTextFile(typo, rows.join("\n") + "\n");
    const ds = await loadTextClassificationFile(typo);
    assert.equal(Object.keys(ds.id2label).length, 3); // still loaded as HF would
    assert.equal(ds.warnings!.length, 1);
    assert.match(
      ds.warnings![0],
      /label "positive" appears in only 1 of 200 rows \(.*typo\.tsv:59\).*Label counts: "0": 100, "1": 99, "positive": 1/,
    );
    const clean = join(dir, "clean.tsv");
    await Deno.writeTextFile(clean, rows.filter((_, i) => i !== 58).join("\n") + "\n");
    assert.deepEqual((await loadTextClassificationFile(clean)).warnings, []);

    const floats = join(dir, "stsb.tsv");
    await Deno.writeTextFile(floats, "sentence\tlabel\na\t3.8\nb\t0\nc\t5.000\nd\t1.25\n");
    const reg = await loadTextClassificationFile(floats);
    assert.equal(reg.regression, true);
    assert.deepEqual(reg.examples.map((e) => e.label), [3.8, 0, 5, 1.25]);
    assert.deepEqual(reg.id2label, { 0: "LABEL_0" });
    const data = await prepareData({ data: floats, evalFraction: 0.25, seed: 1 });
    assert.equal(data.regression, true);
    assert.equal(data.train.length + data.eval.length, 4);
    assert.ok(data.eval.length >= 1);

    const one = join(dir, "one.tsv");
    await Deno.writeTextFile(one, "sentence\tlabel\na\tspam\nb\tspam\nc\tspam\n");
    await assert.rejects(
      () => prepareData({ data: one, seed: 1 }),
      /one\.tsv: every training example has the label "spam"; a classifier needs at least two classes/,
    );
  });
});
