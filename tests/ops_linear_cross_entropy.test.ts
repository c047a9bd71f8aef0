import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { linearCrossEntropy } from "../src/ops/linear_cross_entropy.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { add, mul, scale } from "../src/ops/basic.ts";
import { sum } from "../src/ops/reduce.ts";
import { assertClose, randomArray, rng, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";

/** f64 loss and gradients of mean CE(x·Wᵀ + b, labels) for an upstream gradient g. */
function reference(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  labels: Int32Array,
  d: number,
  g: number,
) {
  const n = labels.length;
  const v = w.length / d;
  const logits = new Float64Array(n * v);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < v; c++) {
      let s = b ? b[c] : 0;
      for (let k = 0; k < d; k++) s += x[r * d + k] * w[c * d + k];
      logits[r * v + c] = s;
    }
  }
  const count = labels.filter((l) => l !== -100).length;
  const dl = new Float64Array(n * v);
  let loss = 0;
  for (let r = 0; r < n; r++) {
    if (labels[r] === -100) continue;
    const row = logits.subarray(r * v, (r + 1) * v);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, t) => s + Math.exp(t - m), 0));
    loss += lse - row[labels[r]];
    for (let c = 0; c < v; c++) {
      dl[r * v + c] = g * (Math.exp(row[c] - lse) - (c === labels[r] ? 1 : 0)) / count;
    }
  }
  const dx = new Float64Array(n * d);
  const dw = new Float64Array(v * d);
  const db = new Float64Array(v);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < v; c++) {
      const t = dl[r * v + c];
      db[c] += t;
      for (let k = 0; k < d; k++) {
        dx[r * d + k] += t * w[c * d + k];
        dw[c * d + k] += t * x[r * d + k];
      }
    }
  }
  return { loss: loss / count, logits, dx, dw, db };
}

Deno.test("linearCrossEntropy: loss and x/W/b gradients match an f64 reference without saving the logits", async () => {
  const device = await testDevice();
  // [lead dims], D, V: one row; awkward sizes; V above a matmul tile and not a multiple of 4.
  const cases: [number[], number, number][] = [[[1], 1, 1], [[7], 13, 5], [[2, 5], 33, 131]];
  for (const [k, [lead, d, v]] of cases.entries()) {
    const n = lead.reduce((a, c) => a * c, 1);
    const r = rng(k + 3);
    const x = randomArray(n * d, 10 + k, -2, 2);
    const w = randomArray(v * d, 20 + k, -1, 1);
    const b = randomArray(v, 30 + k);
    const labels = Int32Array.from(
      { length: n },
      (_, i) => i % 4 === 3 ? -100 : Math.floor(r() * v),
    );
    const g = 0.75;
    const ref = reference(x, w, b, labels, d, g);
    const what = `[${lead}, ${d}] × V ${v}`;
    // Whole (logits returned) and in chunks of 3 rows (logits never materialised).
    for (const options of [{}, { returnLogits: false, chunkRows: 3 }]) {
      const run = await forwardBackward(device, (xt, wt, bt, yt) => {
        const out = linearCrossEntropy(xt, wt, bt, yt, options);
        assert.equal(out.logits?.requiresGrad ?? false, false, "logits carry no gradient");
        assert.equal(out.logits === null, options.returnLogits === false);
        out.logits?.dispose();
        return out.loss;
      }, [
        { data: x, shape: [...lead, d] },
        { data: w, shape: [v, d], category: "parameter" },
        { data: b, shape: [v], category: "parameter" },
        { data: labels, shape: lead },
      ], { dyData: new Float32Array([g]) });
      const at = `${what} ${JSON.stringify(options)}`;
      // Saves dx [N, D] and the count — not the [N, V] logits; dW and db count as gradients.
      assert.equal(run.savedBytes, (n * d + 1) * 4, `${at} saved bytes`);
      assertClose(run.y, [ref.loss], { rtol: 1e-5, atol: 1e-5, what: `${at} loss` });
      assertClose(run.grads[0]!, ref.dx, { rtol: 1e-4, atol: 1e-6, what: `${at} dx` });
      assertClose(run.grads[1]!, ref.dw, { rtol: 1e-4, atol: 1e-6, what: `${at} dW` });
      assertClose(run.grads[2]!, ref.db, { rtol: 1e-4, atol: 1e-6, what: `${at} db` });
      assert.equal(run.grads[3], null);
    }
    const t = (data: Float32Array | Int32Array, shape: number[]) =>
      Tensor.from(device, data, shape, { dtype: data instanceof Int32Array ? "i32" : "f32" });
    const ins = [t(x, [...lead, d]), t(w, [v, d]), t(b, [v]), t(labels, lead)];
    const out = linearCrossEntropy(ins[0], ins[1], ins[2], ins[3]);
    assertClose(await out.logits!.toArray(), ref.logits, { rtol: 1e-5, atol: 1e-5, what });
    assert.deepEqual(out.logits!.shape, [...lead, v]);
    for (const u of [...ins, out.logits!, out.loss]) u.dispose();
  }
});

