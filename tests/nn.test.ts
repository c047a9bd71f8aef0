import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { mul, tanh } from "../src/ops/basic.ts";
import { sum } from "../src/ops/reduce.ts";
import { crossEntropy } from "../src/ops/loss.ts";
import type { Device } from "../src/runtime/device.ts";
import {
  Dropout,
  Embedding,
  init,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  parameter,
} from "../src/nn/mod.ts";
import { nn } from "../mod.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { assertClose, randomArray, rng, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";

class SelfAttn extends Module {
  query: Linear;
  key: Linear;
  constructor(device: Device, d: number) {
    super();
    this.query = new Linear(device, d, d, { seed: 1 });
    this.key = new Linear(device, d, d, { seed: 2, bias: false });
  }
}

class Block extends Module {
  attention: SelfAttn;
  output: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  gamma: Tensor;
  /** Not a parameter: a workspace tensor kept on the module. */
  cache: Tensor;
  declare parent: Module;
  constructor(device: Device, d: number, parent: Module) {
    super();
    this.attention = new SelfAttn(device, d);
    this.output = new Linear(device, d, 3, { seed: 3 });
    this.LayerNorm = new LayerNorm(device, 3);
    this.dropout = new Dropout(0.1);
    // Registered after the children: own parameters still come first, as in PyTorch.
    this.gamma = this.registerParameter("gamma", Tensor.from(device, [1, 2], [2]));
    this.cache = Tensor.from(device, [0], [1]);
    Object.defineProperty(this, "parent", { value: parent, enumerable: false });
  }
  override dispose(): void {
    this.cache.dispose();
    super.dispose();
  }
}

class Encoder extends Module {
  layer: ModuleList<Block>;
  constructor(device: Device, d: number, n: number, root: Module) {
    super();
    this.layer = new ModuleList(Array.from({ length: n }, () => new Block(device, d, root)));
  }
}

class Toy extends Module {
  embeddings: Embedding;
  encoder: Encoder;
  heads: Linear[];
  decoder: Linear;
  constructor(device: Device, seed = 0) {
    super();
    this.embeddings = new Embedding(device, 5, 4, { padding_idx: -1, seed });
    this.encoder = new Encoder(device, 4, 2, this);
    this.heads = [new Linear(device, 3, 2, { seed: seed + 1 })];
    // Tied to the embedding table, like BERT's MLM decoder.
    this.decoder = new Linear(device, 4, 5, { seed: seed + 2 });
    this.decoder.weight.dispose();
    this.decoder.weight = this.embeddings.weight;
    this.registerBuffer("position_ids", Tensor.from(device, new Int32Array([0, 1, 2]), [3]));
  }
}

const BLOCK = (p: string) => [
  `${p}.gamma`,
  `${p}.attention.query.weight`,
  `${p}.attention.query.bias`,
  `${p}.attention.key.weight`,
  `${p}.output.weight`,
  `${p}.output.bias`,
  `${p}.LayerNorm.weight`,
  `${p}.LayerNorm.bias`,
];

Deno.test("named_parameters / named_modules / state_dict names with nesting and ModuleList", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  const m = new Toy(device);
  const params = [
    "embeddings.weight",
    ...BLOCK("encoder.layer.0"),
    ...BLOCK("encoder.layer.1"),
    "heads.0.weight",
    "heads.0.bias",
    "decoder.bias",
  ];
  assert.deepEqual([...m.named_parameters()].map(([n]) => n), params);
  assert.equal([...m.parameters()].length, params.length);
  assert.deepEqual([...m.named_modules()].map(([n]) => n), [
    "",
    "embeddings",
    "encoder",
    "encoder.layer",
    ...[0, 1].flatMap((i) => {
      const p = `encoder.layer.${i}`;
      return [
        p,
        `${p}.attention`,
        `${p}.attention.query`,
        `${p}.attention.key`,
        `${p}.output`,
        `${p}.LayerNorm`,
        `${p}.dropout`,
      ];
    }),
    "heads.0",
    "decoder",
  ]);
  // state_dict lists the tied weight under both names, and the persistent buffer.
  const sd = m.state_dict();
  assert.deepEqual([...sd.keys()], [
    "position_ids",
    ...params.slice(0, -1),
    "decoder.weight",
    "decoder.bias",
  ]);
  assert.equal(sd.get("decoder.weight"), sd.get("embeddings.weight"));
  assert.equal(m.get_parameter("encoder.layer.1.attention.query.bias").shape[0], 4);
  assert.ok(m.get_submodule("encoder.layer.0") instanceof Block);
  assert.throws(() => m.get_submodule("encoder.nope"), /no submodule "nope"/);
  const emb = await m.embeddings.weight.toArray();
  assert.deepEqual([...emb.slice(16)], [0, 0, 0, 0], "padding_idx row (−1 → 4) is zero");
  assert.equal(m.embeddings.padding_idx, 4);
  assert.equal(m.num_parameters(), 20 + 2 * (2 + 20 + 16 + 15 + 6) + 8 + 5);
  const layers = m.encoder.layer;
  assert.equal(layers.length, 2);
  assert.equal(layers.at(-1), layers[1]);
  assert.deepEqual([...layers], [layers[0], layers[1]]);
  assert.ok(nn.Linear === Linear && nn.ModuleList === ModuleList);

  // train/eval reach every module, and Dropout is the identity in eval.
  m.eval();
  assert.ok([...m.modules()].every((x) => !x.training));
  const x = Tensor.from(device, [1, 2, 3], [3]);
  const y = m.encoder.layer[0].dropout.forward(x);
  assert.deepEqual([...await y.toArray()], [1, 2, 3]);
  m.encoder.train();
  assert.ok(!m.training && m.encoder.training && m.encoder.layer[1].dropout.training);
  m.train();
  assert.ok([...m.modules()].every((x) => x.training));
  [x, y].forEach((t) => t.dispose());

  m.dispose();
  assert.equal(device.memory.liveBytes, base, "dispose frees parameters, buffers and caches");
});

