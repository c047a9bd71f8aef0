import assert from "node:assert/strict";
import { deriveSeed, mulberry32, shuffle } from "../src/data/rng.ts";
import { epochBatches, epochPermutation, stratifiedSplit, takeSubset } from "../src/data/split.ts";
import type { Example } from "../src/data/types.ts";

/** 100 examples of label 0, 30 of label 1, 5 of label 2. */
const examples: Example[] = [
  ...Array.from({ length: 100 }, (_, i) => ({ text: `a${i}`, label: 0 })),
  ...Array.from({ length: 30 }, (_, i) => ({ text: `b${i}`, label: 1 })),
  ...Array.from({ length: 5 }, (_, i) => ({ text: `c${i}`, label: 2 })),
];

const count = (xs: readonly Example[], label: number) => xs.filter((e) => e.label === label).length;

Deno.test("mulberry32 is deterministic, in [0, 1) and seed-dependent", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notEqual(mulberry32(43)(), mulberry32(42)());
  assert.notEqual(deriveSeed(1, 0), deriveSeed(1, 1));
});

Deno.test("shuffle returns a permutation and leaves the input alone", () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const s = shuffle(items, 7);
  assert.deepEqual(items, Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual([...s].sort((x, y) => x - y), items);
  assert.notDeepEqual(s, items);
  assert.deepEqual(shuffle(items, 7), s);
});

Deno.test("stratifiedSplit keeps label proportions and is deterministic", () => {
  const { train, eval: ev } = stratifiedSplit(examples, { evalFraction: 0.2, seed: 1 });
  assert.equal(train.length + ev.length, examples.length);
  assert.deepEqual([count(ev, 0), count(ev, 1), count(ev, 2)], [20, 6, 1]);
  const all = new Set([...train, ...ev].map((e) => e.text));
  assert.equal(all.size, examples.length);
  const again = stratifiedSplit(examples, { evalFraction: 0.2, seed: 1 });
  assert.deepEqual(again, { train, eval: ev });
  const other = stratifiedSplit(examples, { evalFraction: 0.2, seed: 2 });
  assert.notDeepEqual(other.eval, ev);
  // Every label with two or more examples lands on both sides.
  const tiny = stratifiedSplit(examples, { evalFraction: 0.01, seed: 1 });
  assert.deepEqual([count(tiny.eval, 0), count(tiny.eval, 1), count(tiny.eval, 2)], [1, 1, 1]);
  assert.throws(
    () => stratifiedSplit(examples, { evalFraction: 1, seed: 1 }),
    /option evalFraction must be in \(0, 1\)/,
  );
});

Deno.test("takeSubset is stratified, deterministic and keeps rare labels", () => {
  const sub = takeSubset(examples, 27, 3);
  assert.equal(sub.length, 27);
  assert.deepEqual([count(sub, 0), count(sub, 1), count(sub, 2)], [20, 6, 1]);
  assert.deepEqual(takeSubset(examples, 27, 3), sub);
  const small = takeSubset(examples, 4, 3);
  assert.equal(small.length, 4);
  assert.ok(count(small, 2) >= 1 && count(small, 1) >= 1);
  assert.equal(takeSubset(examples, 1000, 3).length, examples.length);
  assert.equal(takeSubset(examples, 0, 3).length, 0);
  assert.throws(() => takeSubset(examples, 2.5, 3), /n must be a non-negative integer/);
});

Deno.test("epoch permutations differ by epoch and repeat by seed", () => {
  const p0 = epochPermutation(100, 5, 0);
  const p1 = epochPermutation(100, 5, 1);
  assert.deepEqual([...p0].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(p0, p1);
  assert.deepEqual(epochPermutation(100, 5, 1), p1);
  const batches = [...epochBatches(examples, { batchSize: 32, seed: 5, epoch: 0 })];
  assert.deepEqual(batches.map((b) => b.length), [32, 32, 32, 32, 7]);
  const dropped = [...epochBatches(examples, { batchSize: 32, seed: 5, epoch: 0, dropLast: true })];
  assert.equal(dropped.length, 4);
  const order = [...epochPermutation(examples.length, 5, 0)].map((i) => examples[i].text);
  assert.deepEqual(batches.flat().map((e) => e.text), order);
  assert.throws(
    () => epochBatches(examples, { batchSize: 0, seed: 5, epoch: 0 }).next(),
    /batchSize/,
  );
});