Deno.test("linearCrossEntropy: finite differences; no bias; clear shape errors", async () => {
  const device = await testDevice();
  const labels = Tensor.from(device, new Int32Array([1, -100, 0, 5]), [2, 2], { dtype: "i32" });
  // Chunks of 3 rows: the 4 rows split 3 + 1.
  const fused = (x: Tensor, w: Tensor, b: Tensor | null) =>
    linearCrossEntropy(x, w, b, labels, { returnLogits: false, chunkRows: 3 }).loss;
  await gradcheck(device, (x, w, b) => fused(x, w, b), [
    { data: randomArray(2 * 2 * 5, 2, -1, 1), shape: [2, 2, 5] },
    { data: randomArray(6 * 5, 3, -1, 1), shape: [6, 5] },
    { data: randomArray(6, 4), shape: [6] },
  ]);
  await gradcheck(device, (x, w) => fused(x, w, null), [
    { data: randomArray(2 * 2 * 5, 5, -1, 1), shape: [2, 2, 5] },
    { data: randomArray(6 * 5, 6, -1, 1), shape: [6, 5] },
  ]);
  const x = Tensor.from(device, randomArray(4 * 5, 7), [2, 2, 5], { requiresGrad: true });
  const w = Tensor.from(device, randomArray(6 * 5, 8), [6, 5], { requiresGrad: true });
  tidy(() => {
    assert.throws(() => linearCrossEntropy(x, w.view([5, 6]), null, labels), /do not match/);
    assert.throws(
      () => linearCrossEntropy(x, w, Tensor.from(device, new Float32Array(5), [5]), labels),
      /bias f32 \[5\] must be f32 \[6\]/,
    );
    assert.throws(
      () => linearCrossEntropy(x, w, null, labels.view([4])),
      /labels i32 \[4\] must be i32 with x's leading dims \(x \[2,2,5\]\)/,
    );
    assert.throws(() => linearCrossEntropy(x, w, null, x), /labels f32/);
    assert.throws(
      () => linearCrossEntropy(x, w, null, labels, { chunkRows: 0 }),
      /chunkRows must be a positive integer, got 0/,
    );
  });
  for (const t of [x, w, labels]) t.dispose();
});

Deno.test("linearCrossEntropy: gradients computed in the forward are freed with a graph that is never backpropagated, skipped under noGrad, and zero when every row is ignored", async () => {
  const device = await testDevice();
  const [n, d, v] = [5, 7, 11];
  const w = Tensor.from(device, randomArray(v * d, 41, -1, 1), [v, d], { requiresGrad: true });
  const b = Tensor.from(device, randomArray(v, 42), [v], { requiresGrad: true });
  const x = Tensor.from(device, randomArray(n * d, 43), [n, d], { requiresGrad: true });
  const some = Tensor.from(device, new Int32Array([1, 2, 3, 4, 5]), [n], { dtype: "i32" });
  const none = Tensor.from(device, new Int32Array(n).fill(-100), [n], { dtype: "i32" });
  const base = { ...device.memory.byCategory };
  const options = { returnLogits: false, chunkRows: 2 };
  // Recorded, then dropped: dx, dW and db were made in the forward and go with the graph.
  tidy(() => {
    linearCrossEntropy(x, w, b, some, options);
  });
  assert.deepEqual(device.memory.byCategory, base, "memory after a dropped graph");
  // Under noGrad nothing is recorded, so no gradient is computed or kept.
  const evalLoss = noGrad(() => linearCrossEntropy(x, w, b, some, options).loss);
  assert.deepEqual(device.memory.byCategory, { ...base, workspace: base.workspace + 4 });
  assert.ok(Number.isFinite((await evalLoss.toArray())[0]));
  evalLoss.dispose();
  // Every row ignored: PyTorch's NaN loss (0/0) and zero gradients, not NaN ones.
  const loss = linearCrossEntropy(x, w, b, none, options).loss;
  loss.backward();
  assert.ok(Number.isNaN((await loss.toArray())[0]));
  for (const [name, t] of [["x", x], ["weight", w], ["bias", b]] as const) {
    const g = await t.grad!.toArray();
    assert.ok(g.every((e) => e === 0), `${name} gradient all zero`);
    t.grad!.dispose();
    t.grad = null;
  }
  for (const t of [loss, x, w, b, some, none]) t.dispose();
});

