import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { rmsNorm } from "../src/ops/rmsnorm.ts";
import { rope, ropeInvFreq, ropeTable } from "../src/ops/rope.ts";
import { swiglu } from "../src/ops/swiglu.ts";
import { softmax } from "../src/ops/softmax.ts";
import { eagerAttention } from "../src/nn/attention.ts";
import { additiveMask } from "../src/ops/mask.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import { forwardBackward } from "./helpers/ops.ts";
import { attentionReference } from "./helpers/attention_reference.ts";
import { normReference } from "./helpers/norm_reference.ts";

Deno.test("rmsNorm forward/backward match an f64 reference on awkward shapes", async () => {
  const device = await testDevice();
  const eps = 1e-6;
  // 1×1, not a multiple of 4, > 64-row chunks, > 256-thread workgroup, 3-D.
  const shapes = [[1, 1], [7, 13], [65, 127], [3, 1100], [2, 3, 5]];
  for (const [k, shape] of shapes.entries()) {
    const cols = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomArray(n, 10 + k, -2, 2);
    const w = randomArray(cols, 20 + k, 0.5, 1.5);
    const run = await forwardBackward(device, (xt, wt) => rmsNorm(xt, wt, eps), [
      { data: x, shape },
      { data: w, shape: [cols], category: "parameter" },
    ], { seed: 40 + k });
    const ref = normReference("rmsnorm", x, w, null, run.dy, cols, eps);
    const what = `[${shape}]`;
    // Saves x and rstd [rows]; the weight is a parameter.
    assert.equal(run.savedBytes, (n + n / cols) * 4, `${what} saved bytes`);
    assertClose(run.y, ref.y, { rtol: 1e-4, atol: 1e-5, what: `${what} y` });
    assertClose(run.grads[0]!, ref.dx, { rtol: 1e-3, atol: 1e-4, what: `${what} dx` });
    assertClose(run.grads[1]!, ref.dw, { rtol: 1e-4, atol: 1e-4, what: `${what} dweight` });
  }
  await gradcheck(device, (x, w) => rmsNorm(x, w, eps), [
    { data: randomArray(3 * 7, 1, -2, 2), shape: [3, 7] },
    { data: randomArray(7, 2, 0.5, 1.5), shape: [7] },
  ]);
});

/** f64 RoPE with head split: x [B, S, H·D] → [B, H, S, D]. */
function ropeReference(
  x: Float32Array,
  pos: Int32Array,
  inv: Float64Array,
  [b, s, h, d]: number[],
): Float64Array {
  const out = new Float64Array(x.length);
  const half = d / 2;
  for (let bi = 0; bi < b; bi++) {
    for (let si = 0; si < s; si++) {
      for (let hi = 0; hi < h; hi++) {
        const src = ((bi * s + si) * h + hi) * d;
        const dst = ((bi * h + hi) * s + si) * d;
        for (let i = 0; i < d; i++) {
          const a = Math.fround(pos[bi * s + si] * inv[i % half]);
          const rot = i < half ? -x[src + i + half] : x[src + i - half];
          out[dst + i] = x[src + i] * Math.cos(a) + rot * Math.sin(a);
        }
      }
    }
  }
  return out;
}

Deno.test("rope: head split + rotate-half match an f64 reference; backward is the transpose", async () => {
  const device = await testDevice();
  for (const [k, [b, s, h, d]] of [[1, 1, 1, 2], [2, 7, 3, 10], [1, 33, 2, 64]].entries()) {
    const inv = ropeInvFreq(d, 10000);
    const positions = Int32Array.from({ length: b * s }, (_, i) => (i % s) * 3 + (i >= s ? 5 : 0));
    const table = Tensor.from(device, ropeTable(inv, 200), [200, d], { category: "parameter" });
    const x = randomArray(b * s * h * d, 50 + k);
    const run = await forwardBackward(
      device,
      (xt, pt) => rope(xt, pt, table, h),
      [{ data: x, shape: [b, s, h * d] }, { data: positions, shape: [b, s] }],
      { seed: 60 + k },
    );
    assert.deepEqual(run.shape, [b, h, s, d]);
    assertClose(run.y, ropeReference(x, positions, inv, [b, s, h, d]), {
      rtol: 1e-5,
      atol: 1e-5,
      what: `rope [${b}, ${s}, ${h}, ${d}] y`,
    });
    // The rotation is orthogonal: dx = Rᵀ dy, checked as ⟨R x, dy⟩ = ⟨x, Rᵀ dy⟩.
    const dx = run.grads[0]!;
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < x.length; i++) rhs += x[i] * dx[i];
    for (let i = 0; i < x.length; i++) lhs += run.y[i] * run.dy[i];
    assertClose([rhs], [lhs], { rtol: 1e-4, atol: 1e-4, what: "⟨x, dx⟩ vs ⟨y, dy⟩" });
    table.dispose();
  }
  const inv = ropeInvFreq(4, 500);
  const table = Tensor.from(device, ropeTable(inv, 8), [8, 4], { category: "parameter" });
  const pos = Int32Array.from([0, 3, 7, 1, 2, 5]);
  await gradcheck(
    device,
    (x, p) => rope(x, p, table, 2),
    [{ data: randomArray(2 * 3 * 8, 3), shape: [2, 3, 8] }, { data: pos, shape: [2, 3] }],
  );
  table.dispose();
});

