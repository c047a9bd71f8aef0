import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { embedding, EMBEDDING_GRAD_CHUNK } from "../src/ops/embedding.ts";
import { tidy } from "../src/tensor/scope.ts";
import { randomArray, rng, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";

/**
 * CPU reference: forward rows, and dW in exactly the kernel's f32 summation order (so the
 * comparison is exact): token positions stably sorted by id, cut into chunks of
 * EMBEDDING_GRAD_CHUNK sorted positions; each id sums its tokens in order within a chunk, then
 * adds those chunk sums in order. Rows of unused ids and of the padding id are zero.
 */
function reference(
  ids: Int32Array,
  w: Float32Array,
  dy: Float32Array,
  vocab: number,
  dim: number,
  pad = -1,
) {
  const K = EMBEDDING_GRAD_CHUNK;
  const clamped = Array.from(ids, (v) => Math.min(Math.max(v, 0), vocab - 1));
  const y = new Float32Array(ids.length * dim);
  clamped.forEach((id, t) => y.set(w.subarray(id * dim, (id + 1) * dim), t * dim));
  const order = clamped.map((_, t) => t).sort((a, b) => clamped[a] - clamped[b] || a - b);
  const dw = new Float32Array(vocab * dim);
  for (let d = 0; d < dim; d++) {
    let j = 0;
    while (j < order.length) {
      const id = clamped[order[j]];
      let total = 0;
      while (j < order.length && clamped[order[j]] === id) {
        let piece = 0;
        const end = (Math.floor(j / K) + 1) * K;
        while (j < order.length && j < end && clamped[order[j]] === id) {
          piece = Math.fround(piece + dy[order[j] * dim + d]);
          j++;
        }
        total = Math.fround(total + piece);
      }
      if (id !== pad) dw[id * dim + d] = total;
    }
  }
  return { y, dw };
}

function randomIds(n: number, vocab: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * vocab));
}

Deno.test("embedding forward/backward: exact, deterministic, duplicates and padding", async () => {
  const device = await testDevice();
  // [idsShape, V, D, paddingIdx]: 1×1; 7×13 with heavy duplicates; 300 tokens (> one 256-token
  // tile, ids spanning several 64-position chunks) over few ids; 65×127; a large vocabulary
  // with few used rows; one id for all 4096 tokens (token types), besides a padding id.
  const cases: [number[], number, number, number | undefined][] = [
    [[1], 1, 1, undefined],
    [[7], 3, 13, 0],
    [[3, 100], 11, 5, 2],
    [[65], 40, 127, undefined],
    [[2, 130], 30522, 4, 0],
    [[4, 1024], 2, 3, undefined],
  ];
  for (const [k, [shape, vocab, dim, pad]] of cases.entries()) {
    const n = shape.reduce((a, b) => a * b, 1);
    const ids = randomIds(n, vocab, 10 + k);
    if (k === 4) ids.fill(0, 0, 50); // many [PAD] tokens
    if (k === 5) ids.fill(1).fill(0, 1000, 1001); // one token of id 0, the rest id 1
    const w = randomArray(vocab * dim, 20 + k);
    const run = await forwardBackward(
      device,
      (i, wt) => embedding(i, wt, { paddingIdx: pad }),
      [
        { data: ids, shape },
        { data: w, shape: [vocab, dim], category: "parameter" },
      ],
      { seed: 30 + k },
    );
    const ref = reference(ids, w, run.dy, vocab, dim, pad);
    const what = `ids [${shape}], weight [${vocab}, ${dim}]`;
    assert.deepEqual(run.shape, [...shape, dim], what);
    assert.equal(run.savedBytes, n * 4, `${what}: saves ids only`);
    assert.deepEqual(run.y, ref.y, `${what}: y`);
    assert.equal(run.grads[0], null);
    assert.deepEqual(run.grads[1], ref.dw, `${what}: dW`);
  }
});

Deno.test("embedding: clamped ids, bit-identical dW across runs, finite differences", async () => {
  const device = await testDevice();
  const [vocab, dim] = [6, 3];
  const w = randomArray(vocab * dim, 1);
  const ids = new Int32Array([-5, 2, 9, 2, 5, 0]);
  const run = await forwardBackward(device, (i, wt) => embedding(i, wt), [
    { data: ids, shape: [6] },
    { data: w, shape: [vocab, dim] },
  ]);
  assert.deepEqual(run.y, reference(ids, w, run.dy, vocab, dim).y, "out-of-range ids clamp");

  // T = 1024 tokens with a Zipf-like id distribution: two runs give identical bits.
  const r = rng(3);
  const many = Int32Array.from({ length: 1024 }, () => Math.floor(200 * r() ** 3));
  const idsT = Tensor.from(device, many, [1024]);
  const wt = Tensor.from(device, randomArray(200 * 24, 4), [200, 24], { requiresGrad: true });
  const dy = Tensor.from(device, randomArray(1024 * 24, 5, -100, 100), [1024, 24]);
  const grads: Float32Array[] = [];
  for (let i = 0; i < 2; i++) {
    const y = tidy(() => embedding(idsT, wt));
    y.backward(dy);
    y.dispose();
    grads.push((await wt.grad!.toArray()) as Float32Array);
    wt.grad!.dispose();
    wt.grad = null;
  }
  assert.deepEqual(grads[0], grads[1]);
  const dyv = (await dy.toArray()) as Float32Array;
  assert.deepEqual(grads[0], reference(many, new Float32Array(200 * 24), dyv, 200, 24).dw);
  [idsT, wt, dy].forEach((t) => t.dispose());
  assert.equal(device.memory.byCategory.activation, 0);

  const gIds = Tensor.from(device, new Int32Array([1, 3, 1, 0, 3, 3]), [2, 3]);
  // (No paddingIdx here: its row gets no gradient by definition, unlike finite differences.)
  await gradcheck(device, (x) => embedding(gIds, x), [
    { data: randomArray(5 * 4, 6), shape: [5, 4] },
  ]);
  assert.throws(
    () => embedding(gIds, Tensor.from(device, [1, 2], [2])),
    /weight must be f32 \[V, D\].*\[2\]/,
  );
  gIds.dispose();
});