Deno.test("linearCrossEntropy: the gradients made in the forward add into an existing .grad and into other uses of the weight in one graph", async () => {
  const device = await testDevice();
  const [n, d, v] = [7, 5, 300];
  const xa = randomArray(n * d, 51, -2, 2);
  const wa = randomArray(v * d, 52, -1, 1);
  const ba = randomArray(v, 53);
  const la = Int32Array.from({ length: n }, (_, i) => i % 3 === 2 ? -100 : (i * 37) % v);
  const lb = Int32Array.from({ length: n }, (_, i) => i % 2 ? -100 : (i * 11 + 5) % v);
  const labels = [la, lb].map((l) => Tensor.from(device, l, [n], { dtype: "i32" }));
  const param = (a: Float32Array, shape: number[]) =>
    Tensor.from(device, a, shape, { requiresGrad: true });
  const plus = (a: Float64Array, b: Float64Array, s = 1) => a.map((t, i) => t + s * b[i]);
  for (const options of [{}, { returnLogits: false, chunkRows: 3 }]) {
    const at = JSON.stringify(options);
    // Gradient accumulation: two micro-batches, each loss × 0.5, the second into the first's .grad.
    const w = param(wa, [v, d]);
    const b = param(ba, [v]);
    for (const y of labels) {
      const x = Tensor.from(device, xa, [n, d]);
      tidy(() => scale(linearCrossEntropy(x, w, b, y, options).loss, 0.5).backward());
      x.dispose();
    }
    const [ra, rb] = [la, lb].map((l) => reference(xa, wa, ba, l, d, 0.5));
    const tol = { rtol: 1e-4, atol: 1e-6 };
    assertClose(await w.grad!.toArray(), plus(ra.dw, rb.dw), {
      ...tol,
      what: `${at} accumulated dW`,
    });
    assertClose(await b.grad!.toArray(), plus(ra.db, rb.db), {
      ...tol,
      what: `${at} accumulated db`,
    });
    // One graph: 2·CE(x, W; a) + CE(x, W; b) + 0.1·ΣW² (as a tied weight's other use), x not a leaf.
    const x0 = param(xa, [n, d]);
    const w2 = param(wa, [v, d]);
    tidy(() => {
      const x = scale(x0, 1);
      const [l1, l2] = labels.map((y) => linearCrossEntropy(x, w2, null, y, options).loss);
      add(add(scale(l1, 2), l2), scale(sum(mul(w2, w2)), 0.1)).backward();
    });
    const [r1, r2] = [[la, 2], [lb, 1]].map(([l, g]) =>
      reference(xa, wa, null, l as Int32Array, d, g as number)
    );
    const dw = plus(plus(r1.dw, r2.dw), Float64Array.from(wa), 0.2);
    assertClose(await w2.grad!.toArray(), dw, { ...tol, what: `${at} shared dW` });
    assertClose(await x0.grad!.toArray(), plus(r1.dx, r2.dx), { ...tol, what: `${at} shared dx` });
    for (const t of [w, b, x0, w2]) {
      t.grad!.dispose();
      t.dispose();
    }
  }
  for (const y of labels) y.dispose();
});
