import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import { f32, grid1d, params } from "../runtime/launch.ts";
import { matmulInto } from "../ops/matmul.ts";
import paramsSrc from "../../kernels/velora_params.wgsl" with { type: "text" };
import initBody from "../../kernels/velora_init.wgsl" with { type: "text" };
import projectBody from "../../kernels/velora_project.wgsl" with { type: "text" };
import gradBody from "../../kernels/velora_grad.wgsl" with { type: "text" };

// Every VeLoRA kernel starts with the shared parameter struct.
const initSrc = paramsSrc + initBody;
const projectSrc = paramsSrc + projectBody;
const gradSrc = paramsSrc + gradBody;

/** Sub-token geometry of one VeLoRA layer: D features split into G groups of M (padded). */
export interface SubTokenShape {
  /** Input features D. */
  dim: number;
  /** Sub-tokens per token G. */
  groups: number;
  /** Sub-token size M = ⌈D / G⌉; the input is zero-padded to G·M. */
  sub: number;
}

function packParams(
  s: SubTokenShape,
  tokens: number,
  extra: {
    outf?: number;
    chunk?: number;
    mode?: number;
    scale?: number;
    decay?: number;
    eps?: number;
  } = {},
): Uint32Array {
  return params(
    tokens,
    s.dim,
    s.groups,
    s.sub,
    extra.outf ?? 0,
    extra.chunk ?? 0,
    extra.mode ?? 0,
    0,
    f32(extra.scale ?? 1),
    f32(extra.decay ?? 0),
    f32(extra.eps ?? 0),
    f32(0),
  );
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
  device.dispatch({
    pipeline: device.pipeline("velora_init.wgsl", initSrc, {}, "mean_partial"),
    buffers: [x.buffer, partial.buffer],
    params: packParams(s, tokens, { chunk: CHUNK }),
    workgroups: [chunks],
  });
  device.dispatch({
    pipeline: device.pipeline("velora_init.wgsl", initSrc, {}, "init_v"),
    buffers: [partial.buffer, fallback.buffer, v.buffer, flag.buffer],
    params: packParams(s, tokens, {
      chunk: chunks,
      mode: opts.mode === "ema" ? 1 : 0,
      decay: opts.decay ?? 0,
      eps: opts.eps ?? 1e-12,
    }),
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
  device.dispatch({
    pipeline: device.pipeline("velora_project.wgsl", projectSrc, {}, "project"),
    buffers: [x.buffer, v.buffer, z.buffer],
    params: packParams(s, tokens),
    workgroups: grid1d(Math.ceil((tokens * s.groups) / 2)),
  });
  return z;
}

/**
 * Factored weight gradient dW = scale · (dYᵀ Z) ⊗ v → [out, D], from dY [T, out], z [T, G] (f16).
 * P = dYᵀZ [out, G] runs on the tuned matmul (T·out·G multiply-adds instead of T·out·D for
 * dYᵀ·x̂); the expansion by v is one contiguous pass over dW.
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
  const zf = Tensor.empty(device, [tokens, s.groups]);
  device.dispatch({
    pipeline: device.pipeline("velora_grad.wgsl", gradSrc, {}, "unpack_z"),
    buffers: [z.buffer, zf.buffer],
    params: packParams(s, tokens),
    workgroups: grid1d(Math.ceil((tokens * s.groups) / 2)),
  });
  const pmat = Tensor.empty(device, [outFeatures, s.groups]);
  matmulInto(pmat, dy, zf, { batch: 1, m: outFeatures, n: s.groups, k: tokens }, { transA: true });
  zf.dispose();
  const dw = Tensor.empty(device, [outFeatures, s.dim]);
  device.dispatch({
    pipeline: device.pipeline("velora_grad.wgsl", gradSrc, {}, "expand"),
    buffers: [pmat.buffer, v.buffer, dw.buffer],
    params: packParams(s, tokens, { outf: outFeatures, scale }),
    workgroups: grid1d(Math.ceil((outFeatures * s.dim) / 4)),
  });
  pmat.dispose();
  return dw;
}
