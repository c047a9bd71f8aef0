/**
 * Raw-WebGPU encoder of the project's batched matmul (`kernels/matmul*.wgsl`).
 *
 * Semantics, per batch b: `C[b] = epilogue(alpha · op(A[b]) · op(B[b]) + bias)`, where the
 * epilogue is the identity or GELU (erf form), and with `accumulate` the result is added to C
 * instead of overwriting it. The kernel is tuned for Mesa llvmpipe (the software adapter used
 * here): see the header of `kernels/matmul.wgsl` for why it looks the way it does.
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

/** Arguments of {@linkcode encodeMatmul}. All sizes and strides are in f32 elements. */
export interface MatmulArgs {
  /** A: [batch, M, K] row-major, or [batch, K, M] when `transA`. */
  a: GPUBuffer;
  /** B: [batch, K, N] row-major, or [batch, N, K] when `transB`. */
  b: GPUBuffer;
  /** C: [batch, M, N] row-major, written (or added to, with `accumulate`). Must not alias A, B or bias. */
  c: GPUBuffer;
  /** Optional bias [N], added to every row of every batch (after alpha, before the epilogue). */
  bias?: GPUBuffer;
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
}

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
const PARAM_BYTES = 48;

const dummies = new WeakMap<GPUDevice, GPUBuffer>();

function dummyBuffer(gpu: GPUDevice): GPUBuffer {
  let d = dummies.get(gpu);
  if (!d) {
    d = gpu.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: "matmul-no-bias" });
    dummies.set(gpu, d);
  }
  return d;
}

/** Worker threads llvmpipe spreads workgroups over (one per CPU); only used to weigh tile choices. */
function cores(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)
    ?.hardwareConcurrency;
  return Math.max(1, Math.min(16, n ?? 4));
}

/**
 * @internal The tile {@linkcode encodeMatmul} uses for a problem: the one with the least estimated
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
    throw new Error(`encodeMatmul: ${name} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Encodes `C[b] = epilogue(alpha · op(A[b]) · op(B[b]) + bias)` for b < batch into `pass`,
 * choosing the fastest kernel variant for the shape. Queues one dispatch; creates no command
 * encoder and submits nothing.
 *
 * Layouts (row-major, f32): A is [batch, M, K], or [batch, K, M] when `transA`; B is
 * [batch, K, N], or [batch, N, K] when `transB`; C is [batch, M, N]; bias is [N]. Batch strides
 * default to the contiguous ones; a stride of 0 broadcasts that operand over the batch.
 * Any M, N, K ≥ 0 work; vec4 loads are used for an operand whose contiguous dimension and batch
 * stride are multiples of 4, element loads otherwise.
 *
 * Pipelines come from `getPipeline(key, code, constants)` (entry point "main", layout "auto"):
 * `key` names `code` uniquely (the same key always comes with the same code), `constants` are
 * the WGSL overrides TRANS_A, TRANS_B, HAS_BIAS, GELU, ACCUMULATE (so each combination used is
 * its own pipeline). Sizes, strides and alpha go in a 48-byte uniform from `getUniform(data)`.
 *
 * @example Linear forward y = x·Wᵀ + b with x [T, in], W [out, in]:
 * `encodeMatmul(gpu, pass, getPipeline, getUniform, { a: x, b: w, c: y, bias, batch: 1, m: T,
 *  n: out, k: in, transA: false, transB: true })`
 * @throws {Error} on invalid sizes or strides, buffers too small for them, or C aliasing an input.
 */
export function encodeMatmul(
  gpu: GPUDevice,
  pass: GPUComputePassEncoder,
  getPipeline: (key: string, code: string, constants: Record<string, number>) => GPUComputePipeline,
  getUniform: (data: ArrayBuffer) => GPUBuffer,
  args: MatmulArgs,
): void {
  encodeMatmulWithTile(gpu, pass, getPipeline, getUniform, args, undefined);
}

