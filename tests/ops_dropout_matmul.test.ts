import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { dropout, dropoutMatmul } from "../src/ops/dropout.ts";
import { matmul } from "../src/ops/matmul.ts";
import { mul } from "../src/ops/basic.ts";
import { sum } from "../src/ops/reduce.ts";
import { softmax } from "../src/ops/softmax.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { gradcheck } from "./helpers/gradcheck.ts";

Deno.test("dropoutMatmul equals matmul(dropout(p), v) in value and gradients, saving less", async () => {
  const device = await testDevice();
  const shapeP = [2, 3, 7, 5];
  const shapeV = [2, 3, 5, 4];
  const pa = randomArray(2 * 3 * 7 * 5, 1);
  const va = randomArray(2 * 3 * 5 * 4, 2);
  const w = Tensor.from(device, randomArray(2 * 3 * 7 * 4, 3), [2, 3, 7, 4]);
  const run = async (fused: boolean) => {
    const p = Tensor.from(device, pa, shapeP, { requiresGrad: true });
    const v = Tensor.from(device, va, shapeV, { requiresGrad: true });
    // As in attention: the softmax saves its output, which the fused op shares.
    const out = tidy(() => {
      const probs = softmax(p);
      return (fused ? dropoutMatmul(probs, v, 0.3, 99) : matmul(dropout(probs, 0.3, 99), v))
        .keep();
    });
    const saved = device.memory.byCategory.activation;
    const loss = tidy(() => sum(mul(out, w)).keep());
    loss.backward();
    const r = {
      y: await out.toArray(),
      gp: await p.grad!.toArray(),
      gv: await v.grad!.toArray(),
      saved,
    };
    [p, v, out, loss, p.grad!, v.grad!].forEach((t) => t.dispose());
    return r;
  };
  const a = await run(true);
  const b = await run(false);
  assertClose(a.y, b.y, { rtol: 1e-6, what: "y" });
  assertClose(a.gp, b.gp, { rtol: 1e-6, what: "dprobs" });
  assertClose(a.gv, b.gv, { rtol: 1e-6, what: "dv" });
  assert.equal(b.saved - a.saved, pa.length * 4, "the dropped probabilities are not kept");
  w.dispose();
  await gradcheck(
    device,
    (p, v) => dropoutMatmul(p, v, 0.25, 7),
    [{ data: pa, shape: shapeP }, { data: va, shape: shapeV }],
  );
});
