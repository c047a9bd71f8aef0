import assert from "node:assert/strict";
import {
  accuracy,
  argmaxRows,
  binaryCounts,
  createProgress,
  f1Binary,
  formatBytes,
  formatComparisonMarkdown,
  formatComparisonTable,
  formatDuration,
  formatRatio,
  renderLossSvg,
  softmaxRows,
  writeLossSvg,
} from "../src/train/report/mod.ts";

Deno.test("accuracy counts exact matches", () => {
  assert.equal(accuracy([1, 0, 1, 1], [1, 1, 1, 0]), 0.5);
  assert.equal(accuracy(new Int32Array([2, 2]), [2, 2]), 1);
  assert.ok(Number.isNaN(accuracy([], [])));
  assert.throws(() => accuracy([1], [1, 0]), RangeError);
});

Deno.test("f1Binary follows sklearn f1_score(average='binary', zero_division=0)", () => {
  // preds 1 1 0 0 1 / labels 1 0 1 0 1: tp=2 fp=1 fn=1 → p=2/3 r=2/3 f1=2/3
  const preds = [1, 1, 0, 0, 1];
  const labels = [1, 0, 1, 0, 1];
  assert.deepEqual(binaryCounts(preds, labels), { tp: 2, fp: 1, fn: 1, tn: 1 });
  assert.ok(Math.abs(f1Binary(preds, labels) - 2 / 3) < 1e-12);
  // positive = 0: tp=1 fp=1 fn=1 → 0.5
  assert.equal(f1Binary(preds, labels, 0), 0.5);
  // tp=1 fp=0 fn=2: p=1 r=1/3 → f1 = 2·1/3 / (4/3) = 0.5
  assert.equal(f1Binary([1, 0, 0], [1, 1, 1]), 0.5);
  // no positive predicted, none present → ill-defined → 0
  assert.equal(f1Binary([0, 0, 0], [0, 0, 0]), 0);
  // no positive predicted, some present → precision ill-defined, f1 = 0
  assert.equal(f1Binary([0, 0], [1, 0]), 0);
  // all wrong positives
  assert.equal(f1Binary([1, 1], [0, 0]), 0);
  assert.equal(f1Binary([1, 1], [1, 1]), 1);
  assert.equal(f1Binary([], []), 0);
  assert.throws(() => f1Binary([1], []), RangeError);
});

Deno.test("argmaxRows and softmaxRows", () => {
  const logits = new Float32Array([0.1, 2, -1, 5, 5, 1, -3, -2, NaN, 0, 7, -1]);
  assert.deepEqual([...argmaxRows(logits, 4, 3)], [1, 0, 2, 1]); // tie → first; NaN wins
  assert.deepEqual([...argmaxRows(new Float32Array([3, 1]), 2, 1)], [0, 0]);
  assert.throws(() => argmaxRows(logits, 3, 3), RangeError);

  const big = new Float32Array([1000, 1001, 0, Math.log(3)]);
  const p = softmaxRows(big, 2, 2);
  const e = 1 / (1 + Math.E);
  for (const [got, want] of [[p[0], e], [p[1], 1 - e], [p[2], 0.25], [p[3], 0.75]]) {
    assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
  }
  assert.equal(argmaxRows(softmaxRows(logits.subarray(0, 6), 2, 3), 2, 3)[0], 1);
});

Deno.test("progress prints plain lines when the output is not a terminal", () => {
  const out: string[] = [];
  const bar = createProgress({ total: 10, label: "velora", write: (s) => out.push(s), every: 3 });
  assert.equal(bar.tty, false);
  for (let step = 1; step <= 10; step++) {
    bar.update(step, {
      loss: 1 / step,
      tokensPerSecond: 1234.4,
      lr: step === 1 ? 2e-5 : undefined,
    });
    if (step === 4) bar.log("eval accuracy 0.5");
  }
  bar.stop();
  bar.stop();
  bar.update(11, { loss: 0 });
  const text = out.join("");
  assert.ok(!text.includes("\x1b"), "no escape codes");
  assert.ok(!text.includes("\r"), "no carriage returns");
  const lines = text.trimEnd().split("\n");
  // updates 1, 3, 6, 9 and the final step 10, plus the log line after step 4
  assert.deepEqual(lines.map((l) => l.split(" ")[1]), [
    "1/10",
    "3/10",
    "accuracy",
    "6/10",
    "9/10",
    "10/10",
  ]);
  assert.match(
    lines[0],
    /^velora 1\/10 \(10\.0%\) \| loss 1\.0000 \| 1234 tok\/s \| lr 2\.00e-5 \|/,
  );
  assert.match(lines[5], /loss 0\.1000 .*lr 2\.00e-5 .*ETA 0s$/, "lr kept from earlier update");
  assert.equal(lines[2], "eval accuracy 0.5");

  // a non-TTY stream behaves the same; stop() prints the last step when it was not printed
  const chunks: string[] = [];
  const p2 = createProgress({ total: 100, stream: { write: (s: string) => chunks.push(s) } });
  p2.update(1, { loss: 0.5 });
  p2.update(2, { loss: 0.25 });
  p2.stop();
  assert.deepEqual(chunks.map((c) => c.split(" | ")[0]), [
    "train 1/100 (1.0%)",
    "train 2/100 (2.0%)",
  ]);
});

