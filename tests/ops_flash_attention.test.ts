import assert from "node:assert/strict";
import { flashAttention, type FlashAttentionOptions } from "../src/ops/flash_attention.ts";
import { dropoutMask } from "../src/ops/dropout.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { forwardBackward } from "./helpers/ops.ts";
import { gradcheck } from "./helpers/gradcheck.ts";
import type { Tensor } from "../src/tensor/tensor.ts";

const FMIN = -3.4028234663852886e38;

interface Case {
  B: number;
  Hq: number;
  Hkv: number;
  Sq: number;
  Sk: number;
  hd: number;
  causal?: boolean;
  /** Padded keys per batch row (mask = finfo.min at the end of each row), or null for no mask. */
  pad?: number[] | null;
  p?: number;
  seed?: number;
}

/** f64 reference of eager attention (bshd layout) and its gradients for output gradient dy. */
function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, dy: Float32Array) {
  const { B, Hq, Hkv, Sq, Sk, hd } = c;
  const scale = 1 / Math.sqrt(hd);
  const p = c.p ?? 0;
  const keep = p > 0 ? dropoutMask(B * Hq * Sq * Sk, p, c.seed!) : null;
  const qi = (b: number, s: number, h: number) => ((b * Sq + s) * Hq + h) * hd;
  const ki = (b: number, s: number, h: number) => ((b * Sk + s) * Hkv + h) * hd;
  const y = new Float64Array(B * Sq * Hq * hd);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < Sq; i++) {
        const s = new Float64Array(Sk);
        const vis: boolean[] = [];
        for (let j = 0; j < Sk; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[qi(b, i, h) + d] * k[ki(b, j, hk) + d];
          const masked = c.pad && j >= Sk - c.pad[b];
          s[j] = Math.max(scale * dot + (masked ? FMIN : 0), FMIN);
          vis.push(!c.causal || j + Sq <= i + Sk);
        }
        let mx = -Infinity;
        for (let j = 0; j < Sk; j++) if (vis[j]) mx = Math.max(mx, s[j]);
        const P = new Float64Array(Sk);
        let l = 0;
        for (let j = 0; j < Sk; j++) if (vis[j]) l += P[j] = Math.exp(s[j] - mx);
        for (let j = 0; j < Sk; j++) P[j] = l > 0 ? P[j] / l : 0;
        const kf = (j: number) => {
          if (!keep) return 1;
          return keep[((b * Hq + h) * Sq + i) * Sk + j] / (1 - p);
        };
        const dP = new Float64Array(Sk);
        for (let j = 0; j < Sk; j++) {
          const pd = P[j] * kf(j);
          let g = 0;
          for (let d = 0; d < hd; d++) {
            y[qi(b, i, h) + d] += pd * v[ki(b, j, hk) + d];
            dv[ki(b, j, hk) + d] += pd * dy[qi(b, i, h) + d];
            g += dy[qi(b, i, h) + d] * v[ki(b, j, hk) + d];
          }
          dP[j] = g * kf(j);
        }
        let D = 0;
        for (let j = 0; j < Sk; j++) D += P[j] * dP[j];
        for (let j = 0; j < Sk; j++) {
          const ds = P[j] * (dP[j] - D) * scale;
          for (let d = 0; d < hd; d++) {
            dq[qi(b, i, h) + d] += ds * k[ki(b, j, hk) + d];
            dk[ki(b, j, hk) + d] += ds * q[qi(b, i, h) + d];
          }
        }
      }
    }
  }
  return { y, dq, dk, dv };
}

async function check(c: Case, extra: FlashAttentionOptions = {}, tol = { rtol: 2e-4, atol: 2e-5 }) {
  const device = await testDevice();
  const q = randomArray(c.B * c.Sq * c.Hq * c.hd, 1, -2, 2);
  const k = randomArray(c.B * c.Sk * c.Hkv * c.hd, 2, -2, 2);
  const v = randomArray(c.B * c.Sk * c.Hkv * c.hd, 3);
  const mask = c.pad
    ? Float32Array.from(
      { length: c.B * c.Sk },
      (_, i) => (i % c.Sk >= c.Sk - c.pad![Math.floor(i / c.Sk)] ? FMIN : 0),
    )
    : null;
  const opts: FlashAttentionOptions = {
    causal: c.causal,
    dropout: c.p,
    seed: c.seed,
    ...extra,
  };
  const inputs = [
    { data: q, shape: [c.B, c.Sq, c.Hq, c.hd] },
    { data: k, shape: [c.B, c.Sk, c.Hkv, c.hd] },
    { data: v, shape: [c.B, c.Sk, c.Hkv, c.hd] },
    ...(mask ? [{ data: mask, shape: [c.B, c.Sk], requiresGrad: false }] : []),
  ];
  const run = await forwardBackward(
    device,
    (q, k, v, m?: Tensor) => flashAttention(q, k, v, { ...opts, mask: m ?? null }),
    inputs,
  );
  const ref = reference(c, q, k, v, run.dy);
  const what = JSON.stringify(c);
  assert.deepEqual(run.shape, [c.B, c.Sq, c.Hq, c.hd]);
  assertClose(run.y, ref.y, { ...tol, what: `O ${what}` });
  assertClose(run.grads[0]!, ref.dq, { ...tol, what: `dQ ${what}` });
  assertClose(run.grads[1]!, ref.dk, { ...tol, what: `dK ${what}` });
  assertClose(run.grads[2]!, ref.dv, { ...tol, what: `dV ${what}` });
  return run;
}

Deno.test("flashAttention matches the f64 reference: padding mask, GQA, awkward lengths (head_dim 8)", async () => {
  for (const [Sq, Sk] of [[1, 1], [7, 7], [65, 65], [7, 129]]) {
    await check({ B: 2, Hq: 4, Hkv: 2, Sq, Sk, hd: 8, pad: [0, Math.min(3, Sk - 1)] });
  }
});