Deno.test("state_dict / load_state_dict round trip and strict errors", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  const a = new Toy(device, 10);
  const b = new Toy(device, 20);
  const read = async (m: Module) => {
    // All readbacks queued at once: one GPU wait.
    const entries = [...m.state_dict()];
    const values = await Promise.all(entries.map(([, t]) => t.toArray()));
    return Object.fromEntries(entries.map(([k], i) => [k, values[i]]));
  };
  const va = await read(a);
  assert.notDeepEqual(await read(b), va);
  // Tensors (GPU copies).
  b.load_state_dict(a.state_dict());
  assert.deepEqual(await read(b), va);
  // Typed arrays and {shape, data} records into a third model.
  const c = new Toy(device, 30);
  const mixed: Record<string, Float32Array | Int32Array | { shape: number[]; data: Float32Array }> =
    {
      ...va,
    };
  mixed["heads.0.weight"] = { shape: [2, 3], data: va["heads.0.weight"] as Float32Array };
  assert.deepEqual(c.load_state_dict(mixed), { missing_keys: [], unexpected_keys: [] });
  assert.deepEqual(await read(c), va);

  // Strict: missing, unexpected and mismatched names, all in one error; nothing is copied.
  const bad = new Map(Object.entries(mixed));
  bad.delete("decoder.bias");
  bad.delete("encoder.layer.1.gamma");
  bad.set("encoder.layer.9.gamma", new Float32Array(2));
  bad.set("heads.0.bias", new Float32Array(3));
  bad.set("encoder.layer.0.output.weight", { shape: [4, 3], data: new Float32Array(12) });
  const before = await read(b);
  assert.throws(() => b.load_state_dict(bad), (e: Error) => {
    for (
      const s of [
        "Error(s) in loading state_dict for Toy",
        'Missing key(s) in state_dict: "encoder.layer.1.gamma", "decoder.bias".',
        'Unexpected key(s) in state_dict: "encoder.layer.9.gamma".',
        "size mismatch for encoder.layer.0.output.weight: copying a param with shape [4, 3] " +
        "from checkpoint, the shape in current model is [3, 4].",
        "size mismatch for heads.0.bias: copying a param with 3 elements",
      ]
    ) assert.ok(e.message.includes(s), `message lacks ${s}:\n${e.message}`);
    return true;
  });
  assert.deepEqual(await read(b), before, "a failed load changes nothing");
  // Non-strict still refuses shape mismatches...
  assert.throws(
    () => b.load_state_dict(bad, { strict: false }),
    /size mismatch for heads\.0\.bias/,
  );
  // ...and otherwise returns the incompatible keys.
  bad.delete("heads.0.bias");
  bad.delete("encoder.layer.0.output.weight");
  const res = b.load_state_dict(bad, { strict: false });
  assert.deepEqual(res, {
    missing_keys: [
      "encoder.layer.0.output.weight",
      "encoder.layer.1.gamma",
      "heads.0.bias",
      "decoder.bias",
    ],
    unexpected_keys: ["encoder.layer.9.gamma"],
  });
  for (const m of [a, b, c]) m.dispose();
  assert.equal(device.memory.liveBytes, base);
});

