// launchMatmul against a plain f64 reference, launched on the project's Device through the kernel
// layer as matmulInto does. All cases are encoded into one compute pass and
// read back together (one GPU wait); most force the small 8x8 tile (the loaders and the epilogue
// are shared by every tile) so few pipelines compile. The shared-memory family (the default on
// hardware GPUs) is forced with `family: "shared"` so that it is tested on software adapters too;
// its cases share five pipelines (three modules) between them.
import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { testDevice } from "./helpers/gpu.ts";
import {
  chooseMatmulTile,
  launchMatmul,
  type MatmulFamily,
  type MatmulTile,
} from "../src/ops/matmul_kernel.ts";
import { Device } from "../src/runtime/device.ts";
import { erf } from "./helpers/erf.ts";

interface Case {
  name: string;
  batch?: number;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  bias?: boolean;
  gelu?: boolean;
  alpha?: number;
  accumulate?: boolean;
  /** Force a register tile; undefined = launchMatmul's own choice. */
  tile?: MatmulTile | "auto";
  /** Force a kernel family; undefined = the device's. */
  family?: MatmulFamily;
}

/** Seeded uniform [-1, 1) values (LCG). */
function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

function reference(
  c: Case,
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array | null,
  c0: Float32Array,
) {
  const batch = c.batch ?? 1, { m, n, k } = c;
  const sA = c.strideA ?? m * k, sB = c.strideB ?? k * n, sC = c.strideC ?? m * n;
  const alpha = c.alpha ?? 1;
  const out = Float64Array.from(c0);
  const scale = new Float64Array(c0.length); // Σ|terms|, for the tolerance
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, sa = 0;
        for (let kk = 0; kk < k; kk++) {
          const av = a[bi * sA + (c.transA ? kk * m + i : i * k + kk)];
          const bv = b[bi * sB + (c.transB ? j * k + kk : kk * n + j)];
          s += av * bv;
          sa += Math.abs(av * bv);
        }
        let v = alpha * s + (bias ? bias[j] : 0);
        if (c.gelu) v = gelu(v);
        const idx = bi * sC + i * n + j;
        out[idx] = c.accumulate ? c0[idx] + v : v;
        scale[idx] = Math.abs(alpha) * sa + (bias ? Math.abs(bias[j]) : 0) +
          (c.accumulate ? Math.abs(c0[idx]) : 0);
      }
    }
  }
  return { out, scale };
}

