import { Tensor } from "../../src/tensor/tensor.ts";
import type { Device } from "../../src/runtime/device.ts";
import { noGrad } from "../../src/autograd/grad_mode.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { assertClose, rng } from "./gpu.ts";

/** One input of a gradient check. */
export interface GradInput {
  data: Float32Array | Int32Array;
  shape: number[];
  /** false for integer inputs or inputs that need no check (default true for f32). */
  check?: boolean;
}

/**
 * Central finite-difference check of `fn`'s gradient. `fn` maps input tensors to a tensor whose
 * weighted sum Σ w·y (fixed random weights) is the scalar being differentiated, so ops with
 * non-scalar outputs are checked in full. Up to `maxPerInput` coordinates per input are perturbed
 * by ±eps; all perturbed forwards are queued before reading, to keep GPU round trips few.
 */
export async function gradcheck(
  device: Device,
  fn: (...xs: Tensor[]) => Tensor,
  inputs: GradInput[],
  { eps = 1e-2, rtol = 2e-2, atol = 2e-3, maxPerInput = 24, seed = 7 } = {},
): Promise<void> {
  const make = (datas: (Float32Array | Int32Array)[], grad: boolean) =>
    inputs.map((inp, i) =>
      Tensor.from(device, datas[i], inp.shape, {
        requiresGrad: grad && inp.check !== false && !(inp.data instanceof Int32Array),
      })
    );
  const base = inputs.map((i) => i.data);
  // Weights for the output so that every output element matters.
  const probe = noGrad(() => tidy(() => fn(...make(base, false)).keep()));
  const r = rng(seed);
  const w = Float32Array.from({ length: probe.numel }, () => r() * 2 - 1);
  const wShape = [...probe.shape];
  probe.dispose();
  const { mul } = await import("../../src/ops/basic.ts");
  const { sum } = await import("../../src/ops/reduce.ts");
  const objective = (xs: Tensor[]) => {
    const wt = Tensor.from(device, w, wShape);
    return sum(mul(fn(...xs), wt));
  };

  const xs = make(base, true);
  const loss = tidy(() => objective(xs).keep());
  loss.backward();
  loss.dispose();
  for (let k = 0; k < inputs.length; k++) {
    if (!xs[k].requiresGrad) continue;
    const analytic = await xs[k].grad!.toArray();
    const n = inputs[k].data.length;
    const idx = n <= maxPerInput
      ? [...Array(n).keys()]
      : Array.from({ length: maxPerInput }, () => Math.floor(r() * n));
    const values: Promise<number>[] = [];
    for (const j of idx) {
      for (const sign of [1, -1]) {
        const d = base.map((b) => b.slice());
        d[k][j] += sign * eps;
        values.push(noGrad(() => {
          const out = tidy(() => objective(make(d, false)).keep());
          return out.item().finally(() => out.dispose());
        }));
      }
    }
    const v = await Promise.all(values);
    const numeric = idx.map((_, i) => (v[2 * i] - v[2 * i + 1]) / (2 * eps));
    assertClose(idx.map((j) => analytic[j]), numeric, { rtol, atol, what: `grad of input ${k}` });
  }
  for (const x of xs) {
    x.grad?.dispose();
    x.dispose();
  }
}
