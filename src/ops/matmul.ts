import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import { launchMatmul } from "./matmul_kernel.ts";
import { sumTo } from "./basic.ts";

/** Options of {@linkcode matmul}. */
export interface MatmulOptions {
  /** Use Aᵀ: `a` is stored [..., K, M]. */
  transA?: boolean;
  /** Use Bᵀ: `b` is stored [..., N, K]. */
  transB?: boolean;
  /** Multiplies the product (e.g. 1/√d for attention scores). */
  alpha?: number;
}

interface Dims {
  batch: number;
  m: number;
  n: number;
  k: number;
  broadcastB: boolean;
}

function dims(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Dims {
  if (a.ndim < 2 || b.ndim < 2) {
    throw new Error(`matmul: operands must have ≥ 2 dims, got [${a.shape}] and [${b.shape}]`);
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const broadcastB = b.ndim === 2 && a.ndim > 2;
  if (k !== kb || (!broadcastB && batchA.join() !== batchB.join())) {
    throw new Error(
      `matmul: shapes [${a.shape}]${transA ? "ᵀ" : ""} and [${b.shape}]${
        transB ? "ᵀ" : ""
      } do not match (K ${k} vs ${kb}, batch [${batchA}] vs [${batchB}])`,
    );
  }
  return { batch: batchA.reduce((x, y) => x * y, 1), m, n, k, broadcastB };
}

/**
 * @internal Queues C = alpha·op(A)·op(B) (+ bias) into `out` (no autograd). `b` may be a
 * packed-f16 tensor (read as halves, no f32 copy); `a` and `out` are f32.
 */
export function matmulInto(
  out: Tensor,
  a: Tensor,
  b: Tensor,
  d: { batch: number; m: number; n: number; k: number; broadcastB?: boolean },
  opts: MatmulOptions & { bias?: Tensor; accumulate?: boolean; epilogue?: "none" | "gelu" } = {},
): Tensor {
  if (a.dtype !== "f32" || out.dtype !== "f32" || b.dtype === "i32") {
    throw new Error(
      `matmul: a and out must be f32 and b f32 or f16, got a ${a.dtype} [${a.shape}], ` +
        `b ${b.dtype} [${b.shape}], out ${out.dtype} [${out.shape}]`,
    );
  }
  launchMatmul(out.device, {
    a,
    b,
    bType: b.dtype === "f16" ? "f16" : "f32",
    c: out,
    bias: opts.bias,
    batch: d.batch,
    m: d.m,
    n: d.n,
    k: d.k,
    transA: opts.transA ?? false,
    transB: opts.transB ?? false,
    strideB: d.broadcastB ? 0 : undefined,
    alpha: opts.alpha ?? 1,
    accumulate: opts.accumulate ?? false,
    epilogue: opts.epilogue ?? "none",
  });
  return out;
}

/**
 * Batched matrix product `alpha · op(a) · op(b)`, PyTorch `torch.matmul` with optional transposes.
 * Shapes: a [..., M, K] (or [..., K, M] with transA), b [..., K, N] (or [..., N, K] with transB)
 * with the same leading dims, or b 2-D (broadcast over a's batch) → [..., M, N].
 * Saves a and/or b for backward, as the gradients need them.
 * @throws {Error} when the shapes do not match.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const alpha = opts.alpha ?? 1;
  const d = dims(a, b, transA, transB);
  if (d.broadcastB && transA) {
    throw new Error("matmul: a 2-D b broadcast over a batched a needs transA = false");
  }
  const out = Tensor.empty(a.device, [...a.shape.slice(0, -2), d.m, d.n]);
  matmulInto(out, a, b, d, { transA, transB, alpha });
  return record(out, [a, b], "MatmulBackward", (save) => {
    const sa = b.requiresGrad ? save(a) : null;
    const sb = a.requiresGrad ? save(b) : null;
    return (g) => {
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (sb) {
        ga = Tensor.empty(a.device, a.shape);
        if (!transA) {
          matmulInto(ga, g, sb.tensor, { ...d, k: d.n, n: d.k }, { transB: !transB, alpha });
        } else {
          matmulInto(ga, sb.tensor, g, { ...d, m: d.k, n: d.m, k: d.n, broadcastB: false }, {
            transA: transB,
            transB: true,
            alpha,
          });
        }
      }
      if (sa) {
        gb = Tensor.empty(b.device, b.shape);
        // With a broadcast b, fold a's batch into the reduction dimension.
        const fold = d.broadcastB ? { batch: 1, k: d.batch * d.m } : { k: d.m };
        if (!transB) {
          matmulInto(gb, sa.tensor, g, { ...d, ...fold, m: d.k, n: d.n, broadcastB: false }, {
            transA: !transA,
            alpha,
          });
        } else {
          matmulInto(gb, g, sa.tensor, { ...d, ...fold, m: d.n, n: d.k, broadcastB: false }, {
            transA: true,
            transB: transA,
            alpha,
          });
        }
      }
      return [ga, gb];
    };
  });
}

/**
 * PyTorch `F.linear`: y = x · Wᵀ + b. Shapes: x [..., in], weight [out, in], bias [out] →
 * [..., out]. Saves x (for dW) and uses W (a parameter, not an activation) for dX.
 * Backward: dX = dY·W, dW = dYᵀ·X, db = Σ_tokens dY.
 * @throws {Error} when `x`'s last dim differs from `in`.
 */
export function linear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: { epilogue?: "none" | "gelu" } = {},
): Tensor {
  const [outF, inF] = weight.shape;
  if (x.shape[x.ndim - 1] !== inF) {
    throw new Error(`linear: input [${x.shape}] does not match weight [${weight.shape}]`);
  }
  if (opts.epilogue === "gelu" && x.requiresGrad) {
    throw new Error("linear: the fused GELU epilogue is for inference only");
  }
  const tokens = x.numel / inF;
  const out = Tensor.empty(x.device, [...x.shape.slice(0, -1), outF]);
  const d = { batch: 1, m: tokens, n: outF, k: inF };
  matmulInto(out, x, weight, d, { transB: true, bias: bias ?? undefined, epilogue: opts.epilogue });
  return record(out, [x, weight, bias], "LinearBackward", (save) => {
    const sx = weight.requiresGrad ? save(x) : null;
    const sw = x.requiresGrad ? save(weight) : null;
    return (g) => linearBackward(g, sx?.tensor ?? null, sw?.tensor ?? null, bias, d);
  });
}

/** @internal dX = dY·W, dW = dYᵀ·X, db = Σ dY for y = x·Wᵀ + b with `d` = {m: tokens, n: out, k: in}. */
export function linearBackward(
  g: Tensor,
  x: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  d: { batch: number; m: number; n: number; k: number },
): (Tensor | null)[] {
  let gx: Tensor | null = null;
  let gw: Tensor | null = null;
  if (weight) {
    gx = Tensor.empty(g.device, [...g.shape.slice(0, -1), d.k]);
    matmulInto(gx, g, weight, { batch: 1, m: d.m, n: d.k, k: d.n });
  }
  if (x) {
    gw = Tensor.empty(g.device, [d.n, d.k]);
    matmulInto(gw, g, x, { batch: 1, m: d.n, n: d.k, k: d.m }, { transA: true });
  }
  return [gx, gw, bias?.requiresGrad ? sumTo(g, bias.shape) : null];
}
