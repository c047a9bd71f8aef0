import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { clip_grad_norm_, clipGradNorm, clipGradNormCoef } from "../src/optim/clip.ts";
import {
  get_linear_schedule_with_warmup,
  getLinearScheduleWithWarmup,
  LambdaLR,
} from "../src/optim/schedule.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";

/** torch.optim.AdamW (amsgrad=False) for one parameter, in f64. */
class RefAdamW {
  m: Float64Array;
  v: Float64Array;
  t = 0;
  constructor(public p: Float64Array) {
    this.m = new Float64Array(p.length);
    this.v = new Float64Array(p.length);
  }
  step(g: ArrayLike<number>, lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8) {
    this.t++;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    for (let i = 0; i < this.p.length; i++) {
      this.p[i] *= 1 - lr * wd;
      this.m[i] = b1 * this.m[i] + (1 - b1) * g[i];
      this.v[i] = b2 * this.v[i] + (1 - b2) * g[i] * g[i];
      const mhat = this.m[i] / bc1;
      const vhat = this.v[i] / bc2;
      this.p[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
    }
  }
}

function setGrad(p: Tensor, data: Float32Array | null): void {
  p.grad?.dispose();
  p.grad = data ? Tensor.from(p.device, data, p.shape, { category: "gradient" }) : null;
}

Deno.test("AdamW matches the PyTorch update formula in f64 for 3 steps", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  const shapes = [[7], [2, 3], [5, 4]];
  const init = shapes.map((s, i) => randomArray(s.reduce((a, b) => a * b), 100 + i, -2, 2));
  const params = init.map((d, i) =>
    Tensor.from(device, d, shapes[i], { category: "parameter", requiresGrad: true })
  );
  const refs = init.map((d) => new RefAdamW(Float64Array.from(d)));
  const wd = 0.1;
  const opt = new AdamW(params.map((p, i) => [`p${i}`, p] as const), { weight_decay: wd });
  assert.equal(opt.lr, 1e-3);
  const lrs = [0.1, 0.05, 0.02];
  const scale = 0.5; // step 3 multiplies every gradient by a GPU scalar
  const scaleT = Tensor.from(device, [scale], []);
  for (let step = 0; step < 3; step++) {
    if (step === 0) opt.lr = lrs[0];
    else opt.param_groups[0].lr = lrs[step];
    params.forEach((p, i) => {
      // Parameter 1 has no gradient in step 2: skipped, its step count stays.
      const g = step === 1 && i === 1 ? null : randomArray(p.numel, 10 * step + i, -3, 3);
      setGrad(p, g);
      if (g) {
        refs[i].step(g.map((x) => (step === 2 ? x * scale : x)), lrs[step], wd);
      }
    });
    opt.step(step === 2 ? { gradScale: scaleT } : {});
    if (step === 0) {
      const stateBytes = 2 * 4 * params.reduce((s, p) => s + p.numel, 0);
      assert.equal(device.memory.byCategory.optimizer, stateBytes, "m and v allocated lazily");
    }
  }
  assert.equal(opt.getState(params[1])!.step, 2);
  assert.equal(opt.getState(params[0])!.step, 3);
  for (let i = 0; i < params.length; i++) {
    assertClose(await params[i].toArray(), refs[i].p, { rtol: 1e-6, atol: 1e-6, what: `p${i}` });
    const st = opt.getState(params[i])!;
    assertClose(await st.exp_avg.toArray(), refs[i].m, { rtol: 1e-6, atol: 1e-6, what: `m${i}` });
    assertClose(await st.exp_avg_sq.toArray(), refs[i].v, {
      rtol: 1e-6,
      atol: 1e-7,
      what: `v${i}`,
    });
  }
  opt.zero_grad();
  assert.ok(params.every((p) => p.grad === null));
  assert.equal(device.memory.byCategory.gradient, 0);
  opt.dispose();
  assert.equal(device.memory.byCategory.optimizer, 0);
  params.forEach((p) => p.dispose());
  scaleT.dispose();
  assert.equal(device.memory.liveBytes, base);
});

