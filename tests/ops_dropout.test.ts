import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { dropout, dropoutMask } from "../src/ops/dropout.ts";
import { tidy } from "../src/tensor/scope.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";

Deno.test("dropout: GPU mask = CPU mirror, kept fraction ≈ 1-p, backward reuses the mask", async () => {
  const device = await testDevice();
  // 1×1, 7×13, 65×127 (many workgroups), 3×300; a seed above 2³².
  const cases: [number[], number, number][] = [
    [[1, 1], 0.5, 1],
    [[7, 13], 0.1, 2],
    [[65, 127], 0.3, 3],
    [[3, 300], 0.9, 2 ** 40 + 5],
  ];
  for (const [shape, p, seed] of cases) {
    const n = shape[0] * shape[1];
    const x = randomArray(n, seed % 1000, 0.5, 2); // nonzero, so zeros mean "dropped"
    const run = await forwardBackward(device, (t) => dropout(t, p, seed), [{ data: x, shape }]);
    assert.equal(run.savedBytes, 0, "dropout saves nothing");
    const mask = dropoutMask(n, p, seed);
    const ey = new Float64Array(n);
    const edx = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ey[i] = mask[i] ? x[i] / (1 - p) : 0;
      edx[i] = mask[i] ? run.dy[i] / (1 - p) : 0;
    }
    const what = `[${shape}] p=${p}`;
    assertClose(run.y, ey, { rtol: 1e-6, atol: 0, what: `${what} y` });
    assertClose(run.grads[0]!, edx, { rtol: 1e-6, atol: 0, what: `${what} dx` });
    if (n > 1000) {
      const kept = mask.reduce((a, b) => a + b, 0) / n;
      assert.ok(Math.abs(kept - (1 - p)) < 0.02, `${what}: kept fraction ${kept}`);
    }
  }
});

Deno.test("dropout: seeds, p = 0 / eval is a view, p = 1, finite differences", async () => {
  const device = await testDevice();
  const n = 20000;
  const xs = Tensor.from(device, new Float32Array(n).fill(1), [n]);
  const [a, b, c, hi] = tidy(() => [
    dropout(xs, 0.25, 7),
    dropout(xs, 0.25, 7),
    dropout(xs, 0.25, 8),
    dropout(xs, 0.25, 7 + 2 ** 32),
  ]);
  const [va, vb, vc, vhi] = await Promise.all([a, b, c, hi].map((t) => t.toArray()));
  assert.deepEqual(va, vb, "same seed → same mask");
  const kept = Array.from(va).filter((v) => v !== 0).length / n;
  assert.ok(Math.abs(kept - 0.75) < 0.01, `kept fraction ${kept}`);
  const differ = (u: ArrayLike<number>) => Array.from(u).filter((v, i) => v !== va[i]).length;
  assert.ok(differ(vc) > n / 5, "another seed → another mask");
  assert.ok(differ(vhi) > n / 5, "the high 32 bits of the seed matter");
  [a, b, c, hi].forEach((t) => t.dispose());

  const x = Tensor.from(device, [1, 2, 3], [3], { requiresGrad: true });
  for (const y of [dropout(x, 0, 1), dropout(x, 0.5, 1, false)]) {
    assert.equal(y.buffer, x.buffer, "a view of x, no kernel");
    y.backward(tidy(() => Tensor.from(device, [4, 5, 6], [3])));
    assert.deepEqual(await x.grad!.toArray(), new Float32Array([4, 5, 6]));
    x.grad!.dispose();
    x.grad = null;
    y.dispose();
  }
  const zero = dropout(x, 1, 3);
  assert.deepEqual(await zero.toArray(), new Float32Array(3), "p = 1 gives zeros");
  zero.dispose();
  assert.throws(() => dropout(x, 1.5, 0), /p must be in \[0, 1\]/);
  assert.throws(() => dropout(x, 0.5, -1), /seed/);
  x.dispose();
  xs.dispose();

  await gradcheck(device, (t) => dropout(t, 0.4, 11), [
    { data: randomArray(7 * 13, 1), shape: [7, 13] },
  ]);
  assert.equal(device.memory.byCategory.activation, 0);
});
