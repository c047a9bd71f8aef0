import type { Tensor } from "./tensor.ts";
import src from "../../kernels/elementwise.wgsl" with { type: "text" };
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";

/** Operation codes of `kernels/elementwise.wgsl`'s `binary` entry point (its `OP` override). */
export const BINARY = { add: 0, sub: 1, mul: 2, axpby: 3 } as const;
/** Operation codes of its `unary` and `unary_backward` entry points. */
export const UNARY = { copy: 0, scale: 1, fill: 2, tanh: 3, gelu: 4, relu: 5 } as const;

type Entry = "binary" | "unary" | "accumulate" | "unary_backward";

// Every entry point binds and reads the same names.
const S = {
  bindings: ["a", "b", "out"],
  uniforms: ["n", "period", "alpha", "beta"],
  constants: ["OP"],
} as const;
const KERNELS = defineKernels("elementwise.wgsl", GRID_WGSL + src, {
  binary: S,
  unary: S,
  accumulate: S,
  unary_backward: S,
});

/**
 * @internal Runs one entry point of `kernels/elementwise.wgsl` over `out.numel` elements and
 * returns `out`. The tensor layer's own arithmetic (fill, copy, in-place add) and the
 * differentiable elementwise ops in `src/ops/basic.ts` both launch through here; nothing here
 * records autograd nodes, so the backward engine can use it without depending on the ops.
 */
export function elementwise(
  entry: Entry,
  op: number,
  out: Tensor,
  a: Tensor | null,
  b: Tensor | null,
  alpha = 1,
  beta = 0,
): Tensor {
  const n = out.numel;
  if (n === 0) return out;
  KERNELS[entry].launch(out.device, {
    bindings: { a, b, out },
    uniforms: { n, period: b ? b.numel : 1, alpha, beta },
    constants: { OP: op },
    workgroups: grid1d(n),
  });
  return out;
}

/** Fills `out` with `value` in place and returns it. */
export function fill(out: Tensor, value: number): Tensor {
  return elementwise("unary", UNARY.fill, out, null, null, value);
}

/** Copies `x` into `out` (same element count, f32) and returns `out`. */
export function copyInto(out: Tensor, x: Tensor): Tensor {
  return elementwise("unary", UNARY.copy, out, x, null);
}

/** In place `dst += alpha · src` (same element count), outside autograd. */
export function accumulate(dst: Tensor, src: Tensor, alpha = 1): void {
  if (dst.numel !== src.numel) {
    throw new Error(`accumulate: [${dst.shape}] and [${src.shape}] differ in size`);
  }
  elementwise("accumulate", 0, dst, src, null, alpha);
}

/** `a + b` in a new workspace tensor (b's shape a suffix of a's), outside autograd. */
export function addNew(a: Tensor, b: Tensor): Tensor {
  return elementwise("binary", BINARY.add, a.newEmpty(a.shape), a, b);
}