Deno.test("AdamW steps create no GPU buffers after the first (per-step scalars reuse one buffer)", async () => {
  // Issue 12: bias corrections and a scheduled lr change every step; as uniforms (cached by
  // value) they made a new GPU buffer per parameter size and step.
  const device = await testDevice();
  const params = [[7], [2, 3], [5, 4]].map((shape, i) => {
    const n = shape.reduce((a, b) => a * b);
    const p = Tensor.from(device, randomArray(n, 200 + i, -1, 1), shape, {
      category: "parameter",
      requiresGrad: true,
    });
    setGrad(p, randomArray(n, 300 + i, -1, 1));
    return p;
  });
  const opt = new AdamW(params, { weight_decay: 0.01 });
  const clip = Tensor.from(device, [0.5], []);
  opt.step({ gradScale: clip });
  const buffers = device.buffersCreated;
  const uniformBytes = device.memory.uniformBytes;
  const live = device.memory.liveBytes;
  for (let step = 1; step <= 25; step++) {
    opt.lr = 1e-3 * (1 - step / 30); // a linear decay, as the trainer's schedule
    opt.step({ gradScale: clip });
  }
  await device.sync();
  assert.equal(device.buffersCreated - buffers, 0, "GPU buffers created by 25 more steps");
  assert.equal(device.memory.uniformBytes, uniformBytes, "uniform bytes stay constant");
  assert.equal(device.memory.liveBytes, live);
  opt.zero_grad();
  opt.dispose();
  clip.dispose();
  params.forEach((p) => p.dispose());
});

Deno.test("AdamW state_dict / load_state_dict resumes exactly", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  const shapes = [[3, 4], [4]];
  const data = shapes.map((s, i) => randomArray(s[0] * (s[1] ?? 1), 200 + i));
  const make = () =>
    data.map((d, i) =>
      Tensor.from(device, d, shapes[i], { category: "parameter", requiresGrad: true })
    );
  const a = make();
  const optA = new AdamW(
    [{ params: [["w", a[0]] as const], weight_decay: 0.05 }, {
      params: [["b", a[1]] as const],
      weight_decay: 0,
    }],
    { lr: 0.01 },
  );
  const grads = (s: number) => data.map((d, i) => randomArray(d.length, 300 + 10 * s + i));
  for (let s = 0; s < 2; s++) {
    a.forEach((p, i) => setGrad(p, s === 1 && i === 1 ? null : grads(s)[i]));
    optA.step();
  }
  const sd = await optA.state_dict();
  assert.deepEqual(sd.param_groups.map((g) => g.params), [[0], [1]]);
  assert.deepEqual(sd.param_groups.map((g) => g.param_names), [["w"], ["b"]]);
  assert.deepEqual(Object.keys(sd.state), ["0", "1"]);
  assert.equal(sd.state[0].step, 2);
  assert.equal(sd.state[1].step, 1);
  // A fresh optimizer on a copy of the parameters, restored from the (JSON round-tripped) dict.
  const b = make();
  const values = await Promise.all(a.map((p) => p.toArray()));
  b.forEach((p, i) => device.write(p.buffer, values[i]));
  const optB = new AdamW(
    [{ params: [["w", b[0]] as const] }, { params: [["b", b[1]] as const] }],
    { lr: 0.5 },
  );
  const json = JSON.parse(JSON.stringify(sd, (_k, v) => v instanceof Float32Array ? [...v] : v));
  optB.load_state_dict(json);
  assert.equal(optB.lr, 0.01, "hyperparameters restored");
  assert.equal(optB.param_groups[1].weight_decay, 0);
  for (const [ps, opt] of [[a, optA], [b, optB]] as const) {
    ps.forEach((p, i) => setGrad(p, grads(2)[i]));
    opt.step();
  }
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await b[i].toArray(), await a[i].toArray(), `param ${i} identical`);
  }
  assert.throws(
    () => optB.load_state_dict({ ...sd, param_groups: [sd.param_groups[0]] }),
    /2 parameter groups|1 parameter groups/,
  );
  const renamed = structuredClone(sd);
  renamed.param_groups[0].param_names = ["other"];
  assert.throws(() => optB.load_state_dict(renamed), /"other" in the state dict/);
  for (const opt of [optA, optB]) {
    opt.zero_grad();
    opt.dispose();
  }
  [...a, ...b].forEach((p) => p.dispose());
  assert.equal(device.memory.liveBytes, base);
});