/**
 * @internal {@linkcode encodeMatmul} with the register tile forced (tests and benchmarks);
 * `tile` undefined chooses as encodeMatmul does.
 */
export function encodeMatmulWithTile(
  gpu: GPUDevice,
  pass: GPUComputePassEncoder,
  getPipeline: (key: string, code: string, constants: Record<string, number>) => GPUComputePipeline,
  getUniform: (data: ArrayBuffer) => GPUBuffer,
  args: MatmulArgs,
  tile: MatmulTile | undefined,
): void {
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
      `encodeMatmul: strideC ${strideC} makes the ${batch} outputs [${m}, ${n}] overlap`,
    );
  }
  if (args.c === args.a || args.c === args.b || args.c === args.bias) {
    throw new Error("encodeMatmul: c must not alias a, b or bias");
  }
  const need = (what: string, buf: GPUBuffer, elements: number) => {
    if (elements > 0x7fffffff || buf.size < elements * 4) {
      throw new Error(
        `encodeMatmul: ${what} needs ${elements} f32 (${
          elements * 4
        } bytes), buffer has ${buf.size} bytes`,
      );
    }
  };
  if (k > 0) {
    need("a", args.a, (batch - 1) * strideA + m * k);
    need("b", args.b, (batch - 1) * strideB + k * n);
  }
  need("c", args.c, (batch - 1) * strideC + m * n);
  if (args.bias) need("bias", args.bias, n);

  const vecA = (transA ? m % 4 === 0 : k % 4 === 0) && (batch === 1 || strideA % 4 === 0);
  const vecB = (transB ? k % 4 === 0 : n % 4 === 0) && (batch === 1 || strideB % 4 === 0);
  const vecC = n % 4 === 0 && (batch === 1 || strideC % 4 === 0);
  const name = tile ?? chooseMatmulTile(batch, m, n, k);
  const t = TILES[name];
  const key = `matmul_${name}_${vecA ? "a4" : "a1"}${vecB ? "b4" : "b1"}${vecC ? "c4" : "c1"}.wgsl`;
  const code = common + (vecA ? aVec4 : aScalar) + (vecB ? bVec4 : bScalar) +
    (vecC ? cVec4 : cScalar) + t.code;
  const pipeline = getPipeline(key, code, {
    TRANS_A: transA ? 1 : 0,
    TRANS_B: transB ? 1 : 0,
    HAS_BIAS: args.bias ? 1 : 0,
    GELU: (args.epilogue ?? "none") === "gelu" ? 1 : 0,
    ACCUMULATE: args.accumulate ? 1 : 0,
  });

  const tilesM = Math.ceil(m / t.tm);
  const tilesN = Math.ceil(n / (LANES * t.tn));
  const total = batch * tilesM * tilesN;
  const gridX = Math.min(total, MAX_GRID);
  const gridY = Math.ceil(total / gridX);
  if (gridY > MAX_GRID) throw new Error(`encodeMatmul: ${total} workgroups exceed the grid limit`);

  const data = new ArrayBuffer(PARAM_BYTES);
  const u = new Uint32Array(data);
  u.set([m, n, k, batch, strideA, strideB, strideC]);
  new Float32Array(data)[7] = args.alpha ?? 1;
  u.set([tilesM, tilesN, gridX, 0], 8);

  // With K = 0 nothing is read from A or B, which may then be empty (unbindable) buffers.
  const bindGroup = gpu.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: getUniform(data) } },
      { binding: 1, resource: { buffer: k > 0 ? args.a : dummyBuffer(gpu) } },
      { binding: 2, resource: { buffer: k > 0 ? args.b : dummyBuffer(gpu) } },
      { binding: 3, resource: { buffer: args.c } },
      { binding: 4, resource: { buffer: args.bias ?? dummyBuffer(gpu) } },
    ],
  });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(gridX, gridY);
}
