import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/permute.wgsl" with { type: "text" };
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";

const WINDOW = {
  bindings: ["x", "out"],
  uniforms: ["n", "inner", "big", "small", "start"],
} as const;
const K = defineKernels("permute.wgsl", GRID_WGSL + src, {
  permute: { bindings: ["x", "out"], uniforms: ["n", "dims", "strides"] },
  narrow: WINDOW,
  pad: WINDOW,
  place: WINDOW,
});

function checkWords(x: Tensor, op: string): void {
  if (x.dtype === "f16") {
    throw new Error(`${op}: packed f16 tensors are not supported, got f16 [${x.shape}]`);
  }
}

function normDim(dim: number, ndim: number, op: string, shape: readonly number[]): number {
  if (!Number.isInteger(dim) || dim < -ndim || dim >= ndim) {
    throw new Error(`${op}: dim ${dim} is out of range for shape [${shape}]`);
  }
  return dim < 0 ? dim + ndim : dim;
}

/** Queues a window copy (`narrow`, `pad` or `place`) writing `n` elements (reading n for place). */
function copyWindow(
  entry: "narrow" | "pad" | "place",
  x: Tensor,
  out: Tensor,
  n: number,
  [inner, big, small, start]: [number, number, number, number],
): void {
  if (n === 0) return;
  K[entry].launch(x.device, {
    bindings: { x, out },
    uniforms: { n, inner, big, small, start },
    workgroups: grid1d(n),
  });
}

/** outer (product before `dim`), inner (product after `dim`). */
function split(shape: readonly number[], dim: number): [number, number] {
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  return [outer, inner];
}

/**
 * Reorders the axes, PyTorch `x.permute(dims)` followed by `.contiguous()` (our tensors are always
 * contiguous, so this is a strided copy): out.shape[k] = x.shape[dims[k]]. Up to 4-D; e.g.
 * splitting attention heads [B, S, H, D] → [B, H, S, D] is `permute(x, [0, 2, 1, 3])`.
 * When the permutation keeps the order of every axis longer than 1 the layout is unchanged and the
 * result is a view (no kernel). f32 or i32.
 *
 * Saves (when recording): nothing. Backward: dx = permute(dy, inverse of dims).
 *
 * @throws {Error} when x has more than 4 dims, is packed f16, or dims is not a permutation of
 * x's axes (negative axes allowed); the message names the shape and dims.
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkWords(x, "permute");
  const nd = x.ndim;
  if (nd > 4) throw new Error(`permute: at most 4 dims are supported, got [${x.shape}]`);
  const perm = dims.map((d) => (Number.isInteger(d) && d < 0 ? d + nd : d));
  if (
    perm.length !== nd || !perm.every((d) => Number.isInteger(d) && d >= 0 && d < nd) ||
    new Set(perm).size !== nd
  ) {
    throw new Error(`permute: dims [${dims}] are not a permutation of the axes of [${x.shape}]`);
  }
  const outShape = perm.map((d) => x.shape[d]);
  const inverse = new Array<number>(nd);
  perm.forEach((d, k) => inverse[d] = k);
  const backward = () => (g: Tensor) => [permute(g, inverse)];
  const moved = perm.filter((d) => x.shape[d] !== 1);
  if (moved.every((d, i) => i === 0 || d > moved[i - 1])) {
    return record(x.view(outShape), [x], "PermuteBackward", backward);
  }
  const strides = new Array<number>(nd);
  for (let d = nd - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= x.shape[d];
  }
  const pad = 4 - nd;
  const dims4 = [...Array(pad).fill(1), ...outShape];
  const strides4 = [...Array(pad).fill(0), ...perm.map((d) => strides[d])];
  const out = Tensor.empty(x.device, outShape, { dtype: x.dtype });
  if (x.numel > 0) {
    K.permute.launch(x.device, {
      bindings: { x, out },
      uniforms: { n: x.numel, dims: dims4, strides: strides4 },
      workgroups: grid1d(x.numel),
    });
  }
  return record(out, [x], "PermuteBackward", backward);
}

/** narrow without autograd: x [..., big, ...] → [..., len, ...] at offset `start` of `dim`. */
function narrowRaw(x: Tensor, dim: number, start: number, len: number, shape: number[]): Tensor {
  const [outer, inner] = split(x.shape, dim);
  const out = Tensor.empty(x.device, shape, { dtype: x.dtype });
  copyWindow("narrow", x, out, outer * len * inner, [inner, x.shape[dim], len, start]);
  return out;
}

/** Inverse of narrowRaw for gradients: g [..., len, ...] into zeros of `shape` at `start`. */
function padRaw(g: Tensor, shape: readonly number[], dim: number, start: number, len: number) {
  const [outer, inner] = split(shape, dim);
  const out = Tensor.empty(g.device, shape, { dtype: g.dtype });
  copyWindow("pad", g, out, outer * shape[dim] * inner, [inner, shape[dim], len, start]);
  return out;
}