Deno.test("Linear: PyTorch init bounds, forward and gradients vs CPU, gradcheck", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  const [T, IN, OUT] = [7, 13, 5];
  const lin = new Linear(device, IN, OUT, { seed: 42 });
  const again = new Linear(device, IN, OUT, { seed: 42 });
  const w = (await lin.weight.toArray()) as Float32Array;
  const bias = (await lin.bias!.toArray()) as Float32Array;
  assert.deepEqual(await again.weight.toArray(), w, "seeded init is reproducible");
  const bound = 1 / Math.sqrt(IN);
  assert.ok([...w, ...bias].every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...w) > 0.8 * bound && Math.min(...w) < -0.8 * bound, "spans U(−b, b)");
  const xd = randomArray(T * IN, 5);
  const r = randomArray(T * OUT, 6);
  const x = Tensor.from(device, xd, [T, IN], { requiresGrad: true });
  const loss = tidy(() => {
    const y = lin.forward(x);
    return [y.keep(), sum(mul(y, Tensor.from(device, r, [T, OUT])))];
  });
  const [yT, lossT] = loss;
  const want = new Float64Array(T * OUT);
  const gw = new Float64Array(OUT * IN);
  const gb = new Float64Array(OUT);
  const gx = new Float64Array(T * IN);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < OUT; o++) {
      let s = bias[o];
      for (let i = 0; i < IN; i++) {
        s += xd[t * IN + i] * w[o * IN + i];
        gw[o * IN + i] += r[t * OUT + o] * xd[t * IN + i];
        gx[t * IN + i] += r[t * OUT + o] * w[o * IN + i];
      }
      want[t * OUT + o] = s;
      gb[o] += r[t * OUT + o];
    }
  }
  assertClose(await yT.toArray(), want, { rtol: 1e-5, atol: 1e-5, what: "y" });
  lossT.backward();
  assert.equal(device.memory.byCategory.activation, 0);
  assertClose(await lin.weight.grad!.toArray(), gw, { rtol: 1e-5, atol: 1e-5, what: "dW" });
  assertClose(await lin.bias!.grad!.toArray(), gb, { rtol: 1e-5, atol: 1e-5, what: "db" });
  assertClose(await x.grad!.toArray(), gx, { rtol: 1e-5, atol: 1e-5, what: "dx" });
  // 3-D input, no bias.
  const nb = new Linear(device, 4, 1, { bias: false, seed: 3 });
  assert.deepEqual([...nb.named_parameters()].map(([n]) => n), ["weight"]);
  const x3 = randomArray(2 * 3 * 4, 8);
  const w3 = await nb.weight.toArray();
  const x3T = Tensor.from(device, x3, [2, 3, 4]);
  const y3 = noGrad(() => nb.forward(x3T));
  assert.deepEqual(y3.shape, [2, 3, 1]);
  const e3 = Array.from(
    { length: 6 },
    (_, t) => x3.slice(t * 4, t * 4 + 4).reduce((s, v, i) => s + v * w3[i], 0),
  );
  assertClose(await y3.toArray(), e3, { rtol: 1e-5, atol: 1e-6, what: "y3" });
  await gradcheck(device, (xx) => lin.forward(xx), [{
    data: randomArray(3 * IN, 9),
    shape: [3, IN],
  }]);
  lin.zero_grad();
  assert.equal(lin.weight.grad, null);
  [x.grad!, x, yT, lossT, y3, x3T].forEach((t) => t.dispose());
  for (const m of [lin, again, nb]) m.dispose();
  assert.equal(device.memory.byCategory.gradient, 0);
  assert.equal(device.memory.liveBytes, base);
});

class MLP extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(device: Device, hidden: number) {
    super();
    this.fc1 = new Linear(device, 2, hidden, { seed: 11 });
    this.fc2 = new Linear(device, hidden, 2, { seed: 12 });
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(tanh(this.fc1.forward(x)));
  }
}

Deno.test("a 2-layer MLP trained with AdamW learns a nonlinear boundary; memory returns to baseline", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  // 2-D points in [−1, 1]², class 1 inside the circle r² < 0.5 (a boundary no linear model fits).
  const N = 128;
  const r = rng(2024);
  const pts = new Float32Array(2 * N);
  const labels = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    pts[2 * i] = 2 * r() - 1;
    pts[2 * i + 1] = 2 * r() - 1;
    labels[i] = pts[2 * i] ** 2 + pts[2 * i + 1] ** 2 < 0.5 ? 1 : 0;
  }
  const X = Tensor.from(device, pts, [N, 2]);
  const Y = Tensor.from(device, labels, [N]);
  const model = new MLP(device, 16);
  const opt = new AdamW(model.named_parameters(), { lr: 0.05, weight_decay: 0.01 });
  const losses: number[] = [];
  for (let step = 0; step < 50; step++) {
    const loss = tidy(() => {
      opt.zero_grad();
      const l = crossEntropy(model.forward(X), Y);
      l.backward();
      assert.equal(device.memory.byCategory.activation, 0, `activations freed at step ${step}`);
      opt.step();
      return l;
    });
    if (step % 10 === 0 || step === 49) losses.push(await loss.item());
    loss.dispose();
  }
  console.log(`MLP loss every 10 steps: ${losses.map((l) => l.toFixed(4)).join(" ")}`);
  assert.ok(losses[0] > 0.6, `initial loss ${losses[0]} is near ln 2`);
  assert.ok(losses[losses.length - 1] < 0.25, `final loss ${losses.at(-1)} < 0.25`);
  // Accuracy on the training points, no graph.
  const logits = noGrad(() => tidy(() => model.forward(X)));
  const lg = await logits.toArray();
  let correct = 0;
  for (let i = 0; i < N; i++) correct += Number((lg[2 * i + 1] > lg[2 * i] ? 1 : 0) === labels[i]);
  console.log(`MLP training accuracy ${correct / N}`);
  assert.ok(correct / N > 0.9, `accuracy ${correct / N}`);
  logits.dispose();
  model.zero_grad();
  opt.dispose();
  model.dispose();
  X.dispose();
  Y.dispose();
  assert.equal(device.memory.byCategory.activation, 0);
  assert.equal(device.memory.liveBytes, base, "everything freed");
});

