import type { Device } from "../runtime/device.ts";
import type { MemoryCategory } from "../runtime/memory.ts";
import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import { accumulate, BINARY, copyInto, elementwise, fill, UNARY } from "../tensor/elementwise.ts";
import { sumRows } from "./reduce.ts";
import { activationBackwardHalf } from "./activation_half.ts";

export { accumulate };

function checkF32(t: Tensor, op: string): void {
  if (t.dtype !== "f32") {
    throw new Error(`${op}: expected an f32 tensor, got ${t.dtype} [${t.shape}]`);
  }
}

/** A tensor of `shape` filled with `value`. */
export function full(
  device: Device,
  shape: readonly number[],
  value: number,
  category: MemoryCategory = "workspace",
): Tensor {
  return fill(Tensor.empty(device, shape, { category }), value);
}

/** A tensor of zeros. */
export function zeros(
  device: Device,
  shape: readonly number[],
  category: MemoryCategory = "workspace",
): Tensor {
  return full(device, shape, 0, category);
}

/** A copy of `x` in a new buffer (outside autograd), counted under `category`. */
export function clone(x: Tensor, category: MemoryCategory = "workspace"): Tensor {
  checkF32(x, "clone");
  return copyInto(Tensor.empty(x.device, x.shape, { category }), x);
}

/** Checks that `b`'s shape is a suffix of `a`'s (the broadcast our kernels support). */
function broadcastShape(a: Tensor, b: Tensor, op: string): void {
  const k = b.ndim;
  const ok = k <= a.ndim && b.shape.every((d, i) => d === a.shape[a.ndim - k + i]);
  if (!ok) {
    throw new Error(
      `${op}: cannot broadcast [${b.shape}] to [${a.shape}] (b's shape must be a suffix of a's)`,
    );
  }
}

/** Sums `g` [..., *shape] over leading dims down to `shape` (backward of a broadcast). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g.view();
  const cols = shape.reduce((x, y) => x * y, 1);
  const rows = g.view([g.numel / cols, cols]);
  const sums = sumRows(rows);
  rows.dispose();
  const out = sums.view(shape);
  sums.dispose();
  return out;
}

function binary(a: Tensor, b: Tensor, name: keyof typeof BINARY, alpha = 1, beta = 1): Tensor {
  checkF32(a, name);
  checkF32(b, name);
  broadcastShape(a, b, name);
  const out = elementwise(
    "binary",
    BINARY[name],
    Tensor.empty(a.device, a.shape),
    a,
    b,
    alpha,
    beta,
  );
  return out;
}

/** `a + b` (b broadcast over a's leading dims). Shapes: a [..., *s], b [*s] → [..., *s]. */
export function add(a: Tensor, b: Tensor): Tensor {
  const out = binary(a, b, "add");
  return record(out, [a, b], "AddBackward", () => (g) => [g.view(), sumTo(g, b.shape)]);
}

/** `a - b` (b broadcast over a's leading dims). */
export function sub(a: Tensor, b: Tensor): Tensor {
  const out = binary(a, b, "sub");
  return record(out, [a, b], "SubBackward", () => (g) => {
    const gb = sumTo(g, b.shape);
    const neg = scale(gb, -1);
    gb.dispose();
    return [g.view(), neg];
  });
}

/** `a * b` elementwise (b broadcast over a's leading dims). Saves a and/or b as needed. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const out = binary(a, b, "mul");
  return record(out, [a, b], "MulBackward", (save) => {
    const sa = b.requiresGrad ? save(a) : null;
    const sb = a.requiresGrad ? save(b) : null;
    return (g) => {
      const ga = sb ? binary(g, sb.tensor, "mul") : null;
      let gb: Tensor | null = null;
      if (sa) {
        const prod = binary(g, sa.tensor, "mul");
        gb = sumTo(prod, b.shape);
        prod.dispose();
      }
      return [ga, gb];
    };
  });
}

/** `alpha · x + beta`. */
export function scale(x: Tensor, alpha: number, beta = 0): Tensor {
  checkF32(x, "scale");
  const out = elementwise(
    "unary",
    UNARY.scale,
    Tensor.empty(x.device, x.shape),
    x,
    null,
    alpha,
    beta,
  );
  return record(out, [x], "ScaleBackward", () => (g) => [scale(g, alpha)]);
}

function activation(x: Tensor, op: "tanh" | "gelu" | "relu", name: string): Tensor {
  checkF32(x, op);
  const out = elementwise("unary", UNARY[op], Tensor.empty(x.device, x.shape), x, null);
  return record(out, [x], name, (save) => {
    const sx = save(x, { half: true });
    return (g) => [
      // A packed-f16 save is read as halves: no f32 copy of x in backward.
      sx.isHalf
        ? activationBackwardHalf(op, sx.kept, g)
        : elementwise("unary_backward", UNARY[op], Tensor.empty(x.device, x.shape), sx.tensor, g),
    ];
  });
}

/** tanh(x). Saves x. */
export function tanh(x: Tensor): Tensor {
  return activation(x, "tanh", "TanhBackward");
}

/** GELU, exact erf form as HF `gelu`: x·½(1 + erf(x/√2)). Saves x. */
export function gelu(x: Tensor): Tensor {
  return activation(x, "gelu", "GeluBackward");
}

/** max(x, 0). Saves x. */
export function relu(x: Tensor): Tensor {
  return activation(x, "relu", "ReluBackward");
}

/** `x` with a new shape (same element count); a view sharing the buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const resolved = resolveShape(shape, x.numel, x.shape);
  const out = x.view(resolved);
  return record(out, [x], "ReshapeBackward", () => (g) => [g.view(x.shape)]);
}

function resolveShape(
  shape: readonly number[],
  numel: number,
  from: readonly number[],
): number[] {
  const s = [...shape];
  const i = s.indexOf(-1);
  if (i >= 0) {
    const rest = s.reduce((p, d, j) => (j === i ? p : p * d), 1);
    s[i] = rest === 0 ? 0 : numel / rest;
  }
  if (!s.every((d) => Number.isInteger(d) && d >= 0) || s.reduce((p, d) => p * d, 1) !== numel) {
    throw new Error(`reshape: cannot reshape [${from}] (${numel} elements) to [${shape}]`);
  }
  return s;
}