/**
 * Picks one index along `dim` and drops that axis, PyTorch `x.select(dim, index)`; default
 * x[:, 0] (the BERT pooler's [CLS] token: [B, S, D] → [B, D]). Negative dim / index count from
 * the end. f32 or i32.
 *
 * Saves (when recording): nothing. Backward: dx = zeros of x's shape with dy at `index` (one
 * kernel writing every element).
 *
 * @throws {Error} when x is a scalar or packed f16, or dim / index is out of range (the message
 * names the shape).
 */
export function selectIndex(x: Tensor, dim = 1, index = 0): Tensor {
  checkWords(x, "selectIndex");
  const d = normDim(dim, x.ndim, "selectIndex", x.shape);
  const size = x.shape[d];
  if (!Number.isInteger(index) || index < -size || index >= size) {
    throw new Error(`selectIndex: index ${index} is out of range for dim ${d} of [${x.shape}]`);
  }
  const i = index < 0 ? index + size : index;
  const shape = x.shape.filter((_, k) => k !== d);
  const out = narrowRaw(x, d, i, 1, shape);
  return record(out, [x], "SelectBackward", () => (g) => [padRaw(g, x.shape, d, i, 1)]);
}

/**
 * Elements start ≤ k < end along `dim`, PyTorch `x.narrow(dim, start, end − start)` (a copy).
 * Negative start / end count from the end; both must lie in [0, size] after that, start ≤ end.
 * f32 or i32.
 *
 * Saves (when recording): nothing. Backward: dx = zeros of x's shape with dy in the window.
 *
 * @throws {Error} when x is a scalar or packed f16, or dim / start / end are out of range (the
 * message names the shape).
 */
export function slice(x: Tensor, dim: number, start: number, end: number): Tensor {
  checkWords(x, "slice");
  const d = normDim(dim, x.ndim, "slice", x.shape);
  const size = x.shape[d];
  const s = start < 0 ? start + size : start;
  const e = end < 0 ? end + size : end;
  if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > size || s > e) {
    throw new Error(`slice: [${start}, ${end}) is out of range for dim ${d} of [${x.shape}]`);
  }
  const shape = x.shape.map((v, k) => (k === d ? e - s : v));
  const out = narrowRaw(x, d, s, e - s, shape);
  return record(out, [x], "SliceBackward", () => (g) => [padRaw(g, x.shape, d, s, e - s)]);
}

/**
 * Joins tensors along `dim`, PyTorch `torch.cat(xs, dim)`: all shapes equal except along `dim`,
 * same dtype (f32 or i32).
 *
 * Saves (when recording): nothing. Backward: each input gets its slice of dy.
 *
 * @throws {Error} for an empty list, mismatched shapes or dtypes, packed f16, or a bad dim (the
 * message names the shapes).
 */
export function concat(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error("concat: needs at least one tensor");
  const first = xs[0];
  xs.forEach((x) => checkWords(x, "concat"));
  const d = normDim(dim, first.ndim, "concat", first.shape);
  const ok = xs.every((x) =>
    x.dtype === first.dtype && x.ndim === first.ndim &&
    x.shape.every((v, k) => k === d || v === first.shape[k])
  );
  if (!ok) {
    throw new Error(
      `concat: shapes ${
        xs.map((x) => `${x.dtype} [${x.shape}]`).join(", ")
      } must match except along dim ${d}`,
    );
  }
  const big = xs.reduce((a, x) => a + x.shape[d], 0);
  const shape = first.shape.map((v, k) => (k === d ? big : v));
  const out = Tensor.empty(first.device, shape, { dtype: first.dtype });
  const starts: number[] = [];
  let start = 0;
  for (const x of xs) {
    const [outer, inner] = split(x.shape, d);
    copyWindow("place", x, out, outer * x.shape[d] * inner, [inner, big, x.shape[d], start]);
    starts.push(start);
    start += x.shape[d];
  }
  return record(
    out,
    xs,
    "ConcatBackward",
    () => (g) =>
      xs.map((x, k) =>
        x.requiresGrad ? narrowRaw(g, d, starts[k], x.shape[d], [...x.shape]) : null
      ),
  );
}

/**
 * Copies `src` into `dst` at offset `start` along `dim`, in place and outside autograd (a KV
 * cache write): dst[..., start:start+len, ...] = src, where src's shape equals dst's except along
 * `dim` (len = src.shape[dim]). f32 or i32.
 * @throws {Error} when dtypes or shapes do not fit or the window leaves dst (names both shapes).
 */
export function placeInto(dst: Tensor, src: Tensor, dim: number, start: number): void {
  checkWords(src, "placeInto");
  const d = normDim(dim, dst.ndim, "placeInto", dst.shape);
  const len = src.shape[d];
  const ok = src.dtype === dst.dtype && src.ndim === dst.ndim &&
    src.shape.every((v, k) => k === d || v === dst.shape[k]) && Number.isInteger(start) &&
    start >= 0 && start + len <= dst.shape[d];
  if (!ok) {
    throw new Error(
      `placeInto: ${src.dtype} [${src.shape}] does not fit ${dst.dtype} [${dst.shape}] at ` +
        `${start} along dim ${d}`,
    );
  }
  const [outer, inner] = split(src.shape, d);
  copyWindow("place", src, dst, outer * len * inner, [inner, dst.shape[d], len, start]);
}