Deno.test("ropeInvFreq: default and llama3 scaling as HF computes them", () => {
  const inv = ropeInvFreq(8, 10000);
  assertClose(inv, [1, 0.1, 0.01, 0.001], { rtol: 1e-6, what: "default inv_freq" });
  // HF _compute_llama3_parameters with factor 8, low 1, high 4, original 8192 (Llama 3.1):
  // wavelengths 2π/θ: > 8192 divided by 8, < 2048 kept, in between smoothed.
  const scaled = ropeInvFreq(8, 10000, {
    rope_type: "llama3",
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  });
  const wl = 2 * Math.PI / 0.001; // 6283: medium
  const smooth = (8192 / wl - 1) / 3;
  assertClose(scaled, [1, 0.1, 0.01, (1 - smooth) * 0.001 / 8 + smooth * 0.001], {
    rtol: 1e-6,
    what: "llama3 inv_freq",
  });
  const low = ropeInvFreq(4, 1e6, {
    rope_type: "llama3",
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 64,
  });
  assertClose(low, [1, 0.001 / 8], { rtol: 1e-6, what: "llama3 low frequency" });
  assert.throws(() => ropeInvFreq(5, 10000), /even/);
});

Deno.test("swiglu matches silu(gate)·up and its finite differences", async () => {
  const device = await testDevice();
  const n = 300;
  const gate = randomArray(n, 1, -6, 6);
  const up = randomArray(n, 2, -2, 2);
  const run = await forwardBackward(device, swiglu, [
    { data: gate, shape: [3, 100] },
    { data: up, shape: [3, 100] },
  ]);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  assertClose(run.y, Array.from(gate, (g, i) => g * sig(g) * up[i]), {
    rtol: 1e-5,
    atol: 1e-6,
    what: "swiglu y",
  });
  assertClose(
    run.grads[0]!,
    Array.from(gate, (g, i) => run.dy[i] * up[i] * sig(g) * (1 + g * (1 - sig(g)))),
    { rtol: 1e-5, atol: 1e-6, what: "dgate" },
  );
  assertClose(run.grads[1]!, Array.from(gate, (g, i) => run.dy[i] * g * sig(g)), {
    rtol: 1e-5,
    atol: 1e-6,
    what: "dup",
  });
  assert.equal(run.savedBytes, 2 * n * 4, "saves gate and up");
  await gradcheck(device, swiglu, [
    { data: randomArray(13, 3, -3, 3), shape: [13] },
    { data: randomArray(13, 4), shape: [13] },
  ]);
});

Deno.test("eager attention seam: causal GQA with left padding (and a KV-cache step) matches an f64 reference", async () => {
  const device = await testDevice();
  // [B, H, Hkv, Sq, Sk, D]: prefill (Sq = Sk) and a KV-cache step (Sq < Sk).
  for (const [k, dims] of [[2, 4, 2, 5, 5, 3], [2, 6, 2, 2, 7, 4], [1, 3, 3, 1, 1, 2]].entries()) {
    const [b, h, hkv, sq, sk, d] = dims;
    const q = randomArray(b * h * sq * d, 70 + k, -2, 2);
    const kk = randomArray(b * hkv * sk * d, 80 + k, -2, 2);
    const v = randomArray(b * hkv * sk * d, 90 + k);
    // Row 1 is left-padded by two positions.
    const mask = Int32Array.from({ length: b * sk }, (_, i) => (i >= sk && i < sk + 2 ? 0 : 1));
    const maskT = Tensor.from(device, mask, [b, sk], { dtype: "i32" });
    const add = additiveMask(maskT);
    const scale = 1 / Math.sqrt(d);
    const attend = (qt: Tensor, kt: Tensor, vt: Tensor) =>
      eagerAttention(qt, kt, vt, {
        attention_mask: add,
        is_causal: true,
        scaling: scale,
        dropout: 0,
        seed: null,
      });
    const inputs = [
      { data: q, shape: [b, h, sq, d] },
      { data: kk, shape: [b, hkv, sk, d] },
      { data: v, shape: [b, hkv, sk, d] },
    ];
    const run = await forwardBackward(device, attend, inputs);
    assertClose(run.y, attentionReference(q, kk, v, mask, dims, { causal: true, scale }), {
      rtol: 1e-4,
      atol: 1e-5,
      what: `attention [${dims}]`,
    });
    if (k === 1) await gradcheck(device, attend, inputs);
    add.dispose();
    maskT.dispose();
  }
});

Deno.test("softmax causal option checks its query count", async () => {
  const device = await testDevice();
  const x = Tensor.from(device, new Float32Array(12), [2, 3, 2]);
  assert.throws(() => softmax(x, null, { causal: true, queries: 4 }), /causal queries 4/);
  x.dispose();
});