const CASES: Case[] = [];
const combos: [boolean, boolean, string][] = [
  [false, false, "NN"],
  [false, true, "NT"],
  [true, false, "TN"],
  [true, true, "TT"],
];
for (const [transA, transB, tag] of combos) {
  CASES.push({ name: `${tag} 1x1x1`, m: 1, n: 1, k: 1, transA, transB, tile: "8x8" });
  CASES.push({ name: `${tag} 7x13x5`, m: 7, n: 13, k: 5, transA, transB, tile: "8x8" });
  CASES.push({ name: `${tag} 65x127x33`, m: 65, n: 127, k: 33, transA, transB, tile: "8x8" });
  CASES.push({ name: `${tag} 12x20x8 (vec4)`, m: 12, n: 20, k: 8, transA, transB, tile: "8x8" });
  CASES.push({
    name: `${tag} 9x68x16 (vec4, above the 8x64 tile)`,
    m: 9,
    n: 68,
    k: 16,
    transA,
    transB,
    tile: "8x8",
  });
}
CASES.push(
  // K not a multiple of 4 on the vec4 path (both operands walk k-rows: tail zeroed).
  { name: "TN 12x16x9 (vec4, K % 4 = 1)", m: 12, n: 16, k: 9, transA: true, tile: "8x8" },
  { name: "TN 8x8x4099 (vec4, long K)", m: 8, n: 8, k: 4099, transA: true, tile: "8x8" },
  // Mixed: A by elements (K odd), B by vec4 (N % 4 = 0).
  { name: "NN 13x24x7 (scalar A, vec4 B)", m: 13, n: 24, k: 7, tile: "8x8" },
  // Batch 3 with B broadcast (shared weight), bias, alpha.
  {
    name: "NT batch 3, B broadcast, bias, alpha",
    batch: 3,
    m: 10,
    n: 12,
    k: 8,
    transB: true,
    strideB: 0,
    bias: true,
    alpha: 0.5,
    tile: "8x8",
  },
  {
    name: "NN batch 3, B broadcast, odd sizes, padded strideC",
    batch: 3,
    m: 5,
    n: 7,
    k: 3,
    strideB: 0,
    strideC: 40,
    tile: "8x8",
  },
  { name: "NT bias + gelu", m: 9, n: 12, k: 8, transB: true, bias: true, gelu: true, tile: "8x8" },
  {
    name: "NT alpha + accumulate",
    m: 9,
    n: 12,
    k: 8,
    transB: true,
    alpha: -1.5,
    accumulate: true,
    tile: "8x8",
  },
  {
    name: "NT bias + gelu + accumulate",
    m: 7,
    n: 13,
    k: 5,
    transB: true,
    bias: true,
    gelu: true,
    accumulate: true,
    tile: "8x8",
  },
  { name: "NN K = 0 (bias only)", m: 3, n: 4, k: 0, bias: true, tile: "8x8" },
  {
    name: "NT batch 2, A broadcast (strideA 0)",
    batch: 2,
    m: 6,
    n: 9,
    k: 5,
    transB: true,
    strideA: 0,
    tile: "8x8",
  },
  // 70000 workgroups: more than 65535, so the grid is split over x and y.
  { name: "NN batch 70000 (split grid)", batch: 70000, m: 2, n: 3, k: 2, tile: "8x8" },
  // The bigger tiles, one past their workgroup tile in M and N.
  { name: "NT 33x257x36 (32x32 tile)", m: 33, n: 257, k: 36, transB: true, tile: "32x32" },
  {
    name: "TN 36x260x10 (32x32 tile, batch 2, bias, gelu)",
    batch: 2,
    m: 36,
    n: 260,
    k: 10,
    transA: true,
    bias: true,
    gelu: true,
    tile: "32x32",
  },
  { name: "NN 17x132x12 (16x16 tile)", m: 17, n: 132, k: 12, tile: "16x16" },
  // launchMatmul's own choice.
  { name: "NT 40x24x12 (auto)", m: 40, n: 24, k: 12, transB: true, tile: "auto" },
);
// The shared-memory family: every staging path (vec4 and element loads of A and B, each
// transposed or not), one past the 64x64 workgroup tile in M and N, K not a multiple of the
// 8-wide chunk, epilogues and batch broadcasts. (Not the split grid: 65536 workgroups of 256
// invocations take a minute on llvmpipe; its index arithmetic is tileOf's, tested above.)
const S = "shared" as const;
CASES.push(
  // a4b4c4, NN: vec4 A along K, vec4 B along N.
  { name: "shared NN 68x132x36 (vec4)", m: 68, n: 132, k: 36, family: S },
  // a4b4c4, TT: vec4 A along M, vec4 B along K; bias + gelu + accumulate.
  {
    name: "shared TT 68x132x36 (vec4, bias, gelu, accumulate)",
    m: 68,
    n: 132,
    k: 36,
    transA: true,
    transB: true,
    bias: true,
    gelu: true,
    accumulate: true,
    family: S,
  },
  // a4b4c4, NT + bias: a broadcast weight over a batch, and K = 0.
  {
    name: "shared NT batch 3, B broadcast, bias, alpha",
    batch: 3,
    m: 10,
    n: 12,
    k: 8,
    transB: true,
    strideB: 0,
    bias: true,
    alpha: 0.5,
    family: S,
  },
  { name: "shared NT K = 0 (bias only)", m: 3, n: 4, k: 0, transB: true, bias: true, family: S },
  // a1b1c1, NT: element loads of A along K and of B along K (transposed).
  { name: "shared NT 65x127x33 (elements)", m: 65, n: 127, k: 33, transB: true, family: S },
  { name: "shared NT 1x1x1", m: 1, n: 1, k: 1, transB: true, family: S },
  {
    name: "shared NT batch 2, A broadcast (strideA 0)",
    batch: 2,
    m: 6,
    n: 9,
    k: 5,
    transB: true,
    strideA: 0,
    family: S,
  },
  // a1b1c1, TN + alpha + accumulate: element loads of A along M and B along N; long K.
  {
    name: "shared TN 65x127x301 (elements, alpha, accumulate)",
    m: 65,
    n: 127,
    k: 301,
    transA: true,
    alpha: -1.5,
    accumulate: true,
    family: S,
  },
  {
    name: "shared TN batch 3, B broadcast, padded strideC",
    batch: 3,
    m: 5,
    n: 7,
    k: 3,
    transA: true,
    strideB: 0,
    strideC: 40,
    alpha: -1.5,
    accumulate: true,
    family: S,
  },
);

