/**
 * The project's batched matmul kernel (`kernels/matmul*.wgsl`), launched through the kernel layer.
 *
 * Semantics, per batch b: `C[b] = epilogue(alpha · op(A[b]) · op(B[b]) + bias)`, where the
 * epilogue is the identity or GELU (erf form), and with `accumulate` the result is added to C
 * instead of overwriting it. Two kernel families compute it (see `MatmulFamily`): register tiles
 * tuned for Mesa llvmpipe (software adapters; see the header of `kernels/matmul.wgsl` for why they
 * look the way they do) and a workgroup-memory tiled kernel for hardware GPUs
 * (`kernels/matmul_shared.wgsl`). The device picks one by adapter (`Device.matmulFamily`); a launch
 * may override it.
 *
 * @module
 */
import common from "../../kernels/matmul.wgsl" with { type: "text" };
import aVec4 from "../../kernels/matmul_a_vec4.wgsl" with { type: "text" };
import aScalar from "../../kernels/matmul_a_scalar.wgsl" with { type: "text" };
import bVec4 from "../../kernels/matmul_b_vec4.wgsl" with { type: "text" };
import bScalar from "../../kernels/matmul_b_scalar.wgsl" with { type: "text" };
import cVec4 from "../../kernels/matmul_c_vec4.wgsl" with { type: "text" };
import cScalar from "../../kernels/matmul_c_scalar.wgsl" with { type: "text" };
import tile32 from "../../kernels/matmul_tile_32x32.wgsl" with { type: "text" };
import tile16 from "../../kernels/matmul_tile_16x16.wgsl" with { type: "text" };
import tile8 from "../../kernels/matmul_tile_8x8.wgsl" with { type: "text" };
import shared from "../../kernels/matmul_shared.wgsl" with { type: "text" };
import sharedAVec4 from "../../kernels/matmul_shared_a_vec4.wgsl" with { type: "text" };
import sharedAScalar from "../../kernels/matmul_shared_a_scalar.wgsl" with { type: "text" };
import sharedBVec4 from "../../kernels/matmul_shared_b_vec4.wgsl" with { type: "text" };
import sharedBScalar from "../../kernels/matmul_shared_b_scalar.wgsl" with { type: "text" };
import type { Device, MatmulFamily } from "../runtime/device.ts";
import { type Bindable, defineKernel, type Kernel } from "../runtime/kernel.ts";

/** Arguments of {@linkcode launchMatmul}. All sizes and strides are in f32 elements. */
export interface MatmulArgs {
  /** A: [batch, M, K] row-major, or [batch, K, M] when `transA`. */
  a: Bindable;
  /**
   * B: [batch, K, N] row-major, or [batch, N, K] when `transB`; f32, or packed f16 with
   * `bType: "f16"`.
   */
  b: Bindable;
  /**
   * B's element type (default "f32"): "f16" reads packed halves (a `Tensor` of dtype "f16": two
   * IEEE halves per u32 word, element 2i in the low bits), natively with `shader-f16` when the
   * device has it, with `unpack2x16float` otherwise; products and sums stay f32. Strides and sizes
   * stay in elements. Saves the f32 copy of a packed operand (VeLoRA's z).
   */
  bType?: "f32" | "f16";
  /** C: [batch, M, N] row-major, written (or added to, with `accumulate`). Must not alias A, B or bias. */
  c: Bindable;
  /** Optional bias [N], added to every row of every batch (after alpha, before the epilogue). */
  bias?: Bindable | null;
  /** Number of independent products (≥ 0; 0 encodes nothing). */
  batch: number;
  /** Rows of op(A) and C. */
  m: number;
  /** Columns of op(B) and C. */
  n: number;
  /** Columns of op(A) = rows of op(B) (0 gives C = epilogue(bias)). */
  k: number;
  /** A is stored [K, M] (use Aᵀ). */
  transA: boolean;
  /** B is stored [N, K] (use Bᵀ), e.g. a Linear weight [out, in]. */
  transB: boolean;
  /** Elements between consecutive batches of A; default M·K, 0 = the same A for every batch. */
  strideA?: number;
  /** Elements between consecutive batches of B; default K·N, 0 = broadcast (e.g. a shared weight). */
  strideB?: number;
  /** Elements between consecutive batches of C; default M·N (0 is rejected when batch > 1). */
  strideC?: number;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** C += result (gradient accumulation) instead of C = result (default false). */
  accumulate?: boolean;
  /** Applied after alpha and bias: "gelu" is 0.5·x·(1 + erf(x/√2)) (default "none"). */
  epilogue?: "none" | "gelu";
  /**
   * Kernel family for this launch (default: `device.matmulFamily`, chosen by adapter). Tests and
   * `bench/matmul.ts --family` use it to run either family on any adapter.
   */
  family?: MatmulFamily;
}

