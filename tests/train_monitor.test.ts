import assert from "node:assert/strict";
import { testDevice } from "./helpers/gpu.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { describeFlags, NON_FINITE, TrainingMonitor } from "../src/train/monitor.ts";

Deno.test("TrainingMonitor flags Inf/NaN anywhere in awkward sizes and sums losses as f64 would", async () => {
  const device = await testDevice();
  const cases: [number, number, number][] = [
    [1, 0, NaN],
    [13, 12, Infinity],
    [65 * 127, 65 * 127 - 1, -Infinity],
    [257, 256, NaN],
  ];
  for (const [n, at, bad] of cases) {
    const m = new TrainingMonitor(device);
    const data = Float32Array.from({ length: n }, (_, i) => (i % 7) * 1e37 - 3e38 * (i % 2));
    data[0] = 3.4028234e38; // the largest finite f32 is finite
    if (n > 1) data[1] = 1e-45; // a subnormal too
    const clean = Tensor.from(device, data, [n]);
    m.checkFinite(clean, NON_FINITE.parameter);
    assert.equal((await m.read()).flags, 0, `n=${n}: finite values flagged`);
    data[at] = bad;
    const dirty = Tensor.from(device, data, [n]);
    m.checkFinite(dirty, NON_FINITE.gradNorm);
    assert.equal((await m.read()).flags, NON_FINITE.gradNorm, `n=${n}: ${bad} at ${at}`);
    clean.dispose();
    dirty.dispose();
    m.dispose();
  }
  const m = new TrainingMonitor(device);
  const values = [0.693, 0.5, 1.25, 3e-3];
  const losses = values.map((v) => Tensor.from(device, [v], []));
  for (const l of losses) m.addLoss(l);
  const r = await m.read();
  assert.ok(Math.abs(r.lossSum - values.reduce((a, b) => a + b)) < 1e-6);
  assert.equal(r.flags, 0);
  m.resetLoss();
  m.addLoss(losses[1]);
  assert.equal((await m.read()).lossSum, 0.5);
  const nan = Tensor.from(device, [NaN], []);
  m.addLoss(nan);
  const after = await m.read();
  assert.equal(after.flags, NON_FINITE.loss);
  assert.equal(
    describeFlags(after.flags | NON_FINITE.parameter),
    "the loss, parameters after the optimizer step",
  );
  for (const t of [...losses, nan]) t.dispose();
  m.dispose();
});
