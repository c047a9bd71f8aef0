import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { layerNorm } from "../src/ops/layernorm.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { tidy } from "../src/tensor/scope.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";
import { normReference } from "./helpers/norm_reference.ts";

Deno.test("layerNorm forward/backward match an f64 reference on awkward shapes", async () => {
  const device = await testDevice();
  const eps = 1e-5;
  // [rows, cols]: 1×1, not a multiple of 4, > 64-row chunks, > 256-thread workgroup, 3-D, C = 4096.
  const shapes = [[1, 1], [7, 13], [65, 127], [3, 300], [2, 3, 5], [2, 4096]];
  for (const [k, shape] of shapes.entries()) {
    const cols = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    // A row offset of 3 checks the two-pass variance.
    const x = randomArray(n, 10 + k, 2, 4);
    const w = randomArray(cols, 20 + k, 0.5, 1.5);
    const b = randomArray(cols, 30 + k);
    const run = await forwardBackward(
      device,
      (xt, wt, bt) => layerNorm(xt, wt, bt, eps),
      [
        { data: x, shape },
        { data: w, shape: [cols], category: "parameter" },
        { data: b, shape: [cols], category: "parameter" },
      ],
      { seed: 40 + k },
    );
    const ref = normReference("layernorm", x, w, b, run.dy, cols, eps);
    const what = `[${shape}]`;
    assert.deepEqual(run.shape, shape);
    // Saves x and stats [rows, 2]; weight and bias are parameters (not activations).
    assert.equal(run.savedBytes, (n + 2 * (n / cols)) * 4, `${what} saved bytes`);
    assertClose(run.y, ref.y, { rtol: 1e-4, atol: 1e-4, what: `${what} y` });
    assertClose(run.grads[0]!, ref.dx, { rtol: 1e-3, atol: 2e-4, what: `${what} dx` });
    assertClose(run.grads[1]!, ref.dw, { rtol: 1e-4, atol: 1e-4, what: `${what} dweight` });
    assertClose(run.grads[2]!, ref.db, { rtol: 1e-4, atol: 1e-4, what: `${what} dbias` });
  }
});

Deno.test("layerNorm: finite differences, determinism, noGrad and errors", async () => {
  const device = await testDevice();
  await gradcheck(device, (x, w, b) => layerNorm(x, w, b, 1e-5), [
    { data: randomArray(3 * 5, 1), shape: [3, 5] },
    { data: randomArray(5, 2, 0.5, 1.5), shape: [5] },
    { data: randomArray(5, 3), shape: [5] },
  ], { rtol: 3e-2, atol: 3e-3 });

  // dweight is bit-identical across runs (fixed-order column sums over 130 rows = 3 chunks).
  const x = Tensor.from(device, randomArray(130 * 9, 4), [130, 9]);
  const w = Tensor.from(device, randomArray(9, 5), [9], { requiresGrad: true });
  const b = Tensor.from(device, randomArray(9, 6), [9], { requiresGrad: true });
  const dw: Float32Array[] = [];
  for (let i = 0; i < 2; i++) {
    const y = tidy(() => layerNorm(x, w, b));
    y.backward(tidy(() => Tensor.from(device, randomArray(130 * 9, 7), [130, 9])));
    dw.push((await w.grad!.toArray()) as Float32Array);
    w.grad!.dispose();
    w.grad = null;
    b.grad!.dispose();
    b.grad = null;
    y.dispose();
  }
  assert.deepEqual(dw[0], dw[1]);
  assert.equal(device.memory.byCategory.activation, 0);

  const y = noGrad(() => layerNorm(x, w, b));
  assert.equal(y.requiresGrad, false);
  assert.equal(device.memory.byCategory.activation, 0, "noGrad saves nothing");
  y.dispose();
  assert.throws(() => layerNorm(x, b, Tensor.from(device, [1, 2], [2])), /\[2\].*\[9\]/);
  x.dispose();
  w.dispose();
  b.dispose();
});
