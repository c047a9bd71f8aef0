import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { add, gelu, mul, scale, sub, tanh } from "../src/ops/basic.ts";
import { mean, sum } from "../src/ops/reduce.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";

Deno.test("elementwise forward matches the CPU and backward accumulates into leaves", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  const xa = randomArray(7 * 13, 1);
  const ya = randomArray(13, 2);
  const x = Tensor.from(device, xa, [7, 13], { requiresGrad: true });
  const y = Tensor.from(device, ya, [13], { requiresGrad: true });
  const loss = tidy(() => sum(mul(add(x, y), tanh(x))));
  const expect = xa.reduce((s, v, i) => s + (v + ya[i % 13]) * Math.tanh(v), 0);
  assertClose([await loss.item()], [expect], { rtol: 1e-5, what: "loss" });
  assert.ok(device.memory.byCategory.activation > 0, "activations saved");
  loss.backward();
  assert.equal(device.memory.byCategory.activation, 0, "saved tensors released by backward");
  const gx = await x.grad!.toArray();
  const gy = await y.grad!.toArray();
  const ex = new Float32Array(xa.length);
  const ey = new Float32Array(13);
  xa.forEach((v, i) => {
    const t = Math.tanh(v);
    ex[i] = t + (v + ya[i % 13]) * (1 - t * t);
    ey[i % 13] += t;
  });
  assertClose(gx, ex, { rtol: 1e-5, what: "dx" });
  assertClose(gy, ey, { rtol: 1e-5, what: "dy" });
  assert.equal(device.memory.byCategory.gradient, (91 + 13) * 4);
  loss.dispose();
  x.grad!.dispose();
  y.grad!.dispose();
  x.dispose();
  y.dispose();
  assert.equal(device.memory.liveBytes, base, "live bytes back to baseline");
});

Deno.test("noGrad records nothing and a second backward is an error", async () => {
  const device = await testDevice();
  const x = Tensor.from(device, [1, 2, 3], [3], { requiresGrad: true });
  const y = noGrad(() => gelu(x));
  assert.equal(y.requiresGrad, false);
  assert.equal(device.memory.byCategory.activation, 0);
  const l = mean(gelu(scale(sub(x, x), 2)));
  l.backward();
  assert.throws(() => l.backward(), /second time/);
  assert.throws(() => y.backward(), /does not require grad/);
  [x, y, l, x.grad!].forEach((t) => t.dispose());
});

import { gradcheck } from "./helpers/gradcheck.ts";

Deno.test("finite differences: add, sub, mul, scale, tanh, gelu, relu, sum, mean", async () => {
  const device = await testDevice();
  const { relu } = await import("../src/ops/basic.ts");
  const a = { data: randomArray(3 * 5, 11), shape: [3, 5] };
  const b = { data: randomArray(5, 12), shape: [5] };
  const c = { data: randomArray(3 * 5, 13), shape: [3, 5] };
  await gradcheck(device, (x, y) => add(x, y), [a, b]);
  await gradcheck(device, (x, y) => sub(x, y), [a, b]);
  await gradcheck(device, (x, y) => mul(x, y), [a, c]);
  await gradcheck(device, (x, y) => mul(x, y), [a, b]);
  await gradcheck(device, (x) => scale(x, -1.5, 0.25), [a]);
  await gradcheck(device, (x) => tanh(x), [a]);
  await gradcheck(device, (x) => gelu(scale(x, 3)), [a]);
  await gradcheck(device, (x) => relu(x), [{ data: randomArray(15, 14, 0.1, 1), shape: [15] }]);
  await gradcheck(device, (x) => sum(x), [a]);
  await gradcheck(device, (x) => mean(x), [a]);
});

Deno.test("a graph discarded without backward frees its saved tensors", async () => {
  const device = await testDevice();
  const x = Tensor.from(device, randomArray(12, 3), [3, 4], { requiresGrad: true });
  const y = tidy(() => mean(tanh(mul(x, x))));
  assert.ok(device.memory.byCategory.activation > 0);
  y.dispose();
  assert.equal(device.memory.byCategory.activation, 0);
  x.dispose();
});
