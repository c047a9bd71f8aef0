import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { concat, permute, selectIndex, slice } from "../src/ops/shape.ts";
import { randomArray, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";

/** Row-major strides of `shape`. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** CPU permute: out.shape[k] = shape[dims[k]]. */
function permuteRef<T extends Float32Array | Int32Array>(
  x: T,
  shape: readonly number[],
  dims: readonly number[],
): T {
  const out = new (x.constructor as { new (n: number): T })(x.length);
  const outShape = dims.map((d) => shape[d]);
  const xs = stridesOf(shape);
  const os = stridesOf(outShape);
  for (let i = 0; i < x.length; i++) {
    let src = 0;
    for (let k = 0; k < dims.length; k++) {
      src += (Math.floor(i / os[k]) % outShape[k]) * xs[dims[k]];
    }
    out[i] = x[src];
  }
  return out;
}

Deno.test("permute matches the CPU, backward is the inverse permutation", async () => {
  const device = await testDevice();
  const cases: [number[], number[]][] = [
    [[1, 1, 1], [2, 0, 1]],
    [[7, 13, 5], [2, 0, 1]],
    [[65, 127], [1, 0]],
    [[2, 3, 5, 7], [0, 2, 1, 3]], // split heads [B, S, H, D] → [B, H, S, D]
    [[3, 4, 2, 300], [3, 1, 0, -2]],
  ];
  for (const [k, [shape, dims]] of cases.entries()) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomArray(n, 10 + k);
    const run = await forwardBackward(device, (t) => permute(t, dims), [{ data: x, shape }]);
    const nd = dims.map((d) => (d < 0 ? d + shape.length : d));
    const outShape = nd.map((d) => shape[d]);
    const inverse = nd.map((_, i) => nd.indexOf(i));
    const what = `[${shape}] by [${dims}]`;
    assert.deepEqual(run.shape, outShape, what);
    assert.equal(run.savedBytes, 0, `${what} saves nothing`);
    assert.deepEqual(run.y, permuteRef(x, shape, nd), `${what} y`);
    assert.deepEqual(run.grads[0], permuteRef(run.dy, outShape, inverse), `${what} dx`);
  }
  // i32 data; a permutation that only moves size-1 axes is a view.
  const ids = Tensor.from(device, Int32Array.from({ length: 12 }, (_, i) => i - 5), [3, 4]);
  const t = permute(ids, [1, 0]);
  assert.equal(t.dtype, "i32");
  assert.deepEqual(
    await t.toArray(),
    permuteRef(await ids.toArray() as Int32Array, [3, 4], [1, 0]),
  );
  const v = permute(ids.view([3, 1, 4]), [1, 0, 2]);
  assert.equal(v.buffer, ids.buffer);
  assert.deepEqual(v.shape, [1, 3, 4]);
  assert.throws(() => permute(ids, [0, 0]), /dims \[0,0\] are not a permutation.*\[3,4\]/);
  [ids, t, v].forEach((x) => x.dispose());
  await gradcheck(device, (x) => permute(x, [1, 3, 0, 2]), [
    { data: randomArray(2 * 3 * 2 * 2, 1), shape: [2, 3, 2, 2] },
  ]);
});

Deno.test("selectIndex / slice / concat match the CPU; backward scatters into zeros", async () => {
  const device = await testDevice();
  // selectIndex: [B, S, D] → [B, D] at S = 0 (the pooler's [CLS]), and other dims / indices.
  const sel: [number[], number, number][] = [
    [[1, 1, 1], 1, 0],
    [[7, 13, 5], 1, 0],
    [[3, 300, 3], 1, -1],
    [[65, 127], 0, 64],
    [[2, 3, 5], -1, 2],
  ];
  for (const [k, [shape, dim, index]] of sel.entries()) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomArray(n, 20 + k);
    const run = await forwardBackward(device, (t) => selectIndex(t, dim, index), [
      { data: x, shape },
    ]);
    const d = dim < 0 ? dim + shape.length : dim;
    const i = index < 0 ? index + shape[d] : index;
    const [outer, size, inner] = [
      shape.slice(0, d).reduce((a, b) => a * b, 1),
      shape[d],
      shape.slice(d + 1).reduce((a, b) => a * b, 1),
    ];
    const ey = new Float32Array(outer * inner);
    const edx = new Float32Array(n);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        ey[o * inner + j] = x[(o * size + i) * inner + j];
        edx[(o * size + i) * inner + j] = run.dy[o * inner + j];
      }
    }
    const what = `select [${shape}] dim ${dim} index ${index}`;
    assert.deepEqual(run.shape, shape.filter((_, k) => k !== d), what);
    assert.deepEqual(run.y, ey, `${what} y`);
    assert.deepEqual(run.grads[0], edx, `${what} dx`);
  }

  // slice [7, 13, 5] along dim 1, [3, 11); concat of [2, 3, 4] + [2, 1, 4] + [2, 5, 4] on dim 1.
  const xs = randomArray(7 * 13 * 5, 30);
  const sl = await forwardBackward(device, (t) => slice(t, 1, 3, -2), [
    { data: xs, shape: [7, 13, 5] },
  ]);
  assert.deepEqual(sl.shape, [7, 8, 5]);
  const parts = [3, 1, 5].map((s, k) => randomArray(2 * s * 4, 40 + k));
  const cat = await forwardBackward(device, (a, b, c) => concat([a, b, c], 1), [
    { data: parts[0], shape: [2, 3, 4] },
    { data: parts[1], shape: [2, 1, 4], requiresGrad: false },
    { data: parts[2], shape: [2, 5, 4] },
  ]);
  assert.deepEqual(cat.shape, [2, 9, 4]);
  for (let o = 0; o < 7; o++) {
    for (let s = 0; s < 13; s++) {
      for (let j = 0; j < 5; j++) {
        const inside = s >= 3 && s < 11;
        const src = (o * 13 + s) * 5 + j;
        const dst = (o * 8 + s - 3) * 5 + j;
        if (inside) assert.equal(sl.y[dst], xs[src]);
        assert.equal(sl.grads[0]![src], inside ? sl.dy[dst] : 0);
      }
    }
  }
  for (let o = 0, start = 0; o < 2; o++, start = 0) {
    parts.forEach((p, k) => {
      const len = p.length / 8;
      for (let s = 0; s < len; s++) {
        for (let j = 0; j < 4; j++) {
          const dst = (o * 9 + start + s) * 4 + j;
          assert.equal(cat.y[dst], p[(o * len + s) * 4 + j]);
          if (k !== 1) assert.equal(cat.grads[k]![(o * len + s) * 4 + j], cat.dy[dst]);
        }
      }
      start += len;
    });
  }
  assert.equal(cat.grads[1], null);

  await gradcheck(device, (x) => selectIndex(x), [
    { data: randomArray(2 * 3 * 4, 1), shape: [2, 3, 4] },
  ]);
  await gradcheck(device, (a, b) => concat([slice(a, 0, 1, 3), b], 0), [
    { data: randomArray(4 * 3, 2), shape: [4, 3] },
    { data: randomArray(3, 3), shape: [1, 3] },
  ]);
  const x = Tensor.from(device, [1, 2, 3, 4], [2, 2]);
  assert.throws(() => selectIndex(x, 1, 2), /index 2 is out of range for dim 1 of \[2,2\]/);
  assert.throws(() => slice(x, 2, 0, 1), /dim 2 is out of range for shape \[2,2\]/);
  assert.throws(() => concat([x, x.view([4])], 0), /must match except along dim 0/);
  x.dispose();
});
