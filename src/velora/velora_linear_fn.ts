import { record } from "../autograd/node.ts";
import { linearBackward, matmulInto } from "../ops/matmul.ts";
import type { VeLoRASharing } from "./sharing.ts";
import { Tensor } from "../tensor/tensor.ts";
import { project, type SubTokenShape, weightGrad } from "./projection.ts";

/** What a VeLoRA linear call observed, for the report (see `VeLoRALinear.inputHeldElsewhere`). */
export interface VeLoRATrace {
  /** Set at backward: whether the input buffer was still saved by another op (null: unknown). */
  inputHeldElsewhere: boolean | null;
  /** Whether the last training forward reused a z computed by another layer. */
  sharedZ: boolean;
}

/**
 * y = x·Wᵀ + b whose backward keeps only the rank-1 sub-token projection z of x (packed f16,
 * 2·T·G bytes) instead of x (4·T·D bytes). Official VeLoRA semantics (API.md "VeLoRA"):
 * dW = scale · dYᵀ (z ⊗ v), computed factored as (dYᵀZ) ⊗ v; db = Σ dY; dX = dY·W exact.
 * Shapes: x [..., D], weight [out, D], bias [out], v [M] (unit norm) → [..., out].
 * Saves z (activation), v when it may change before backward (`snapshotV`), and W (a parameter).
 * With `sharing`, layers reading the same input with the same v compute and save z once.
 */
export function veloraLinear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  v: Tensor,
  s: SubTokenShape,
  opts: { scale: number; snapshotV: boolean; trace?: VeLoRATrace; sharing?: VeLoRASharing },
): Tensor {
  const [outF, inF] = weight.shape;
  if (x.shape[x.ndim - 1] !== inF || inF !== s.dim) {
    throw new Error(
      `VeLoRA linear: input [${x.shape}] does not match weight [${weight.shape}] (D = ${s.dim})`,
    );
  }
  const tokens = x.numel / inF;
  const d = { batch: 1, m: tokens, n: outF, k: inF };
  const out = Tensor.empty(x.device, [...x.shape.slice(0, -1), outF]);
  matmulInto(out, x, weight, d, { transB: true, bias: bias ?? undefined });
  return record(out, [x, weight, bias], "VeLoRALinearBackward", (save) => {
    let sz = null;
    let sv = null;
    if (weight.requiresGrad) {
      let z = opts.sharing?.cachedZ(x, v) ?? null;
      if (opts.trace) opts.trace.sharedZ = z !== null;
      if (!z) {
        z = project(x, s, v);
        opts.sharing?.rememberZ(x, v, z);
      }
      sz = save(z);
      z.dispose();
      if (opts.snapshotV) {
        const copy = Tensor.empty(v.device, v.shape);
        v.device.copy(v, copy, v.numel * 4);
        sv = save(copy);
        copy.dispose();
      } else sv = save(v);
    }
    const sw = x.requiresGrad ? save(weight) : null;
    const inputRef = new WeakRef(x.storage);
    return (g) => {
      if (opts.trace) {
        const st = inputRef.deref();
        opts.trace.inputHeldElsewhere = st ? !st.freed && st.saves > 0 : false;
      }
      // dX and db as the plain linear; only dW comes from z.
      const [gx, , gb] = linearBackward(g, null, sw?.tensor ?? null, bias, d);
      const gw = sz && sv ? weightGrad(g, sz.tensor, sv.tensor, s, outF, opts.scale) : null;
      return [gx, gw, gb];
    };
  });
}