Deno.test("flashAttention: causal (bottom-right for Sq ≠ Sk), head_dim 64, seq 129", async () => {
  await check({ B: 1, Hq: 2, Hkv: 1, Sq: 129, Sk: 129, hd: 64, causal: true, pad: [5] });
  await check({ B: 2, Hq: 2, Hkv: 2, Sq: 7, Sk: 65, hd: 64, causal: true });
});

Deno.test("flashAttention: dropout regenerates eager dropout's mask in backward", async () => {
  await check({ B: 2, Hq: 2, Hkv: 2, Sq: 65, Sk: 33, hd: 8, pad: [2, 0], p: 0.3, seed: 1234 });
});

Deno.test("flashAttention: saveHalf keeps half the bytes at f16 accuracy", async () => {
  const c: Case = { B: 2, Hq: 2, Hkv: 2, Sq: 33, Sk: 33, hd: 8, pad: [0, 4] };
  const full = await check(c);
  const half = await check(c, { saveHalf: true }, { rtol: 2e-2, atol: 4e-3 });
  // q, k, v packed: 2 bytes per element instead of 4; the statistics stay f32.
  const n = c.B * c.Sq * c.Hq * c.hd;
  assert.equal(full.savedBytes - half.savedBytes, 3 * n * 2);
  assertClose(half.y, full.y, { rtol: 0, atol: 0, what: "forward is f32 either way" });
});

Deno.test("flashAttention: bhsd layout equals bshd, fully masked rows are uniform", async () => {
  const device = await testDevice();
  const [B, H, S, hd] = [1, 2, 9, 8];
  const q = randomArray(B * S * H * hd, 4);
  const k = randomArray(B * S * H * hd, 5);
  const v = randomArray(B * S * H * hd, 6);
  const toBhsd = (x: Float32Array) => {
    const o = new Float32Array(x.length);
    for (let s = 0; s < S; s++) {
      for (let h = 0; h < H; h++) {
        for (let d = 0; d < hd; d++) o[(h * S + s) * hd + d] = x[(s * H + h) * hd + d];
      }
    }
    return o;
  };
  const shape = [B, S, H, hd];
  const a = await forwardBackward(device, (q, k, v) => flashAttention(q, k, v), [
    { data: q, shape },
    { data: k, shape },
    { data: v, shape },
  ]);
  const bshape = [B, H, S, hd];
  const b = await forwardBackward(
    device,
    (q, k, v) => flashAttention(q, k, v, { layout: "bhsd" }),
    [{ data: toBhsd(q), shape: bshape }, { data: toBhsd(k), shape: bshape }, {
      data: toBhsd(v),
      shape: bshape,
    }],
    { dyData: a.dy },
  );
  assertClose(b.y, a.y, { rtol: 1e-6, atol: 1e-7, what: "O" });
  for (let i = 0; i < 3; i++) {
    assertClose(b.grads[i]!, toBhsd(a.grads[i]!), { rtol: 1e-5, atol: 1e-6, what: `grad ${i}` });
  }
  // Every key masked: each output row is the mean of v (PyTorch eager with a finfo.min mask).
  const masked = await forwardBackward(
    device,
    (q, k, v, m) => flashAttention(q, k, v, { mask: m }),
    [{ data: q, shape }, { data: k, shape }, { data: v, shape }, {
      data: new Float32Array(S).fill(FMIN),
      shape: [B, S],
      requiresGrad: false,
    }],
  );
  const mean = new Float64Array(H * hd);
  for (let s = 0; s < S; s++) for (let i = 0; i < H * hd; i++) mean[i] += v[s * H * hd + i] / S;
  for (let s = 0; s < S; s++) {
    assertClose(masked.y.slice(s * H * hd, (s + 1) * H * hd), mean, { rtol: 1e-5, atol: 1e-6 });
  }
});

Deno.test("flashAttention: finite differences (causal, mask, GQA, dropout)", async () => {
  const device = await testDevice();
  const [B, Hq, Hkv, Sq, Sk, hd] = [1, 2, 1, 5, 6, 8];
  const mask = Float32Array.from({ length: Sk }, (_, j) => (j === 1 ? FMIN : 0));
  await gradcheck(
    device,
    (q, k, v, m) => flashAttention(q, k, v, { mask: m, causal: true, dropout: 0.2, seed: 5 }),
    [
      { data: randomArray(B * Sq * Hq * hd, 7), shape: [B, Sq, Hq, hd] },
      { data: randomArray(B * Sk * Hkv * hd, 8), shape: [B, Sk, Hkv, hd] },
      { data: randomArray(B * Sk * Hkv * hd, 9), shape: [B, Sk, Hkv, hd] },
      { data: mask, shape: [B, Sk], check: false },
    ],
  );
});

Deno.test("flashAttention: errors name the shapes", async () => {
  const device = await testDevice();
  const { Tensor } = await import("../src/tensor/tensor.ts");
  const q = Tensor.from(device, new Float32Array(2 * 3 * 6), [1, 2, 3, 6]);
  const k = Tensor.from(device, new Float32Array(2 * 2 * 8), [1, 2, 2, 8]);
  assert.throws(() => flashAttention(q, k, k), /head_dim|do not fit/);
  const q8 = Tensor.from(device, new Float32Array(2 * 3 * 8), [1, 2, 3, 8]);
  assert.throws(() => flashAttention(q8, k, k), /3 query heads are not a multiple of 2/);
  assert.throws(() => flashAttention(q8, q8, q8, { dropout: 0.1 }), /needs a seed/);
  [q, k, q8].forEach((t) => t.dispose());
});