Deno.test("launchMatmul matches an f64 reference (all transposes, batch, bias, gelu, alpha, accumulate)", async () => {
  const device = await testDevice();
  const tensors: Tensor[] = [];
  const upload = (data: Float32Array) => {
    const t = Tensor.from(device, data, [data.length]);
    tensors.push(t);
    return t;
  };

  // Upload everything first (a write submits queued work), then encode every case into one pass.
  const pending = CASES.map((c, ci) => {
    const batch = c.batch ?? 1, { m, n, k } = c;
    const sA = c.strideA ?? m * k, sB = c.strideB ?? k * n, sC = c.strideC ?? m * n;
    const a = random((batch - 1) * sA + m * k, 3 * ci + 1);
    const b = random((batch - 1) * sB + k * n, 3 * ci + 2);
    const bias = c.bias ? random(n, 1000 + ci) : null;
    const c0 = random((batch - 1) * sC + m * n, 3 * ci + 3);
    const { out, scale } = reference(c, a, b, bias, c0);
    const cT = upload(c0);
    const args = {
      a: upload(a),
      b: upload(b),
      c: cT,
      bias: bias ? upload(bias) : undefined,
      batch,
      m,
      n,
      k,
      transA: c.transA ?? false,
      transB: c.transB ?? false,
      strideA: c.strideA,
      strideB: c.strideB,
      strideC: c.strideC,
      alpha: c.alpha,
      accumulate: c.accumulate,
      epilogue: c.gelu ? "gelu" as const : "none" as const,
    };
    return { c, cT, args, expect: out, scale };
  });
  device.gpu.pushErrorScope("validation");
  for (const { c, args } of pending) {
    launchMatmul(device, { ...args, family: c.family }, c.tile === "auto" ? undefined : c.tile);
  }
  device.flush();
  const err = await device.gpu.popErrorScope();
  assert(!err, `WebGPU validation error: ${err?.message}`);
  // The reads are issued together, so they share one GPU wait.
  const results = await Promise.all(pending.map((p) => p.cT.toArray()));

  const failures: string[] = [];
  pending.forEach((p, i) => {
    const got = results[i];
    let worst = 0, at = -1;
    for (let j = 0; j < p.expect.length; j++) {
      const e = Math.abs(got[j] - p.expect[j]) /
        (1e-4 * Math.max(1, p.scale[j], Math.abs(p.expect[j])));
      if (!(e <= worst)) { // also catches NaN
        worst = Number.isNaN(e) ? Infinity : e;
        at = j;
      }
    }
    if (worst > 1) {
      failures.push(
        `${p.c.name}: element ${at} got ${got[at]}, expected ${p.expect[at]} (${
          worst.toFixed(1)
        }× tolerance)`,
      );
    }
  });
  for (const t of tensors) t.dispose();
  assert(failures.length === 0, `mismatches:\n${failures.join("\n")}`);
});

Deno.test("matmul family: register tiles on software adapters, shared memory on GPUs; checked options", async () => {
  const device = await testDevice();
  const expected = device.adapterInfo.isFallbackAdapter ? "register" : "shared";
  assert.equal(device.matmulFamily, expected, device.describe());
  await assert.rejects(
    () => Device.create({ matmulFamily: "tiled" as MatmulFamily }),
    /matmulFamily must be "register" or "shared", got "tiled"/,
  );
  const t = Tensor.from(device, new Float32Array(4), [4]);
  const args = { a: t, b: t, c: device.dummyBuffer, batch: 1, m: 2, n: 2, k: 1 };
  assert.throws(
    () => launchMatmul(device, { ...args, transA: false, transB: false, family: "shared" }, "8x8"),
    /register tile 8x8 given with the "shared" family/,
  );
  t.dispose();
});

Deno.test("chooseMatmulTile: large problems take the 32x32 tile, tiny ones a small tile", () => {
  assert(chooseMatmulTile(1, 4096, 768, 768) === "32x32");
  assert(chooseMatmulTile(1, 4096, 3072, 768) === "32x32");
  assert(chooseMatmulTile(1, 3072, 768, 4096) === "32x32");
  assert(chooseMatmulTile(1, 7, 13, 5) === "8x8");
});