export type { MatmulFamily };

/** The register tiles the kernel comes in (outputs per invocation; a workgroup is 8 invocations along N). */
export type MatmulTile = "32x32" | "16x16" | "8x8";

interface TileInfo {
  tm: number; // rows per invocation (= per workgroup)
  tn: number; // columns per invocation
  code: string;
  /** Relative throughput on large problems (measured on llvmpipe). */
  eff: number;
}

const TILES: Record<MatmulTile, TileInfo> = {
  "32x32": { tm: 32, tn: 32, code: tile32, eff: 1 },
  "16x16": { tm: 16, tn: 16, code: tile16, eff: 0.87 },
  "8x8": { tm: 8, tn: 8, code: tile8, eff: 0.6 },
};

/** Invocations per workgroup (fixed by the `@workgroup_size(8)` of the tile files). */
const LANES = 8;
const MAX_GRID = 65535;

type MatmulKernel = Kernel<
  "A" | "B" | "C" | "bias",
  | "M"
  | "N"
  | "K"
  | "batch"
  | "strideA"
  | "strideB"
  | "strideC"
  | "alpha"
  | "tilesM"
  | "tilesN"
  | "gridX",
  "TRANS_A" | "TRANS_B" | "HAS_BIAS" | "GELU" | "ACCUMULATE"
>;

/**
 * How B is stored and read: "f32"; "f16" packed halves read as u32 words with
 * `unpack2x16float` (any adapter); "f16native" the same bytes read as `array<f16>` /
 * `array<vec4<f16>>` (devices with `shader-f16`). Two halves per u32 word, element 2i in the low
 * 16 bits: the layout of `pack2x16float` and of a little-endian `array<f16>` alike.
 */
type BStorage = "f32" | "f16" | "f16native";

// The storage part of the B operand: binding 2 and its accessors, ldB(i) (element i as f32) and
// ldB4(i) (elements 4i..4i+3 as vec4f, for the vec4 loaders). Kept here rather than as six
// two-line .wgsl files: each is only the binding's type and the conversion to f32.
const B_STORAGE: Readonly<Record<BStorage, readonly [scalar: string, vec4: string]>> = Object
  .freeze({
    f32: [
      "@group(0) @binding(2) var<storage, read> B: array<f32>;\n" +
      "fn ldB(i: u32) -> f32 { return B[i]; }\n",
      "@group(0) @binding(2) var<storage, read> B: array<vec4f>;\n" +
      "fn ldB4(i: u32) -> vec4f { return B[i]; }\n",
    ],
    f16: [
      "@group(0) @binding(2) var<storage, read> B: array<u32>;\n" +
      "fn ldB(i: u32) -> f32 { let w = unpack2x16float(B[i >> 1u]); " +
      "return select(w.x, w.y, (i & 1u) == 1u); }\n",
      "@group(0) @binding(2) var<storage, read> B: array<vec2u>;\n" +
      "fn ldB4(i: u32) -> vec4f { let w = B[i]; " +
      "return vec4f(unpack2x16float(w.x), unpack2x16float(w.y)); }\n",
    ],
    f16native: [
      "@group(0) @binding(2) var<storage, read> B: array<f16>;\n" +
      "fn ldB(i: u32) -> f32 { return f32(B[i]); }\n",
      "@group(0) @binding(2) var<storage, read> B: array<vec4<f16>>;\n" +
      "fn ldB4(i: u32) -> vec4f { return vec4f(B[i]); }\n",
    ],
  });

const UNIFORMS = [
  "M",
  "N",
  "K",
  "batch",
  "strideA",
  "strideB",
  "strideC",
  "alpha",
  "tilesM",
  "tilesN",
  "gridX",
] as const;
const CONSTANTS = ["TRANS_A", "TRANS_B", "HAS_BIAS", "GELU", "ACCUMULATE"] as const;

