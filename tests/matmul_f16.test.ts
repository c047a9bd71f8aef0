// launchMatmul with a packed-f16 B operand (bType "f16", as VeLoRA's weight gradient reads z)
// against an f64 reference computed from the halves the GPU stored. Run on two devices of the
// same adapter: the default one, which reads B natively (`enable f16;`) when the adapter offers
// `shader-f16`, and one created with `shaderF16: false`, which always takes the unpack2x16float
// fallback. Each device encodes all cases into one pass and reads them back together.
import assert from "node:assert/strict";
import { Device } from "../src/runtime/device.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { toHalf } from "../src/tensor/half.ts";
import { launchMatmul, type MatmulFamily, type MatmulTile } from "../src/ops/matmul_kernel.ts";
import { randomArray, testDevice } from "./helpers/gpu.ts";

interface Case {
  name: string;
  batch?: number;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  strideB?: number;
  bias?: boolean;
  alpha?: number;
  accumulate?: boolean;
  family: MatmulFamily;
  tile?: MatmulTile;
}

const R = "register" as const, S = "shared" as const;
const CASES: Case[] = [
  // Register family (8x8 tile: the loaders are shared by every tile).
  { name: "NN 65x127x33 (element loads of B)", m: 65, n: 127, k: 33, family: R, tile: "8x8" },
  {
    name: "NT 7x13x5 (element loads, Bᵀ)",
    m: 7,
    n: 13,
    k: 5,
    transB: true,
    family: R,
    tile: "8x8",
  },
  {
    name: "TN 9x32x37 (vec4 loads of B, VeLoRA's dYᵀ·z form), bias, alpha, accumulate",
    m: 9,
    n: 32,
    k: 37,
    transA: true,
    bias: true,
    alpha: 0.75,
    accumulate: true,
    family: R,
    tile: "8x8",
  },
  { name: "NT 12x8x16 (vec4 loads, Bᵀ)", m: 12, n: 8, k: 16, transB: true, family: R, tile: "8x8" },
  {
    name: "NN batch 3, odd strideB 21 (halves split across words)",
    batch: 3,
    m: 5,
    n: 7,
    k: 3,
    strideB: 21,
    family: R,
    tile: "8x8",
  },
  {
    name: "NN batch 2, B broadcast",
    batch: 2,
    m: 6,
    n: 9,
    k: 5,
    strideB: 0,
    family: R,
    tile: "8x8",
  },
  // Shared-memory family.
  { name: "shared NN 68x132x36 (vec4 staging of B)", m: 68, n: 132, k: 36, family: S },
  {
    name: "shared TT 65x127x33 (element staging, Bᵀ)",
    m: 65,
    n: 127,
    k: 33,
    transA: true,
    transB: true,
    family: S,
  },
];

