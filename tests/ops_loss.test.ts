import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { crossEntropy, mseLoss } from "../src/ops/loss.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { tidy } from "../src/tensor/scope.ts";
import { assertClose, randomArray, rng, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";

/** f64 cross-entropy (mean over non-ignored rows) and dlogits for an upstream gradient g. */
function ceReference(x: Float32Array, labels: Int32Array, cols: number, g: number, ignore = -100) {
  const rows = labels.length;
  const dx = new Float64Array(x.length);
  let total = 0;
  let count = 0;
  const lse: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
    const m = Math.max(...row);
    lse.push(m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)));
    if (labels[r] === ignore) continue;
    total += lse[r] - row[labels[r]];
    count++;
  }
  for (let r = 0; r < rows; r++) {
    if (labels[r] === ignore) continue;
    for (let c = 0; c < cols; c++) {
      const p = Math.exp(x[r * cols + c] - lse[r]);
      dx[r * cols + c] = g * (p - (c === labels[r] ? 1 : 0)) / count;
    }
  }
  return { loss: total / count, dx };
}

Deno.test("crossEntropy matches an f64 reference (ignored rows, large logits)", async () => {
  const device = await testDevice();
  // [N, C]; 3×300 has C above the workgroup; logits offset by 1000 test the stable log-softmax.
  const shapes = [[1, 1], [7, 13], [65, 127], [3, 300], [4, 2]];
  for (const [k, [rows, cols]] of shapes.entries()) {
    const r = rng(k + 1);
    const x = randomArray(rows * cols, 10 + k, -5, 5);
    if (k === 4) x.forEach((v, i) => x[i] = v + 1000);
    const labels = Int32Array.from(
      { length: rows },
      (_, i) => (i % 3 === 2 ? -100 : Math.floor(r() * cols)),
    );
    const g = 0.75;
    const run = await forwardBackward(device, (l, y) => crossEntropy(l, y), [
      { data: x, shape: [rows, cols] },
      { data: labels, shape: [rows] },
    ], { dyData: new Float32Array([g]) });
    const ref = ceReference(x, labels, cols, g);
    const what = `[${rows}, ${cols}]`;
    assert.deepEqual(run.shape, []);
    // Saves logits, labels and stats [N + 1].
    assert.equal(run.savedBytes, (rows * cols + rows + rows + 1) * 4, `${what} saved bytes`);
    assertClose(run.y, [ref.loss], { rtol: 1e-5, atol: 1e-5, what: `${what} loss` });
    assertClose(run.grads[0]!, ref.dx, { rtol: 1e-4, atol: 1e-6, what: `${what} dlogits` });
    assert.equal(run.grads[1], null);
  }
});

Deno.test("crossEntropy: all ignored → NaN with zero gradient, bad label → NaN, ignoreIndex", async () => {
  const device = await testDevice();
  const x = randomArray(3 * 4, 1);
  const allIgnored = await forwardBackward(device, (l, y) => crossEntropy(l, y), [
    { data: x, shape: [3, 4] },
    { data: new Int32Array([-100, -100, -100]), shape: [3] },
  ]);
  assert.ok(Number.isNaN(allIgnored.y[0]), "PyTorch gives NaN (0/0)");
  assert.ok(allIgnored.grads[0]!.every((v) => v === 0));
  const bad = await forwardBackward(device, (l, y) => crossEntropy(l, y), [
    { data: x, shape: [3, 4] },
    { data: new Int32Array([0, 4, 1]), shape: [3] },
  ]);
  assert.ok(Number.isNaN(bad.y[0]), "out-of-range label → NaN loss");
  const custom = await forwardBackward(device, (l, y) => crossEntropy(l, y, { ignoreIndex: 2 }), [
    { data: x, shape: [3, 4] },
    { data: new Int32Array([2, 3, 2]), shape: [3] },
  ], { dyData: new Float32Array([1]) });
  const ref = ceReference(x, new Int32Array([2, 3, 2]), 4, 1, 2);
  assertClose(custom.y, [ref.loss], { rtol: 1e-5, what: "ignoreIndex 2" });
  assertClose(custom.grads[0]!, ref.dx, { rtol: 1e-4, atol: 1e-6, what: "ignoreIndex 2 grad" });

  const labels = Tensor.from(device, new Int32Array([1, -100, 0, 2]), [2, 2]);
  await gradcheck(device, (l) => crossEntropy(l, labels), [
    { data: randomArray(2 * 2 * 3, 2, -2, 2), shape: [2, 2, 3] },
  ]);
  const l = Tensor.from(device, x, [3, 4], { requiresGrad: true });
  tidy(() => noGrad(() => crossEntropy(l, Tensor.from(device, new Int32Array(3), [3]))));
  assert.equal(device.memory.byCategory.activation, 0, "noGrad saves nothing");
  assert.throws(() => crossEntropy(l, labels), /labels \[2,2\].*logits \[3,4\]/);
  assert.throws(() => crossEntropy(l, l), /labels must be i32/);
  l.dispose();
  labels.dispose();
});

Deno.test("mseLoss matches an f64 reference and passes finite differences", async () => {
  const device = await testDevice();
  for (const [k, shape] of [[1], [7, 13], [65, 127], [3, 300]].entries()) {
    const n = shape.reduce((a, b) => a * b, 1);
    const p = randomArray(n, 10 + k, -3, 3);
    const t = randomArray(n, 20 + k, -3, 3);
    const g = 1.5;
    const run = await forwardBackward(device, (a, b) => mseLoss(a, b), [
      { data: p, shape },
      { data: t, shape },
    ], { dyData: new Float32Array([g]) });
    let loss = 0;
    const dp = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      loss += (p[i] - t[i]) ** 2 / n;
      dp[i] = 2 * g * (p[i] - t[i]) / n;
    }
    const what = `[${shape}]`;
    assert.equal(run.savedBytes, n * 4, `${what} saves pred − target only`);
    assertClose(run.y, [loss], { rtol: 1e-5, what: `${what} loss` });
    assertClose(run.grads[0]!, dp, { rtol: 1e-5, atol: 1e-8, what: `${what} dpred` });
    assertClose(run.grads[1]!, dp.map((v) => -v), { rtol: 1e-5, atol: 1e-8, what: `${what} dt` });
  }
  await gradcheck(device, (a, b) => mseLoss(a, b), [
    { data: randomArray(6, 1), shape: [6] },
    { data: randomArray(6, 2), shape: [6] },
  ]);
  const a = Tensor.from(device, [1, 2], [2]);
  const b = Tensor.from(device, [1, 2], [2, 1]);
  assert.throws(() => mseLoss(a, b), /pred \[2\] and target \[2,1\]/);
  a.dispose();
  b.dispose();
});
