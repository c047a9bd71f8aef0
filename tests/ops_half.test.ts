import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { fromHalf, toHalf } from "../src/ops/half.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { layerNorm } from "../src/ops/layernorm.ts";
import { rmsNorm } from "../src/ops/rmsnorm.ts";
import { swiglu } from "../src/ops/swiglu.ts";
import { Device } from "../src/runtime/device.ts";
import { halfSaves } from "../src/autograd/half_saves.ts";
import { gelu, relu, tanh } from "../src/ops/basic.ts";
import { erf } from "./helpers/erf.ts";

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

Deno.test("activation backward from packed-f16 saves reads the halves (native shader-f16 and unpack paths) and matches an f64 reference", async () => {
  const shared = await testDevice();
  const fallback = await Device.create({ shaderF16: false });
  const grad = {
    gelu: (x: number) =>
      0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI),
    tanh: (x: number) => 1 - Math.tanh(x) ** 2,
    relu: (x: number) => (x > 0 ? 1 : 0),
  };
  const fns = { gelu, tanh, relu };
  try {
    for (const device of [shared, fallback]) {
      const n = 37; // odd: the last word holds one half
      const xs = randomArray(n, 5, -3, 3);
      const gs = randomArray(n, 6);
      for (const op of ["gelu", "tanh", "relu"] as const) {
        const x = Tensor.from(device, xs, [n], { requiresGrad: true });
        const g = Tensor.from(device, gs, [n]);
        const y = halfSaves(() => fns[op](x));
        y.backward(g);
        const got = await x.grad!.toArray();
        const expected = Array.from(xs, (v, i) => gs[i] * grad[op](half(v)));
        for (let i = 0; i < n; i++) {
          assert(
            Math.abs(got[i] - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i])),
            `${op} on ${device.describe()}: dx[${i}] = ${got[i]}, expected ${expected[i]} ` +
              `(x = ${xs[i]}, f16 ${half(xs[i])})`,
          );
        }
        [x, g, y].forEach((t) => t.dispose());
      }
    }
    if (!shared.shaderF16) {
      console.log(`note: ${shared.describe()} has no shader-f16: only the unpack path ran`);
    }
  } finally {
    fallback.destroy();
  }
});

Deno.test("LayerNorm, RMSNorm and SwiGLU backward from a packed-f16 saved input: within f16 rounding of the f32 gradients; native and unpack paths agree", async () => {
  const shared = await testDevice();
  const fallback = await Device.create({ shaderF16: false });
  const rows = 5, cols = 37; // odd: rows start mid-word
  const xs = randomArray(rows * cols, 7, -2, 2);
  const ws = randomArray(cols, 8, 0.5, 1.5);
  const bs = randomArray(cols, 9);
  const gs = randomArray(rows * cols, 10);
  const grads = async (device: Device, half: boolean) => {
    const x = Tensor.from(device, xs, [rows, cols], { requiresGrad: true });
    const w = Tensor.from(device, ws, [cols], { requiresGrad: true });
    const b = Tensor.from(device, bs, [cols], { requiresGrad: true });
    const g = Tensor.from(device, gs, [rows, cols]);
    const y = halfSaves(() => layerNorm(x, w, b, 1e-5), half);
    y.backward(g);
    const out = await Promise.all([x.grad!.toArray(), w.grad!.toArray(), b.grad!.toArray()]);
    // RMSNorm on the same data: dx and dweight.
    const x2 = Tensor.from(device, xs, [rows, cols], { requiresGrad: true });
    const w2 = Tensor.from(device, ws, [cols], { requiresGrad: true });
    const y2 = halfSaves(() => rmsNorm(x2, w2, 1e-6), half);
    y2.backward(g);
    out.push(...await Promise.all([x2.grad!.toArray(), w2.grad!.toArray()]));
    // SwiGLU with gate = x, up = dy's data: dgate and dup.
    const gate = Tensor.from(device, xs, [rows, cols], { requiresGrad: true });
    const up = Tensor.from(device, gs, [rows, cols], { requiresGrad: true });
    const y3 = halfSaves(() => swiglu(gate, up), half);
    y3.backward(g);
    out.push(...await Promise.all([gate.grad!.toArray(), up.grad!.toArray()]));
    [x, w, b, g, y, x2, w2, y2, gate, up, y3].forEach((t) => t.dispose());
    return out;
  };
  try {
    const exact = await grads(shared, false);
    const native = await grads(shared, true);
    const packed = await grads(fallback, true);
    [
      "LayerNorm dx",
      "LayerNorm dweight",
      "LayerNorm dbias",
      "RMSNorm dx",
      "RMSNorm dweight",
      "SwiGLU dgate",
      "SwiGLU dup",
    ]
      .forEach((what, i) => {
        const max = Math.max(...exact[i].map(Math.abs));
        // f16 rounding of x (relative 2⁻¹¹) through x̂: a few 1e-3 of the gradient's scale.
        assertClose(packed[i], exact[i], {
          rtol: 0,
          atol: 5e-3 * max,
          what: `${what} (unpack path)`,
        });
        assertClose(native[i], packed[i], {
          rtol: 1e-5,
          atol: 1e-6 * max,
          what: `${what} native vs unpack`,
        });
      });
  } finally {
    fallback.destroy();
  }
});
