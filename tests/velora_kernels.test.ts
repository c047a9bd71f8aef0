import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { initV, project, weightGrad } from "../src/velora/projection.ts";
import { assertClose, testDevice } from "./helpers/gpu.ts";
import { loadVeLoRACases } from "./helpers/velora_cases.ts";

const { cases, tensor: get } = await loadVeLoRACases();

Deno.test("VeLoRA kernels match the PyTorch reference of the official algorithm", async () => {
  const device = await testDevice();
  for (const [name, c] of Object.entries(cases)) {
    const s = { dim: c.in_features, groups: c.num_groups, sub: c.sub_token_size };
    const x = Tensor.from(device, get(`${name}.x`), [c.tokens, s.dim]);
    const dy = Tensor.from(device, get(`${name}.dY`), [c.tokens, c.out_features]);
    const v = Tensor.empty(device, [s.sub]);
    const fallback = Tensor.from(device, new Float32Array(s.sub).fill(1 / Math.sqrt(s.sub)), [
      s.sub,
    ]);
    const flag = Tensor.from(device, new Int32Array(1), [1]);
    initV(x, s, v, fallback, flag, { mode: "set" });
    const z = project(x, s, v);
    const dw = weightGrad(dy, z, v, s, c.out_features, c.scale);
    assertClose(await v.toArray(), get(`${name}.v`), { rtol: 1e-5, atol: 1e-6, what: `${name} v` });
    // z is f16: allow one half-precision ulp where the f32 dot product lands near a rounding edge.
    const zRef = get(`${name}.z`);
    const zGot = await z.toArray();
    zGot.forEach((val, i) => {
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(zRef[i]) || 2 ** -14)) - 10);
      assert.ok(Math.abs(val - zRef[i]) <= ulp * 1.01, `${name} z[${i}] ${val} vs ${zRef[i]}`);
    });
    const ref = get(`${name}.dW`);
    const bound = get(`${name}.dW_z_ulp_bound`);
    const maxRef = ref.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
    const got = await dw.toArray();
    got.forEach((val, i) => {
      const tol = (bound.length === ref.length ? bound[i] : bound[0]) + 1e-5 * maxRef;
      assert.ok(Math.abs(val - ref[i]) <= tol, `${name} dW[${i}] ${val} vs ${ref[i]} (tol ${tol})`);
    });
    assert.equal(await flag.item(), 0);
    [x, dy, v, fallback, flag, z, dw].forEach((t) => t.dispose());
  }
});

Deno.test("VeLoRA init falls back to the random unit vector when the mean is ~0", async () => {
  const device = await testDevice();
  const s = { dim: 6, groups: 2, sub: 3 };
  const x = Tensor.from(device, [1, -1, 2, -1, 1, -2], [1, 6]);
  const v = Tensor.empty(device, [3]);
  const fb = Tensor.from(device, [0.6, 0.8, 0], [3]);
  const flag = Tensor.from(device, new Int32Array(1), [1]);
  initV(x, s, v, fb, flag, { mode: "set", eps: 1e-6 });
  assertClose(await v.toArray(), [0.6, 0.8, 0]);
  assert.equal(await flag.item(), 1);
  [x, v, fb, flag].forEach((t) => t.dispose());
});
