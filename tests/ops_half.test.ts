import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { fromHalf, toHalf } from "../src/ops/half.ts";
import { randomArray, testDevice } from "./helpers/gpu.ts";

/** Round-to-nearest-even f16 value of x (f64 reference, normal and subnormal range). */
function half(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14);
  const ulp = 2 ** (e - 10);
  const q = x / ulp;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q)) === 0.5) r = 2 * Math.round(q / 2);
  return Math.abs(r * ulp) > 65504 ? Math.sign(x) * Infinity : r * ulp;
}

Deno.test("toHalf / fromHalf: round to nearest f16, odd lengths, empty", async () => {
  const device = await testDevice();
  for (const n of [1, 7, 65, 1000]) {
    const data = randomArray(n, n, -3, 3);
    data[0] = 1e-6; // subnormal in f16
    if (n > 1) data[1] = 70000; // overflows to +Inf
    const x = Tensor.from(device, data, [n]);
    const h = toHalf(x);
    assert.equal(h.dtype, "f16");
    const back = fromHalf(h);
    const expected = Array.from(data, half);
    assert.deepEqual(Array.from(await back.toArray()), expected, `n=${n}`);
    assert.deepEqual(Array.from(await h.toArray()), expected, `f16 read n=${n}`);
    [x, h, back].forEach((t) => t.dispose());
  }
  const e = toHalf(Tensor.from(device, new Float32Array(0), [0, 3]));
  assert.deepEqual(e.shape, [0, 3]);
  e.dispose();
  const i = Tensor.from(device, new Int32Array(2), [2]);
  assert.throws(() => toHalf(i), /toHalf: x must be f32, got i32/);
  i.dispose();
});