Deno.test("clip_grad_norm_ matches a CPU reference, clipped and not clipped", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  // One gradient spans several 65536-element chunks; one parameter has no gradient.
  const sizes = [70001, 13, 1];
  const params = sizes.map((n) =>
    Tensor.from(device, new Float32Array(n), [n], { requiresGrad: true })
  );
  const none = Tensor.from(device, [1, 2], [2], { requiresGrad: true });
  const gdata = sizes.map((n, i) => randomArray(n, 400 + i, -0.01, 0.01));
  gdata[1] = randomArray(13, 410, -2, 2);
  let sq = 0;
  for (const g of gdata) for (const x of g) sq += x * x;
  const norm = Math.sqrt(sq);

  // Not clipped: max_norm above the norm leaves the gradients unchanged.
  params.forEach((p, i) => setGrad(p, gdata[i]));
  const n1 = clip_grad_norm_([...params, none], norm * 1.5);
  // Clipped (camelCase alias, named parameters): coefficient max_norm / (norm + 1e-6).
  const maxNorm = norm / 4;
  const coefRef = maxNorm / (norm + 1e-6);
  const before = await Promise.all(params.map((p) => p.grad!.toArray()));
  const n2 = clipGradNorm(params.map((p, i) => [`p${i}`, p] as const), maxNorm);
  const after = await Promise.all(params.map((p) => p.grad!.toArray()));
  assertClose([await n1.item(), await n2.item()], [norm, norm], { rtol: 1e-5, what: "norm" });
  before.forEach((g, i) => assertClose(g, gdata[i], { rtol: 0, atol: 0, what: `unclipped g${i}` }));
  after.forEach((g, i) =>
    assertClose(g, gdata[i].map((x) => x * coefRef), { rtol: 1e-6, atol: 1e-9, what: `g${i}` })
  );
  // The coefficient alone (grads now have norm maxNorm: coefficient 1 below, 0.5 above).
  const c = clipGradNormCoef(params, maxNorm / 2);
  assertClose([await c.totalNorm.item(), await c.clipCoef.item()], [maxNorm, 0.5], {
    rtol: 1e-5,
    what: "coef",
  });
  [n1, n2, c.totalNorm, c.clipCoef].forEach((t) => t.dispose());
  const empty = clip_grad_norm_([none], 1);
  assert.equal(await empty.item(), 0);
  empty.dispose();
  for (const p of [...params, none]) {
    p.grad?.dispose();
    p.dispose();
  }
  assert.equal(device.memory.liveBytes, base);
});

Deno.test("linear warmup schedule matches HF and LambdaLR sets the optimizer lr", async () => {
  const f = getLinearScheduleWithWarmup(2, 10);
  const got = Array.from({ length: 12 }, (_, s) => f(s));
  const want = [0, 0.5, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8, 0, 0];
  assertClose(got, want, { rtol: 0, atol: 1e-12, what: "multiplier" });
  assert.equal(getLinearScheduleWithWarmup(0, 4)(0), 1);
  assert.equal(getLinearScheduleWithWarmup(0, 0)(3), 0);

  const opt = {
    param_groups: [{ lr: 1e-3 }, { lr: 2e-3 }] as { lr: number; initial_lr?: number }[],
  };
  const sched = get_linear_schedule_with_warmup(opt, 2, 10);
  assert.deepEqual(sched.get_last_lr(), [0, 0], "step 0 applied on construction (as PyTorch)");
  sched.step();
  assertClose(sched.get_last_lr(), [5e-4, 1e-3], { what: "lr after 1 step" });
  sched.step();
  sched.step();
  assertClose(opt.param_groups.map((g) => g.lr), [8.75e-4, 1.75e-3], { what: "lr after 3" });
  assert.deepEqual(opt.param_groups.map((g) => g.initial_lr), [1e-3, 2e-3]);
  const saved = sched.state_dict();
  const opt2 = { param_groups: [{ lr: 5 }, { lr: 5 }] as { lr: number; initial_lr?: number }[] };
  const resumed = new LambdaLR(opt2, f);
  resumed.load_state_dict(saved);
  assert.deepEqual(opt2.param_groups.map((g) => g.lr), opt.param_groups.map((g) => g.lr));

  // With AdamW: the scheduler drives param_groups[i].lr, which the next step uses.
  const device = await testDevice();
  const p = Tensor.from(device, [1], [1], { category: "parameter", requiresGrad: true });
  const adam = new AdamW([p], { lr: 0.1, weight_decay: 0 });
  const s2 = get_linear_schedule_with_warmup(adam, 1, 3);
  assert.equal(adam.lr, 0);
  setGrad(p, Float32Array.of(1));
  adam.step(); // lr 0: no change
  s2.step();
  assert.equal(adam.lr, 0.1);
  adam.step(); // second step: m̂/√v̂ = 1, so p ← p − 0.1
  assertClose(await p.toArray(), [0.9], { rtol: 0, atol: 1e-6, what: "p after 2 steps" });
  adam.zero_grad();
  adam.dispose();
  p.dispose();
});