/** The shader module of one variant: `tile` of the register family, or "shared". */
function variant(
  tile: MatmulTile | "shared",
  vecA: boolean,
  vecB: boolean,
  b: BStorage,
  vecC: boolean,
): MatmulKernel {
  const loaders = tile === "shared"
    ? (vecA ? sharedAVec4 : sharedAScalar) + (vecB ? sharedBVec4 : sharedBScalar)
    : (vecA ? aVec4 : aScalar) + (vecB ? bVec4 : bScalar);
  const tag = `${vecA ? "a4" : "a1"}${vecB ? "b4" : "b1"}${b === "f32" ? "" : `_${b}`}` +
    (vecC ? "c4" : "c1");
  return defineKernel({
    name: `matmul_${tile}_${tag}.wgsl`,
    // `enable` must precede every declaration.
    code: (b === "f16native" ? "enable f16;\n" : "") + common + loaders +
      B_STORAGE[b][vecB ? 1 : 0] + (vecC ? cVec4 : cScalar) +
      (tile === "shared" ? shared : TILES[tile].code),
    bindings: ["A", "B", "C", "bias"],
    uniforms: UNIFORMS,
    constants: CONSTANTS,
  });
}

/** Output tile of a shared-family workgroup (16×16 invocations × 4×4 outputs each). */
const SHARED_TILE = 64;

/**
 * Every variant, declared once: (3 register tiles + shared) × vec4 loads of A × of B × B storage
 * (3) × vec4 stores of C, keyed `${tile}:${vecA}${vecB}${storage}${vecC}`.
 */
const VARIANTS: Readonly<Record<string, MatmulKernel>> = Object.freeze(Object.fromEntries(
  ([...Object.keys(TILES), "shared"] as (MatmulTile | "shared")[]).flatMap((tile) =>
    (["f32", "f16", "f16native"] as BStorage[]).flatMap((b) =>
      [0, 1, 2, 3, 4, 5, 6, 7].map((bits) => {
        const [va, vb, vc] = [(bits & 4) > 0, (bits & 2) > 0, (bits & 1) > 0];
        return [`${tile}:${+va}${+vb}${b}${+vc}`, variant(tile, va, vb, b, vc)];
      })
    )
  ),
));

function bufferOf(b: Bindable): GPUBuffer {
  return "buffer" in b ? b.buffer : b;
}

/** Worker threads llvmpipe spreads workgroups over (one per CPU); only used to weigh tile choices. */
function cores(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)
    ?.hardwareConcurrency;
  return Math.max(1, Math.min(16, n ?? 4));
}

/**
 * @internal The tile {@linkcode launchMatmul} uses for a problem: the one with the least estimated
 * time, counting padded work (tiles overhanging M or N), per-tile speed, and idle cores.
 */
