import { record } from "../autograd/node.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { matmul } from "./matmul.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/dropout.wgsl" with { type: "text" };
import { defineKernel, grid1d, GRID_WGSL } from "../runtime/kernel.ts";

const DROPOUT = defineKernel({
  name: "dropout.wgsl",
  code: GRID_WGSL + src,
  bindings: ["x", "y"],
  uniforms: ["n", "threshold", "scale"],
  perLaunch: ["key"],
});

/** PCG-RXS-M-XS 32-bit hash, the same function as `pcg` in `kernels/dropout.wgsl`. */
function pcg(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * @internal The 32-bit key the kernel hashes with: both 32-bit halves of `seed` (up to 2⁵³)
 * matter. Shared with kernels that regenerate the same mask (flash attention).
 */
export function seedKey(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return pcg((lo ^ pcg((hi ^ 0x9e3779b9) >>> 0)) >>> 0);
}

/** @internal keep ⇔ hash ≥ threshold; P(keep) = 1 − threshold / 2³² ≈ 1 − p. */
export function threshold(p: number): number {
  return Math.min(0xffffffff, Math.round(p * 4294967296));
}

/** @internal Validates dropout's p and seed. */
export function checkArgs(p: number, seed: number): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`dropout: seed must be a non-negative safe integer, got ${seed}`);
  }
}

/**
 * CPU mirror of the GPU keep-mask of {@linkcode dropout}: element i of a tensor with `n`
 * elements is kept (1) or dropped (0) exactly as the kernel decides for `seed` and `p`.
 * For tests and debugging.
 */
export function dropoutMask(n: number, p: number, seed: number): Uint8Array {
  checkArgs(p, seed);
  const key = seedKey(seed);
  const t = threshold(p);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = pcg((pcg(i) ^ key) >>> 0) >= t && p < 1 ? 1 : 0;
  return out;
}

function apply(x: Tensor, out: Tensor, p: number, seed: number): Tensor {
  const n = x.numel;
  if (n === 0) return out;
  const device = x.device;
  DROPOUT.launch(device, {
    bindings: { x, y: out },
    uniforms: { n, threshold: threshold(p), scale: p < 1 ? 1 / (1 - p) : 0 },
    perLaunch: { key: seedKey(seed) },
    workgroups: grid1d(n),
  });
  return out;
}

/**
 * Inverted dropout, PyTorch `F.dropout(x, p, training)`: each element is zeroed with
 * probability p, the others are scaled by 1/(1 − p) (p = 1 gives zeros).
 *
 * The keep-mask is a counter-based hash of (seed, element index) (see `kernels/dropout.wgsl` and
 * {@linkcode dropoutMask}): the same seed gives the same mask, and backward regenerates it from
 * the seed, so nothing is stored. Use a fresh seed per call (e.g. from a seeded step counter).
 *
 * Shapes: x [...] f32 → [...]. With p = 0 or `training` false it returns a view of x (no kernel,
 * identity gradient).
 *
 * Saves (when recording): nothing (p and seed are numbers in the closure).
 * Backward: dx = dy ⊙ mask / (1 − p), with the forward's mask.
 *
 * @throws {Error} when x is not f32, p is outside [0, 1], or seed is not a non-negative safe
 * integer.
 */
export function dropout(x: Tensor, p: number, seed: number, training = true): Tensor {
  if (x.dtype !== "f32") throw new Error(`dropout: x must be f32, got ${x.dtype} [${x.shape}]`);
  checkArgs(p, seed);
  if (p === 0 || !training) {
    return record(x.view(), [x], "DropoutBackward", () => (g) => [g.view()]);
  }
  const out = apply(x, Tensor.empty(x.device, x.shape), p, seed);
  return record(out, [x], "DropoutBackward", () => (g) => [
    apply(g, Tensor.empty(g.device, g.shape), p, seed),
  ]);
}

/**
 * `matmul(dropout(probs, p, seed), v)` that saves `probs` instead of the dropped copy: backward
 * regenerates the mask from the seed. In attention, the softmax already saves `probs`, so the
 * dropped probabilities [B, H, S, S] are never kept (HF's eager attention keeps both).
 * Shapes: probs [..., M, K], v [..., K, N] → [..., M, N].
 * Saves: probs and v. Backward: dV = dropout(probs)ᵀ·dY, dprobs = dropout(dY·vᵀ) (same mask).
 * @throws {Error} as {@linkcode dropout} and `matmul`.
 */
export function dropoutMatmul(probs: Tensor, v: Tensor, p: number, seed: number): Tensor {
  checkArgs(p, seed);
  if (p === 0) return matmul(probs, v);
  const dropped = noGrad(() => apply(probs, Tensor.empty(probs.device, probs.shape), p, seed));
  const out = noGrad(() => matmul(dropped, v));
  dropped.dispose();
  return record(out, [probs, v], "DropoutMatmulBackward", (save) => {
    const sp = save(probs);
    const sv = probs.requiresGrad ? save(v) : null;
    return (g) => {
      const pd = apply(sp.tensor, Tensor.empty(g.device, sp.tensor.shape), p, seed);
      const gv = v.requiresGrad ? matmul(pd, g, { transA: true }) : null;
      let gp: Tensor | null = null;
      if (sv) {
        const gpd = matmul(g, sv.tensor, { transB: true });
        gp = apply(gpd, Tensor.empty(g.device, gpd.shape), p, seed);
      }
      return [gp, gv];
    };
  });
}