Deno.test("progress draws a cli-progress bar on a TTY stream", () => {
  let text = "";
  const stream = { isTTY: true, columns: 120, write: (s: string) => (text += s) };
  const bar = createProgress({ total: 4, label: "full", stream });
  assert.equal(bar.tty, true);
  bar.update(2, { loss: 0.123456, tokensPerSecond: 99.6, lr: 1e-4 });
  bar.log("hello above");
  bar.update(4, { loss: 0.1 });
  bar.stop();
  assert.ok(text.includes("\x1b["), "uses cursor codes");
  assert.ok(text.includes("hello above"));
  assert.match(
    text,
    /full \|[^|]*\| 2\/4 \| loss 0\.1235 \| ETA [^|]+\| 100 tok\/s \| lr 1\.00e-4/,
  );
  assert.match(text, /4\/4 \| loss 0\.1000/);
});

Deno.test("formatDuration", () => {
  assert.deepEqual([5, 187, 3725, NaN].map(formatDuration), ["5s", "3m07s", "1h02m", "--"]);
});

const SERIES = [
  {
    name: "full",
    points: [{ step: 1, loss: 0.7 }, { step: 2, loss: 0.5 }, { step: 3, loss: 0.4 }],
  },
  {
    name: "velora",
    points: [{ step: 1, loss: 0.72 }, { step: 2, loss: 0.55 }, { step: 3, loss: NaN }],
  },
  { name: "checkpointing", points: [{ step: 1, loss: 0.7 }, { step: 3, loss: 0.41 }] },
];

Deno.test("writeLossSvg writes one line per series, atomically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "velora-plot-" });
  try {
    const path = `${dir}/sub/loss.svg`;
    await writeLossSvg(path, SERIES, { title: "BERT <loss>" });
    const svg = await Deno.readTextFile(path);
    assert.ok(svg.startsWith("<svg"), svg.slice(0, 40));
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.equal(svg.match(/aria-roledescription="line mark"/g)?.length, 3);
    for (const s of SERIES) assert.ok(svg.includes(`>${s.name}</text>`), s.name);
    assert.ok(svg.includes("BERT &lt;loss&gt;"), "title escaped");
    assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["loss.svg"]);

    const log = await renderLossSvg([SERIES[0]], { logScale: true, width: 200, height: 100 });
    assert.equal(log.match(/aria-roledescription="line mark"/g)?.length, 1);
    await assert.rejects(() => renderLossSvg([SERIES[0], SERIES[0]]), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const ROWS = [
  {
    mode: "full",
    eval_accuracy: 0.9123,
    eval_f1: 0.9,
    peak_bytes: 1000 * 2 ** 20,
    activation_bytes: 400 * 2 ** 20,
    tokens_per_second: 2000,
    seconds: 100,
  },
  {
    mode: "velora",
    eval_accuracy: 0.91,
    peak_bytes: 620 * 2 ** 20,
    activation_bytes: 100 * 2 ** 20 + 52429,
    tokens_per_second: 1800,
    seconds: 111.25,
  },
];

Deno.test("comparison tables show MiB and ratios to the full row", () => {
  const term = formatComparisonTable(ROWS);
  for (
    const want of ["peak vs full", "0.62×", "1.00×", "0.25×", "0.90×", "1000.0 MiB", "100.1 MiB"]
  ) {
    assert.ok(term.includes(want), `${want} in\n${term}`);
  }
  assert.ok(!term.includes("\x1b"), "no colours");
  assert.ok(term.includes("eval F1") && term.includes("0.9000") && term.includes("–"));

  const md = formatComparisonMarkdown(ROWS);
  const lines = md.trimEnd().split("\n");
  assert.equal(lines.length, 4);
  assert.ok(lines[0].startsWith("| mode | eval acc | eval F1 | peak mem | peak vs full |"));
  assert.ok(lines[1].startsWith("| --- | ---: |"));
  assert.match(lines[3], /^\| velora \| 0\.9100 \| – \| 620\.0 MiB \| 0\.62× \|/);

  const noBase = formatComparisonMarkdown([{ ...ROWS[1], eval_f1: undefined }]);
  assert.ok(!noBase.includes("vs full") && !noBase.includes("eval F1"));
  assert.ok(formatComparisonTable(ROWS, { baseline: "velora" }).includes("peak vs velora"));
});

Deno.test("formatBytes and formatRatio", () => {
  assert.deepEqual(
    [0, 1023, 1536, 2 ** 20 - 1, 412.34 * 2 ** 20, 1.25 * 2 ** 30, NaN].map(formatBytes),
    ["0 B", "1023 B", "1.5 KiB", "1.0 MiB", "412.3 MiB", "1.3 GiB", "–"],
  );
  assert.equal(formatRatio(62, 100), "0.62×");
  assert.equal(formatRatio(1, 0), "–");
  assert.equal(formatRatio(undefined, 1), "–");
});
