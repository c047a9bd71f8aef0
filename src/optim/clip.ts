/**
 * Gradient-norm clipping on the GPU without a readback (`torch.nn.utils.clip_grad_norm_`,
 * norm_type 2).
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { full } from "../ops/basic.ts";
import src from "../../kernels/clip.wgsl" with { type: "text" };

const code = GRID_WGSL + src;
const K = defineKernels("clip.wgsl", code, {
  sumsq_partial: { bindings: ["a", "b"], uniforms: ["n", "chunk", "offset"] },
  clip_coef: { bindings: ["a", "b", "c"], uniforms: ["n", "max_norm"] },
  scale_grad: { bindings: ["a", "b"], uniforms: ["n"] },
});

const CHUNK = 65536;

/** The total norm and clip coefficient of {@linkcode clipGradNormCoef}. */
export interface ClipResult {
  /** ‖(g₁, g₂, ...)‖₂ over every gradient, one-element tensor []. */
  totalNorm: Tensor;
  /** min(1, max_norm / (totalNorm + 1e-6)), one-element tensor []. */
  clipCoef: Tensor;
}

function gradsOf(params: Iterable<Tensor | readonly [string, Tensor]>): Tensor[] {
  const grads: Tensor[] = [];
  const seen = new Set<Tensor>();
  for (const item of params as Iterable<unknown>) {
    const p = (Array.isArray(item) ? item[1] : item) as Tensor;
    if (!(p instanceof Tensor)) throw new Error("clip_grad_norm_: expected parameter tensors");
    const g = p.grad;
    if (!g || g.isDisposed || g.numel === 0 || seen.has(g)) continue;
    seen.add(g);
    if (g.dtype !== "f32") throw new Error(`clip_grad_norm_: gradient ${g} is not f32`);
    grads.push(g);
  }
  return grads;
}

/**
 * Queues the global L2 norm of every parameter's `.grad` and the clip coefficient
 * min(1, max_norm / (norm + 1e-6)), without changing the gradients. Pass `clipCoef` to
 * `AdamW.step({ gradScale })` to clip inside the update. Both results are [] tensors in
 * category "workspace" that the caller disposes. Parameters without grad are ignored; with none
 * the norm is 0 and the coefficient 1.
 */
export function clipGradNormCoef(
  params: Iterable<Tensor | readonly [string, Tensor]>,
  max_norm: number,
): ClipResult {
  if (!(max_norm >= 0)) throw new Error(`clip_grad_norm_: invalid max_norm ${max_norm}`);
  return coef(gradsOf(params), max_norm, null);
}

function coef(grads: Tensor[], maxNorm: number, deviceHint: Tensor | null): ClipResult {
  const first = grads[0] ?? deviceHint;
  if (!first) throw new Error("clip_grad_norm_: no parameters given");
  const device = first.device;
  if (!grads.length) {
    return { totalNorm: full(device, [], 0), clipCoef: full(device, [], 1) };
  }
  const slots = grads.reduce((s, g) => s + Math.ceil(g.numel / CHUNK), 0);
  const partials = Tensor.empty(device, [slots]);
  let offset = 0;
  for (const g of grads) {
    const chunks = Math.ceil(g.numel / CHUNK);
    K.sumsq_partial.launch(device, {
      bindings: { a: g, b: partials },
      uniforms: { n: g.numel, chunk: CHUNK, offset },
      workgroups: [chunks],
    });
    offset += chunks;
  }
  const totalNorm = Tensor.empty(device, []);
  const clipCoef = Tensor.empty(device, []);
  K.clip_coef.launch(device, {
    bindings: { a: partials, b: totalNorm, c: clipCoef },
    uniforms: { n: slots, max_norm: maxNorm },
    workgroups: [1],
  });
  partials.dispose();
  return { totalNorm, clipCoef };
}

/**
 * PyTorch `torch.nn.utils.clip_grad_norm_(params, max_norm)` (norm_type 2): computes the global
 * L2 norm of all gradients on the GPU and multiplies every gradient in place by
 * min(1, max_norm / (norm + 1e-6)). Queues work only (no readback).
 * @returns the total norm (before clipping) as a one-element tensor [] the caller disposes.
 */
export function clip_grad_norm_(
  params: Iterable<Tensor | readonly [string, Tensor]>,
  max_norm: number,
): Tensor {
  if (!(max_norm >= 0)) throw new Error(`clip_grad_norm_: invalid max_norm ${max_norm}`);
  const list = [...params];
  const grads = gradsOf(list);
  const head = list[0];
  const hint = head === undefined ? null : head instanceof Tensor ? head : head[1];
  const { totalNorm, clipCoef } = coef(grads, max_norm, hint);
  if (grads.length) {
    const device = totalNorm.device;
    for (const g of grads) {
      K.scale_grad.launch(device, {
        bindings: { a: g, b: clipCoef },
        uniforms: { n: g.numel },
        workgroups: grid1d(g.numel),
      });
    }
  }
  clipCoef.dispose();
  return totalNorm;
}

/** camelCase alias of {@linkcode clip_grad_norm_}. */
export const clipGradNorm = clip_grad_norm_;