export function chooseMatmulTile(batch: number, m: number, n: number, k: number): MatmulTile {
  let best: MatmulTile = "32x32";
  let bestCost = Infinity;
  const threads = cores();
  for (const [name, t] of Object.entries(TILES) as [MatmulTile, TileInfo][]) {
    const tilesM = Math.ceil(m / t.tm);
    const tilesN = Math.ceil(n / (LANES * t.tn));
    const groups = batch * tilesM * tilesN;
    const rounds = Math.ceil(groups / threads);
    // The epilogue costs about as much as 24 steps of k.
    const cost = rounds * t.tm * LANES * t.tn * (k + 24) / t.eff;
    if (cost < bestCost) {
      bestCost = cost;
      best = name;
    }
  }
  return best;
}

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new Error(`launchMatmul: ${name} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Queues `C[b] = epilogue(alpha · op(A[b]) · op(B[b]) + bias)` for b < batch on `device`.
 * One launch; never waits. The kernel family is `args.family ?? device.matmulFamily`: "register"
 * picks the fastest register tile for the shape (or `tile`, for tests and benchmarks), "shared"
 * runs 64×64 workgroup tiles staged through workgroup memory (hardware GPUs).
 *
 * Layouts (row-major, f32): A is [batch, M, K], or [batch, K, M] when `transA`; B is
 * [batch, K, N], or [batch, N, K] when `transB`; C is [batch, M, N]; bias is [N]. Batch strides
 * default to the contiguous ones; a stride of 0 broadcasts that operand over the batch.
 * Any M, N, K ≥ 0 work; vec4 loads are used for an operand whose contiguous dimension and batch
 * stride are multiples of 4, element loads otherwise. The epilogue options and transposes are
 * WGSL overrides (each combination used is its own pipeline).
 *
 * @example Linear forward y = x·Wᵀ + b with x [T, in], W [out, in]:
 * `launchMatmul(device, { a: x, b: w, c: y, bias, batch: 1, m: T, n: out, k: in,
 *  transA: false, transB: true })`
 * @throws {Error} on invalid sizes or strides, buffers too small for them, C aliasing an input,
 * an unknown `family`, or a register `tile` with the "shared" family.
 */
export function launchMatmul(device: Device, args: MatmulArgs, tile?: MatmulTile): void {
  const { batch, m, n, k, transA, transB } = args;
  checkDim("batch", batch);
  checkDim("m", m);
  checkDim("n", n);
  checkDim("k", k);
  const strideA = args.strideA ?? m * k;
  const strideB = args.strideB ?? k * n;
  const strideC = args.strideC ?? m * n;
  checkDim("strideA", strideA);
  checkDim("strideB", strideB);
  checkDim("strideC", strideC);
  if (batch === 0 || m === 0 || n === 0) return;
  if (batch > 1 && strideC < m * n) {
    throw new Error(
      `launchMatmul: strideC ${strideC} makes the ${batch} outputs [${m}, ${n}] overlap`,
    );
  }
  const a = bufferOf(args.a), b = bufferOf(args.b), c = bufferOf(args.c);
  const bias = args.bias ? bufferOf(args.bias) : null;
  if (c === a || c === b || c === bias) {
    throw new Error("launchMatmul: c must not alias a, b or bias");
  }
  const bType = args.bType ?? "f32";
  if (bType !== "f32" && bType !== "f16") {
    throw new Error(`launchMatmul: bType must be "f32" or "f16", got ${JSON.stringify(bType)}`);
  }
  const need = (what: string, buf: GPUBuffer, elements: number, half = false) => {
    const bytes = half ? Math.ceil(elements / 2) * 4 : elements * 4;
    if (elements > 0x7fffffff || buf.size < bytes) {
      throw new Error(
        `launchMatmul: ${what} needs ${elements} ${
          half ? "f16" : "f32"
        } (${bytes} bytes), buffer has ${buf.size} bytes`,
      );
    }
  };
  if (k > 0) {
    need("a", a, (batch - 1) * strideA + m * k);
    need("b", b, (batch - 1) * strideB + k * n, bType === "f16");
  }
  need("c", c, (batch - 1) * strideC + m * n);
  if (bias) need("bias", bias, n);

  const vecA = (transA ? m % 4 === 0 : k % 4 === 0) && (batch === 1 || strideA % 4 === 0);
  const vecB = (transB ? k % 4 === 0 : n % 4 === 0) && (batch === 1 || strideB % 4 === 0);
  const vecC = n % 4 === 0 && (batch === 1 || strideC % 4 === 0);
  const family = args.family ?? device.matmulFamily;
  if (family !== "register" && family !== "shared") {
    throw new Error(
      `launchMatmul: family must be "register" or "shared", got ${JSON.stringify(family)}`,
    );
  }
  if (family === "shared" && tile !== undefined) {
    throw new Error(`launchMatmul: register tile ${tile} given with the "shared" family`);
  }
  const name = tile ?? chooseMatmulTile(batch, m, n, k);
  const t = TILES[name];
  const tilesM = Math.ceil(m / (family === "shared" ? SHARED_TILE : t.tm));
  const tilesN = Math.ceil(n / (family === "shared" ? SHARED_TILE : LANES * t.tn));
  const total = batch * tilesM * tilesN;
  const gridX = Math.min(total, MAX_GRID);
  const gridY = Math.ceil(total / gridX);
  if (gridY > MAX_GRID) throw new Error(`launchMatmul: ${total} workgroups exceed the grid limit`);

  const storage: BStorage = bType === "f32" ? "f32" : device.shaderF16 ? "f16native" : "f16";
  const kernel =
    VARIANTS[`${family === "shared" ? "shared" : name}:${+vecA}${+vecB}${storage}${+vecC}`];
  kernel.launch(device, {
    // With K = 0 nothing is read from A or B, which may then be empty (unbindable) buffers.
    bindings: { A: k > 0 ? a : null, B: k > 0 ? b : null, C: c, bias },
    uniforms: {
      M: m,
      N: n,
      K: k,
      batch,
      strideA,
      strideB,
      strideC,
      alpha: args.alpha ?? 1,
      tilesM,
      tilesN,
      gridX,
    },
    constants: {
      TRANS_A: transA,
      TRANS_B: transB,
      HAS_BIAS: bias !== null,
      GELU: (args.epilogue ?? "none") === "gelu",
      ACCUMULATE: args.accumulate ?? false,
    },
    workgroups: [gridX, gridY],
  });
}
