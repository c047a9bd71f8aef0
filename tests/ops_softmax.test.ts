import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { softmax } from "../src/ops/softmax.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { assertClose, randomArray, rng, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";

const FINFO_MIN = -3.4028234663852886e38;

/**
 * f64 softmax of scale·x + mask over rows of `cols` (mask rows broadcast over `rowsPerMask` rows),
 * and its backward. Adds in f32 first, as the GPU (and PyTorch) does, so finfo.min masks saturate.
 */
function reference(
  x: Float32Array,
  dy: Float32Array,
  cols: number,
  scale: number,
  mask?: Float32Array,
  rowsPerMask = 1,
) {
  const rows = x.length / cols;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const mo = Math.floor(r / rowsPerMask) * cols;
    const z = Array.from({ length: cols }, (_, c) => {
      const v = Math.fround(Math.fround(scale * x[o + c]) + (mask ? mask[mo + c] : 0));
      return Math.max(v, FINFO_MIN);
    });
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    let dot = 0;
    for (let c = 0; c < cols; c++) {
      y[o + c] = e[c] / s;
      dot += dy[o + c] * y[o + c];
    }
    for (let c = 0; c < cols; c++) dx[o + c] = scale * y[o + c] * (dy[o + c] - dot);
  }
  return { y, dx };
}

Deno.test("softmax forward/backward match an f64 reference on awkward shapes", async () => {
  const device = await testDevice();
  const shapes = [[1, 1], [7, 13], [65, 127], [3, 300], [2, 3, 5]];
  for (const [k, shape] of shapes.entries()) {
    const cols = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomArray(n, 10 + k, -6, 6);
    const scale = k % 2 ? 0.125 : 1;
    const run = await forwardBackward(device, (t) => softmax(t, null, { scale }), [
      { data: x, shape },
    ], { seed: 20 + k });
    const ref = reference(x, run.dy, cols, scale);
    const what = `[${shape}]`;
    assert.equal(run.savedBytes, n * 4, `${what} saves y only`);
    assertClose(run.y, ref.y, { rtol: 1e-5, atol: 1e-7, what: `${what} y` });
    assertClose(run.grads[0]!, ref.dx, { rtol: 1e-4, atol: 1e-6, what: `${what} dx` });
  }
});

Deno.test("softmax with an HF attention mask: finfo.min, -inf, fully masked rows, overflow", async () => {
  const device = await testDevice();
  // Scores [B=3, H=2, Sq=4, Sk=5]; mask [3, 5]: batch 0 partly masked, batch 1 fully masked with
  // finfo.min, batch 2 fully masked with -inf. Some scores are huge negatives so that
  // scale·x + finfo.min overflows to -inf in f32.
  const [B, H, Sq, Sk] = [3, 2, 4, 5];
  const n = B * H * Sq * Sk;
  const x = randomArray(n, 1, -3, 3);
  x[2] = -1e36; // masked with finfo.min: the f32 sum overflows to -inf
  x[H * Sq * Sk + 2] = -1e36; // same, in a fully masked row
  x[3] = -1e36; // unmasked: just a zero probability
  x[n - 1] = -3e38;
  const mask = new Float32Array([
    ...[0, 0, FINFO_MIN, 0, FINFO_MIN],
    ...Array(Sk).fill(FINFO_MIN),
    ...Array(Sk).fill(-Infinity),
  ]);
  const scale = 0.5;
  for (const maskShape of [[B, Sk], [B, 1, 1, Sk]]) {
    const m = Tensor.from(device, mask, maskShape);
    const run = await forwardBackward(
      device,
      (t) => softmax(t, m, { scale }),
      [{ data: x, shape: [B, H, Sq, Sk] }],
    );
    m.dispose();
    const ref = reference(x, run.dy, Sk, scale, mask, H * Sq);
    assert.ok(run.y.every((v) => Number.isFinite(v)), "no NaN / inf");
    assertClose(run.y, ref.y, { rtol: 1e-5, atol: 1e-7, what: `mask [${maskShape}] y` });
    assertClose(run.grads[0]!, ref.dx, { rtol: 1e-4, atol: 1e-6, what: `mask [${maskShape}] dx` });
    // Masked positions of batch 0 are exactly 0; fully masked rows are uniform.
    assert.equal(run.y[2], 0);
    assert.equal(run.y[4], 0);
    for (let i = H * Sq * Sk; i < n; i++) assert.ok(Math.abs(run.y[i] - 1 / Sk) < 1e-6);
  }
});

Deno.test("softmax: finite differences with mask and scale, noGrad, errors", async () => {
  const device = await testDevice();
  const r = rng(5);
  const mask = Tensor.from(device, Array.from({ length: 2 * 6 }, () => r() < 0.3 ? -1e9 : 0), [
    2,
    6,
  ]);
  await gradcheck(device, (x) => softmax(x, mask, { scale: 0.7 }), [
    { data: randomArray(2 * 2 * 3 * 6, 2, -2, 2), shape: [2, 2, 3, 6] },
  ]);
  await gradcheck(device, (x) => softmax(x), [{ data: randomArray(3 * 7, 3), shape: [3, 7] }]);
  const x = Tensor.from(device, randomArray(2 * 6, 4), [2, 6], { requiresGrad: true });
  const y = noGrad(() => softmax(x, mask));
  assert.equal(device.memory.byCategory.activation, 0, "noGrad saves nothing");
  assert.throws(() => softmax(x, Tensor.from(device, [0, 0, 0], [1, 3])), /\[1,3\].*\[2,6\]/);
  const x4 = Tensor.from(device, new Float32Array(2 * 2 * 6), [2, 2, 1, 6]);
  const bad = Tensor.from(device, new Float32Array(2 * 2 * 6), [2, 2, 1, 6]);
  assert.throws(() => softmax(x4, bad), /mask \[2,2,1,6\] does not broadcast/);
  [x, y, x4, bad, mask].forEach((t) => t.dispose());
});