Deno.test("LayerNorm, Embedding and Dropout modules", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  const ln = new LayerNorm(device, 4);
  assert.equal(ln.eps, 1e-5);
  assert.deepEqual([...ln.named_parameters()].map(([n]) => n), ["weight", "bias"]);
  const xd = randomArray(8, 21, -3, 3);
  const emb = new Embedding(device, 5, 3, { padding_idx: 0, seed: 1 });
  const drop = new Dropout(0.5, { seed: 3 });
  const ids = Tensor.from(device, new Int32Array([0, 2, 2, 4]), [2, 2]);
  const ones = Tensor.from(device, new Float32Array(1000).fill(1), [1000]);
  const [y, e, d1, d2] = tidy(() => {
    const x = Tensor.from(device, xd, [2, 4]);
    const e = emb.forward(ids);
    e.backward(Tensor.from(device, new Float32Array(12).fill(1), [2, 2, 3]));
    return [noGrad(() => ln.forward(x)), e, drop.forward(ones), drop.forward(ones)];
  });
  drop.eval();
  const d3 = drop.forward(ones);
  const [ya, ea, w, gw, a1, a2, a3] = await Promise.all(
    [y, e, emb.weight, emb.weight.grad!, d1, d2, d3].map((t) => t.toArray()),
  );
  const want = new Float64Array(8);
  for (let r = 0; r < 2; r++) {
    const row = xd.slice(4 * r, 4 * r + 4);
    const mu = row.reduce((s, v) => s + v, 0) / 4;
    const vr = row.reduce((s, v) => s + (v - mu) ** 2, 0) / 4;
    row.forEach((v, i) => want[4 * r + i] = (v - mu) / Math.sqrt(vr + 1e-5));
  }
  assertClose(ya, want, { rtol: 1e-4, atol: 1e-5, what: "layernorm" });
  assert.deepEqual([...ea], [0, 2, 2, 4].flatMap((i) => [...w.slice(3 * i, 3 * i + 3)]));
  assert.deepEqual([...w.slice(0, 3)], [0, 0, 0], "padding row starts at zero");
  assert.deepEqual(
    [...gw],
    [0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1],
    "no grad at padding_idx",
  );
  assert.ok([...a1, ...a2].every((v) => v === 0 || v === 2), "kept values scaled by 1/(1 − p)");
  const kept = a1.filter((v) => v === 2).length;
  assert.ok(kept > 400 && kept < 600, `kept ${kept} of 1000`);
  assert.notDeepEqual([...a1], [...a2], "each training forward draws a fresh mask");
  assert.ok(a3.every((v) => v === 1), "identity in eval");
  [y, e, d1, d2, d3, ids, ones].forEach((t) => t.dispose());
  for (const m of [ln, emb, drop]) m.dispose();
  assert.equal(device.memory.liveBytes, base);
});

Deno.test("init helpers: seeded normal_ / uniform_ statistics", () => {
  const n = init.normal_(new Float32Array(20001), 1, 2, 5);
  const mean = n.reduce((s, v) => s + v, 0) / n.length;
  const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
  assert.ok(Math.abs(mean - 1) < 0.05 && Math.abs(sd - 2) < 0.05, `${mean} ${sd}`);
  assert.deepEqual(
    init.normal_(new Float32Array(3), 0, 1, 5),
    init.normal_(new Float32Array(3), 0, 1, 5),
  );
  const u = init.uniform_(new Float32Array(1000), -3, -1, 9);
  assert.ok(u.every((v) => v >= -3 && v < -1));
  init.manual_seed(7);
  const s1 = init.nextSeed();
  init.manual_seed(7);
  assert.equal(init.nextSeed(), s1);
  assert.equal(typeof parameter, "function");
});
