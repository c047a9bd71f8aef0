import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { sum } from "../src/ops/reduce.ts";
import { mul } from "../src/ops/basic.ts";
import { Linear } from "../src/nn/linear.ts";
import type { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { applyVeLoRA, removeVeLoRA, veloraLayers } from "../src/velora/apply.ts";
import { VeLoRALinear } from "../src/velora/velora_linear.ts";
import { loadVeLoRA, saveVeLoRA } from "../src/velora/sidecar.ts";
import { loadExtraState, saveExtraState } from "../src/nn/extra_state_io.ts";
import { assertClose, testDevice } from "./helpers/gpu.ts";
import { loadVeLoRACases } from "./helpers/velora_cases.ts";
import { assertTensorClose, checkTrainingStep, loadInputs, trainingBert } from "./helpers/bert.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const { cases, tensor: g } = await loadVeLoRACases();

Deno.test("VeLoRALinear matches the official algorithm: y, v, dW, db, dX; dW is not exact", async () => {
  const device = await testDevice();
  for (const [name, c] of Object.entries(cases)) {
    const lin = new Linear(device, c.in_features, c.out_features);
    lin.load_state_dict({ weight: g(`${name}.W`), bias: g(`${name}.b`) });
    const layer = new VeLoRALinear(lin, { num_groups: c.num_groups, scale: c.scale });
    const x = Tensor.from(device, g(`${name}.x`), c.x_shape, { requiresGrad: true });
    const dyShape = [...c.x_shape.slice(0, -1), c.out_features];
    const dy = Tensor.from(device, g(`${name}.dY`), dyShape);
    // Σ y ⊙ dY has gradient dY with respect to y.
    const y = tidy(() => layer.forward(x).keep());
    const loss = tidy(() => sum(mul(y, dy)).keep());
    assertClose(await y.toArray(), g(`${name}.y`), { rtol: 1e-4, atol: 1e-5, what: `${name} y` });
    assertClose(await layer.v!.toArray(), g(`${name}.v`), {
      rtol: 1e-4,
      atol: 1e-6,
      what: `${name} v`,
    });
    loss.backward();
    const ref = g(`${name}.dW`);
    const bound = g(`${name}.dW_z_ulp_bound`);
    const maxRef = ref.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
    const dw = await layer.weight.grad!.toArray();
    dw.forEach((v, i) => {
      const tol = bound[i] + 3e-3 * maxRef;
      assert.ok(Math.abs(v - ref[i]) <= tol, `${name} dW[${i}] ${v} vs ${ref[i]}`);
    });
    assertTensorClose(await layer.bias!.grad!.toArray(), g(`${name}.db`), 1e-4, `${name} db`);
    assertTensorClose(await x.grad!.toArray(), g(`${name}.dX`), 1e-4, `${name} dX`);
    if (c.in_features / c.num_groups > 1) {
      // M > 1: the reconstruction is lossy, so dW is measurably not the exact gradient.
      const exact = g(`${name}.dW_exact`);
      let diff = 0;
      let norm = 0;
      dw.forEach((v, i) => {
        diff += (v - exact[i]) ** 2;
        norm += exact[i] ** 2;
      });
      assert.ok(Math.sqrt(diff / norm) > 0.1, `${name}: VeLoRA dW differs from the exact dW`);
    }
    [x, dy, y, loss, x.grad!].forEach((t) => t.dispose());
    layer.dispose();
  }
});

Deno.test("options are validated with clear errors", async () => {
  const device = await testDevice();
  const lin = new Linear(device, 10, 4);
  assert.throws(
    () => new VeLoRALinear(lin, { num_groups: 0 }),
    /num_groups must be an integer in \[1, 10\]/,
  );
  assert.throws(() => new VeLoRALinear(lin, { rank: 2 }), /rank 2 is not supported/);
  assert.throws(() => new VeLoRALinear(lin, { init_type: "svd" as "random" }), /init_type "svd"/);
  assert.equal(new VeLoRALinear(lin, { num_groups: 4 }).sub_token_size, 3);
  lin.dispose();
});

async function bert() {
  return await trainingBert(await testDevice());
}

const SIX = [
  "attention.self.query",
  "attention.self.key",
  "attention.self.value",
  "attention.output.dense",
  "intermediate.dense",
  "output.dense",
];

Deno.test("a BERT training step with VeLoRA on all six linear types matches PyTorch", async () => {
  const model = await bert();
  const names = new Set(model.state_dict().keys());
  const report = applyVeLoRA(model, { target_modules: SIX, num_groups: 8 });
  assert.equal(report.layers.length, 12);
  assert.deepEqual(new Set(model.state_dict().keys()), names, "state_dict keys unchanged");
  const ref = await checkTrainingStep(model, "golden_velora.safetensors");
  for (const [name, l] of veloraLayers(model)) {
    assertTensorClose(await l.v!.toArray(), ref.get(`v.${name}`)!.data, 1e-4, `v.${name}`);
  }
  const held = report.inputsHeldElsewhere();
  assert.ok(held.every((h) => h.held === false), JSON.stringify(held));
  assert.ok(held.filter((h) => h.sharedZ).length === 4, "key and value reuse query's z");
  model.dispose();
});

/** Activation bytes at the end of a training forward (loss kept, graph freed afterwards). */
async function forwardActivation(model: BertForSequenceClassification): Promise<number> {
  const device = model.bert.config && (await testDevice());
  const inp = await loadInputs(device);
  const loss = tidy(() => model.forward({ ...inp, labels: inp.labels }).loss!.keep());
  const bytes = device.memory.byCategory.activation;
  loss.dispose();
  Object.values(inp).forEach((t) => t.dispose());
  assert.equal(device.memory.byCategory.activation, 0, "a discarded graph frees its activations");
  return bytes;
}

const z = (tokens: number, groups: number) => Math.ceil((tokens * groups) / 2) * 4;

Deno.test("activation memory falls by exactly the freed inputs minus the z's", async () => {
  const T = 21; // 3 × 7 tokens
  const D = 32;
  const I = 37;
  const layers = 2;
  const plainModel = await bert();
  const plain = await forwardActivation(plainModel);
  plainModel.dispose();

  const all = await bert();
  applyVeLoRA(all, { target_modules: SIX, num_groups: 8 });
  // Per layer: the attention input, the merged context and the FFN input ([T, D] each) and the
  // GELU output [T, I] are no longer saved; q/k/v share one z.
  const freedAll = layers * 4 * (3 * T * D + T * I);
  const zAll = layers * (3 * z(T, 8) + z(T, 8));
  assert.equal(await forwardActivation(all), plain - freedAll + zAll);
  all.dispose();

  // The paper's "vd": value + FFN output.dense. query/key still save the attention input, so
  // only the GELU output is freed, and value's z is extra.
  const vd = await bert();
  const report = applyVeLoRA(vd, {
    target_modules: ["value", /.*layer\.\d+\.output\.dense/],
    num_groups: 8,
  });
  assert.equal(report.layers.length, 4);
  const freedVd = layers * 4 * T * I;
  const zVd = layers * 2 * z(T, 8);
  assert.equal(await forwardActivation(vd), plain - freedVd + zVd);
  // The report says so honestly after a step.
  const device = await testDevice();
  const inp = await loadInputs(device);
  const loss = tidy(() => vd.forward({ ...inp, labels: inp.labels }).loss!.keep());
  loss.backward();
  const held = new Map(report.inputsHeldElsewhere().map((h) => [h.name, h.held]));
  assert.equal(held.get("bert.encoder.layer.0.attention.self.value"), true);
  assert.equal(held.get("bert.encoder.layer.0.output.dense"), false);
  [loss, ...Object.values(inp)].forEach((t) => t.dispose());
  vd.dispose();
});

Deno.test("no-grad forwards store nothing; eval with grad is the plain linear with the exact weight gradient", async () => {
  const device = await testDevice();
  const model = await bert();
  applyVeLoRA(model, { target_modules: SIX, num_groups: 8 });
  const inp = await loadInputs(device);
  noGrad(() => tidy(() => model.forward(inp).logits.keep())).dispose();
  model.eval();
  const logits = noGrad(() => tidy(() => model.forward(inp).logits.keep()));
  assert.equal(device.memory.byCategory.activation, 0);
  // Eval mode with grad enabled (official code and PEFT): the input is kept, and the weight
  // gets the exact gradient dYᵀX, equal to a plain nn.Linear's.
  const q = model.bert.encoder.layer[0].attention.self.query as unknown as VeLoRALinear;
  const data = Float32Array.from({ length: 3 * 32 }, (_, i) => Math.sin(i * 0.37));
  const grads = async (layer: { forward(x: Tensor): Tensor; weight: Tensor }) => {
    const x = Tensor.from(device, data, [3, 32], { requiresGrad: true });
    const y = tidy(() => layer.forward(x).keep());
    const saved = device.memory.byCategory.activation;
    const l = tidy(() => sum(mul(y, y)).keep());
    l.backward();
    const out = {
      saved,
      dw: (await layer.weight.grad!.toArray()) as Float32Array,
      dx: (await x.grad!.toArray()) as Float32Array,
    };
    [x, y, l, x.grad!].forEach((t) => t.dispose());
    layer.weight.grad!.dispose();
    layer.weight.grad = null;
    return out;
  };
  const viaVelora = await grads(q);
  const viaPlain = await grads(q.base_layer);
  assert.equal(viaVelora.saved, 3 * 32 * 4, "eval with grad keeps the input");
  assertClose(viaVelora.dw, viaPlain.dw, { rtol: 0, atol: 0, what: "eval dW is exact" });
  assertClose(viaVelora.dx, viaPlain.dx, { rtol: 0, atol: 0, what: "eval dX" });
  assert.ok(veloraLayers(model).every(([, l]) => l.v === null), "eval never initialises v");
  model.zero_grad();
  logits.dispose();
  Object.values(inp).forEach((t) => t.dispose());
  model.dispose();
});

Deno.test("the fallback-flag check of one forward is a single readback", async () => {
  const device = await testDevice();
  const model = await bert();
  const report = applyVeLoRA(model, { target_modules: SIX, num_groups: 8 });
  const inp = await loadInputs(device);
  const read = device.read.bind(device);
  let reads = 0;
  device.read = (...a: Parameters<typeof device.read>) => {
    reads++;
    return read(...a);
  };
  try {
    const loss = tidy(() => model.forward({ ...inp, labels: inp.labels }).loss!.keep());
    await new Promise((r) => setTimeout(r, 0));
    await device.sync();
    // 8 initialisations (2 layers × q/k/v shared, attention output, intermediate, output).
    assert.equal(reads, 1, "one readback for the 8 initialisations");
    assert.ok(report.sharing, "the sharing object is owned by the report");
    loss.dispose();
  } finally {
    device.read = read;
    Object.values(inp).forEach((t) => t.dispose());
    model.dispose();
  }
});

Deno.test("matching errors list candidates; removeVeLoRA restores plain layers", async () => {
  const model = await bert();
  assert.throws(
    () => applyVeLoRA(model, { target_modules: ["nope"] }),
    /matched no module; candidate linear layers: bert\.encoder\.layer\.0\.attention\.self\.query/,
  );
  assert.throws(
    () => applyVeLoRA(model, { target_modules: ["attention"] }),
    /is not a linear layer/,
  );
  assert.throws(
    () => applyVeLoRA(model, { target_modules: ["value"], num_groups: 0 }),
    /num_groups/,
  );
  assert.equal(veloraLayers(model).length, 0, "a failed apply changes nothing");
  applyVeLoRA(model, { target_modules: ["value"], num_groups: 4 });
  assert.equal(veloraLayers(model).length, 2);
  assert.equal(removeVeLoRA(model), 2);
  assert.ok(model.bert.encoder.layer[0].attention.self.value instanceof Linear);
  model.dispose();
});

/** `loaded`'s VeLoRA layers hold `saved`'s v vectors, and equal vectors share storage again. */
async function assertSameV(
  loaded: BertForSequenceClassification,
  saved: BertForSequenceClassification,
): Promise<void> {
  const a = new Map(veloraLayers(saved));
  for (const [name, l] of veloraLayers(loaded)) {
    assert.ok(l.initialized);
    assert.deepEqual(await l.v!.toArray(), await a.get(name)!.v!.toArray());
  }
  const q = loaded.bert.encoder.layer[0].attention.self.query as unknown as VeLoRALinear;
  const k = loaded.bert.encoder.layer[0].attention.self.key as unknown as VeLoRALinear;
  assert.equal(q.v!.storage, k.v!.storage, "equal v vectors are shared again after loading");
}

/** One training step of `model` on the golden inputs (VeLoRA layers initialise v on it). */
async function trainOnce(model: BertForSequenceClassification): Promise<void> {
  const inp = await loadInputs(await testDevice());
  const loss = tidy(() => model.forward({ ...inp, labels: inp.labels }).loss!.keep());
  loss.backward();
  [loss, ...Object.values(inp)].forEach((t) => t.dispose());
}

Deno.test("v and the init state survive a save/load through the sidecar", async () => {
  const model = await bert();
  applyVeLoRA(model, { target_modules: SIX, num_groups: 8 });
  await trainOnce(model);
  await withTempDir(async (dir) => {
    await saveVeLoRA(model, dir);
    const again = await bert();
    assert.equal(await loadVeLoRA(again, dir), true);
    await assertSameV(again, model);
    again.dispose();
  });
  model.dispose();
});

Deno.test("init types: once freezes v, batch_average follows each batch, ema blends, random is fixed", async () => {
  const device = await testDevice();
  const xa = Float32Array.from({ length: 3 * 8 }, (_, i) => 1 + (i % 4));
  const xb = Float32Array.from({ length: 3 * 8 }, (_, i) => (i % 4 === 0 ? 5 : 0.5));
  const mean = (x: Float32Array) => {
    const m = [0, 0, 0, 0];
    for (let i = 0; i < x.length; i++) m[i % 4] += x[i];
    const n = Math.hypot(...m);
    return m.map((v) => v / n);
  };
  const vAfter = async (init: "batch_average_once" | "batch_average" | "ema_0.5" | "random") => {
    const lin = new Linear(device, 8, 3);
    const layer = new VeLoRALinear(lin, { num_groups: 2, init_type: init, seed: 1 });
    const out: Float32Array[] = [];
    for (const data of [xa, xb]) {
      const x = Tensor.from(device, data, [3, 8], { requiresGrad: true });
      const l = tidy(() => sum(layer.forward(x)).keep());
      l.backward();
      out.push((await layer.v!.toArray()) as Float32Array);
      [x, l, x.grad!].forEach((t) => t.dispose());
    }
    layer.dispose();
    return out;
  };
  const once = await vAfter("batch_average_once");
  assertClose(once[0], mean(xa), { rtol: 1e-5, what: "once v" });
  assertClose(once[1], once[0], { rtol: 0, atol: 0, what: "once frozen" });
  const every = await vAfter("batch_average");
  assertClose(every[1], mean(xb), { rtol: 1e-5, what: "batch_average v" });
  const ema = await vAfter("ema_0.5");
  // v ← normalize(0.5·v_prev + 0.5·mean(xb)) with the raw (unnormalised) batch mean.
  const raw = [0, 0, 0, 0];
  for (let i = 0; i < xb.length; i++) raw[i % 4] += xb[i] / (xb.length / 4);
  const e = mean(xa).map((a, i) => 0.5 * a + 0.5 * raw[i]);
  const en = Math.hypot(...e);
  assertClose(ema[1], e.map((v) => v / en), { rtol: 1e-5, what: "ema v" });
  const random = await vAfter("random");
  assertClose([Math.hypot(...random[0])], [1], { rtol: 1e-6, what: "random unit norm" });
  assertClose(random[1], random[0], { rtol: 0, atol: 0, what: "random fixed" });
});

Deno.test("init_type random: an independent v per layer, fixed by the seed and the layer's name", async () => {
  const vOf = async (seed: number) => {
    const model = await bert();
    applyVeLoRA(model, { target_modules: SIX, num_groups: 8, init_type: "random", seed });
    await trainOnce(model);
    const out = new Map<string, number[]>();
    for (const [name, l] of veloraLayers(model)) out.set(name, [...await l.v!.toArray()]);
    model.dispose();
    return out;
  };
  const a = await vOf(3);
  const distinct = new Set([...a.values()].map((v) => v.join(",")));
  assert.equal(distinct.size, a.size, "every layer draws its own v (no sharing of random v)");
  for (const v of a.values()) assertClose([Math.hypot(...v)], [1], { rtol: 1e-6, what: "|v|" });
  const again = await vOf(3);
  for (const [name, v] of a) assert.deepEqual(again.get(name), v, `${name}: same seed, same v`);
  const other = await vOf(4);
  for (const [name, v] of a) assert.notDeepEqual(other.get(name), v, `${name}: seed changes v`);
});

Deno.test("v travels through the generic extra-state protocol (no plugin import to save/resume)", async () => {
  const model = await bert();
  applyVeLoRA(model, { target_modules: SIX, num_groups: 8 });
  const names = new Set(model.state_dict().keys());
  await trainOnce(model);
  const extra = model.extra_state_dict();
  assert.equal(extra.size, 12);
  assert.ok(extra.has("bert.encoder.layer.0.attention.self.query._extra_state"));
  assert.deepEqual(new Set(model.state_dict().keys()), names, "state_dict keys unchanged");
  await withTempDir(async (dir) => {
    assert.equal(await saveExtraState(model, dir), true);
    const again = await bert();
    await assert.rejects(() => loadExtraState(again, dir), /Unexpected key\(s\)/);
    applyVeLoRA(again, { target_modules: SIX, num_groups: 8 });
    await loadExtraState(again, dir);
    await assertSameV(again, model);
    const empty = await Deno.makeTempDir();
    await assert.rejects(() => loadExtraState(again, empty), /extra_state\.safetensors: missing/);
    await Deno.remove(empty);
    const wrong = await bert();
    applyVeLoRA(wrong, { target_modules: SIX, num_groups: 4 });
    await assert.rejects(() => loadExtraState(wrong, dir), /saved num_groups 8 differs/);
    wrong.dispose();
    again.dispose();
  });
  model.dispose();
});

Deno.test("a forward frees its intermediates as it goes: peak ≈ saved activations", async () => {
  const device = await testDevice();
  const model = await bert();
  const inp = await loadInputs(device);
  const before = device.memory.liveBytes;
  device.memory.resetPeak();
  const loss = tidy(() => model.forward({ ...inp, labels: inp.labels }).loss!.keep());
  const saved = device.memory.byCategory.activation;
  const transient = device.memory.peakBytes - before - saved;
  // The largest temporaries alive at once: a few [T, I] / [B, H, S, S] tensors, not all of them.
  assert.ok(transient <= 6 * 21 * 37 * 4, `transient ${transient} bytes beyond ${saved} saved`);
  loss.backward();
  loss.dispose();
  Object.values(inp).forEach((t) => t.dispose());
  model.dispose();
});
