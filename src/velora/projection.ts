/**
 * VeLoRA's sub-token projection on the GPU: initialising v, projecting inputs to z, and the
 * factored weight gradient. Its kernels live next to it in `src/velora/kernels/`.
 * @module
 */
import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import { defineKernel, defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { matmulInto } from "../ops/matmul.ts";
import paramsSrc from "./kernels/params.wgsl" with { type: "text" };
import initBody from "./kernels/init.wgsl" with { type: "text" };
import projectBody from "./kernels/project.wgsl" with { type: "text" };
import gradBody from "./kernels/grad.wgsl" with { type: "text" };

// Every VeLoRA kernel starts with the grid prelude and the shared parameter struct.
const initSrc = GRID_WGSL + paramsSrc + initBody;
const projectSrc = GRID_WGSL + paramsSrc + projectBody;
const gradSrc = GRID_WGSL + paramsSrc + gradBody;
const SHAPE = ["tokens", "dim", "groups", "sub"] as const;

const INIT = defineKernels("velora/init.wgsl", initSrc, {
  mean_partial: { bindings: ["xin", "outp"], uniforms: [...SHAPE, "chunk"] },
  init_v: {
    bindings: ["partial", "fallback", "v", "flag"],
    uniforms: [...SHAPE, "chunk", "mode", "decay", "eps"],
  },
});
const PROJECT = defineKernel({
  name: "velora/project.wgsl",
  code: projectSrc,
  entryPoint: "project",
  bindings: ["xin", "v", "z"],
  uniforms: SHAPE,
});
const GRAD = defineKernels("velora/grad.wgsl", gradSrc, {
  expand: { bindings: ["pmat", "v", "dw"], uniforms: [...SHAPE, "outf", "scale"] },
});

/** Sub-token geometry of one VeLoRA layer: D features split into G groups of M (padded). */
export interface SubTokenShape {
  /** Input features D. */
  dim: number;
  /** Sub-tokens per token G. */
  groups: number;
  /** Sub-token size M = ⌈D / G⌉; the input is zero-padded to G·M. */
  sub: number;
}

function shape(s: SubTokenShape, tokens: number) {
  return { tokens, dim: s.dim, groups: s.groups, sub: s.sub };
}

const CHUNK = 64;

/**
 * Updates `v` [M] in place on the GPU from the sub-tokens of `x` [T, D] (no readback):
 * mode "set": v ← normalize(mean_{t,g} s[t,g,:]); mode "ema": v ← normalize(decay·v + (1−decay)·mean).
 * If the result's norm is below `eps`, v ← `fallback` and `flag[0]` is set to 1.
 * Source: the official VeLoRA `init_embed_` (batch_average, ema_<decay>).
 */
export function initV(
  x: Tensor,
  s: SubTokenShape,
  v: Tensor,
  fallback: Tensor,
  flag: Tensor,
  opts: { mode: "set" | "ema"; decay?: number; eps?: number },
): void {
  const device = x.device;
  const tokens = x.numel / s.dim;
  const chunks = Math.max(1, Math.ceil(tokens / CHUNK));
  const partial = Tensor.empty(device, [chunks, s.sub]);
  INIT.mean_partial.launch(device, {
    bindings: { xin: x, outp: partial },
    uniforms: { ...shape(s, tokens), chunk: CHUNK },
    workgroups: [chunks],
  });
  INIT.init_v.launch(device, {
    bindings: { partial, fallback, v, flag },
    uniforms: {
      ...shape(s, tokens),
      chunk: chunks,
      mode: opts.mode === "ema" ? 1 : 0,
      decay: opts.decay ?? 0,
      eps: opts.eps ?? 1e-12,
    },
    workgroups: [1],
  });
  partial.dispose();
}

/**
 * z[t, g] = s[t, g, :]·v for x [T, D] → packed f16 tensor [T, G] (2·T·G bytes, rounded up to 4).
 */
export function project(x: Tensor, s: SubTokenShape, v: Tensor): Tensor {
  const device = x.device;
  const tokens = x.numel / s.dim;
  const z = Tensor.empty(device, [tokens, s.groups], { dtype: "f16" });
  PROJECT.launch(device, {
    bindings: { xin: x, v, z },
    uniforms: shape(s, tokens),
    workgroups: grid1d(Math.ceil((tokens * s.groups) / 2)),
  });
  return z;
}

/**
 * Factored weight gradient dW = scale · (dYᵀ Z) ⊗ v → [out, D], from dY [T, out], z [T, G] (f16).
 * P = dYᵀZ [out, G] runs on the tuned matmul reading z's packed halves directly (natively with
 * `shader-f16`), T·out·G multiply-adds instead of T·out·D for dYᵀ·x̂; the expansion by v is one
 * contiguous pass over dW.
 */
export function weightGrad(
  dy: Tensor,
  z: Tensor,
  v: Tensor,
  s: SubTokenShape,
  outFeatures: number,
  scale: number,
): Tensor {
  const device: Device = dy.device;
  const tokens = dy.numel / outFeatures;
  const pmat = Tensor.empty(device, [outFeatures, s.groups]);
  matmulInto(pmat, dy, z, { batch: 1, m: outFeatures, n: s.groups, k: tokens }, { transA: true });
  const dw = Tensor.empty(device, [outFeatures, s.dim]);
  GRAD.expand.launch(device, {
    bindings: { pmat, v, dw },
    uniforms: { ...shape(s, tokens), outf: outFeatures, scale },
    workgroups: grid1d(Math.ceil((outFeatures * s.dim) / 4)),
  });
  pmat.dispose();
  return dw;
}