async function runCases(device: Device): Promise<string[]> {
  const owned: Tensor[] = [];
  const keep = <T extends Tensor>(t: T) => (owned.push(t), t);
  const prepared = CASES.map((c, ci) => {
    const batch = c.batch ?? 1, { m, n, k } = c;
    const sA = m * k, sB = c.strideB ?? k * n, sC = m * n;
    const a = randomArray((batch - 1) * sA + m * k, 10 * ci + 1);
    const b32 = keep(Tensor.from(device, randomArray((batch - 1) * sB + k * n, 10 * ci + 2), [
      (batch - 1) * sB + k * n,
    ]));
    const bias = c.bias ? randomArray(n, 10 * ci + 3) : null;
    const c0 = randomArray(batch * sC, 10 * ci + 4);
    return { c, a, bias, c0, aT: keep(Tensor.from(device, a, [a.length])), b32, sA, sB, sC };
  });
  // Halves made on the GPU (the stored format); the reference reads them back.
  const halves = prepared.map((p) => keep(toHalf(p.b32)));
  const outs = prepared.map((p) => keep(Tensor.from(device, p.c0, [p.c0.length])));
  const biases = prepared.map((p) => p.bias ? keep(Tensor.from(device, p.bias, [p.c.n])) : null);
  device.gpu.pushErrorScope("validation");
  prepared.forEach((p, i) => {
    const { c } = p;
    launchMatmul(device, {
      a: p.aT,
      b: halves[i],
      bType: "f16",
      c: outs[i],
      bias: biases[i],
      batch: c.batch ?? 1,
      m: c.m,
      n: c.n,
      k: c.k,
      transA: c.transA ?? false,
      transB: c.transB ?? false,
      strideB: c.strideB,
      alpha: c.alpha,
      accumulate: c.accumulate,
      family: c.family,
    }, c.tile);
  });
  device.flush();
  const err = await device.gpu.popErrorScope();
  assert(!err, `WebGPU validation error: ${err?.message}`);
  const [bs, cs] = await Promise.all([
    Promise.all(halves.map((h) => h.toArray())),
    Promise.all(outs.map((o) => o.toArray())),
  ]);
  const failures: string[] = [];
  prepared.forEach((p, i) => {
    const { c, a, bias, c0, sA, sB, sC } = p;
    const b = bs[i];
    const got = cs[i];
    const alpha = c.alpha ?? 1;
    let worst = 0, at = "";
    for (let bi = 0; bi < (c.batch ?? 1); bi++) {
      for (let r = 0; r < c.m; r++) {
        for (let j = 0; j < c.n; j++) {
          let s = 0, mag = 0;
          for (let kk = 0; kk < c.k; kk++) {
            const av = a[bi * sA + (c.transA ? kk * c.m + r : r * c.k + kk)];
            const bv = b[bi * sB + (c.transB ? j * c.k + kk : kk * c.n + j)];
            s += av * bv;
            mag += Math.abs(av * bv);
          }
          const idx = bi * sC + r * c.n + j;
          const v = alpha * s + (bias ? bias[j] : 0) + (c.accumulate ? c0[idx] : 0);
          const e = Math.abs(got[idx] - v) / (1e-5 * Math.max(1, mag));
          if (!(e <= worst)) {
            worst = Number.isNaN(e) ? Infinity : e;
            at = `[${bi}, ${r}, ${j}] got ${got[idx]}, expected ${v}`;
          }
        }
      }
    }
    if (worst > 1) failures.push(`${c.name}: ${at} (${worst.toFixed(1)}× tolerance)`);
  });
  for (const t of owned) t.dispose();
  return failures;
}

Deno.test("matmul with an f16 B operand, native shader-f16 path (when the adapter offers it)", async () => {
  const device = await testDevice();
  // The device requests shader-f16 exactly when the adapter offers it (no opt-out given).
  const adapter = await navigator.gpu.requestAdapter();
  assert.equal(device.shaderF16, adapter!.features.has("shader-f16"), device.describe());
  if (!device.shaderF16) {
    console.log(
      `skipped: ${device.describe()} has no shader-f16 (the unpack2x16float path is tested below)`,
    );
    return;
  }
  const failures = await runCases(device);
  assert(failures.length === 0, `mismatches:\n${failures.join("\n")}`);
});

Deno.test("matmul with an f16 B operand, unpack2x16float fallback (shaderF16: false)", async () => {
  const device = await Device.create({ shaderF16: false });
  try {
    assert.equal(device.shaderF16, false);
    const failures = await runCases(device);
    assert(failures.length === 0, `mismatches:\n${failures.join("\n")}`);
  } finally {
    device.destroy();
  }
});

Deno.test("launchMatmul: bType and f16 buffer sizes are checked", async () => {
  const device = await testDevice();
  const t = Tensor.from(device, new Float32Array(4), [4]);
  const out = Tensor.empty(device, [16]);
  const args = { a: t, b: t, c: out, batch: 1, m: 4, n: 4, k: 1, transA: false, transB: false };
  // 4 f32 = 16 bytes hold 8 halves, not the 12 a [3, 4] f16 B needs.
  assert.throws(
    () => launchMatmul(device, { ...args, k: 3, m: 1, bType: "f16" }),
    /b needs 12 f16 \(24 bytes\), buffer has 16 bytes/,
  );
  assert.throws(
    () => launchMatmul(device, { ...args, bType: "bf16" as "f16" }),
    /bType must be "f32" or "f16", got "bf16"/,
  );
  t.dispose();
  out.dispose();
});
