import assert from "node:assert/strict";
import { halfSaves } from "../src/autograd/half_saves.ts";
import { layerNorm } from "../src/ops/layernorm.ts";
import { gelu } from "../src/ops/basic.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { enableHalfSavedActivations } from "../src/nn/half_saved.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { tidy } from "../src/tensor/scope.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { forwardBackward } from "./helpers/ops.ts";
import { assertTensorClose, dir, loadInputs } from "./helpers/bert.ts";

Deno.test("halfSaves: LayerNorm and GELU keep their input as packed f16, gradients within f16 rounding", async () => {
  const device = await testDevice();
  const [rows, d] = [7, 65];
  const x = randomArray(rows * d, 1, -3, 3);
  const w = randomArray(d, 2, 0.5, 1.5);
  const b = randomArray(d, 3);
  const inputs = [{ data: x, shape: [rows, d] }, {
    data: w,
    shape: [d],
    category: "parameter" as const,
  }, {
    data: b,
    shape: [d],
    category: "parameter" as const,
  }];
  const ln = (x: ReturnType<typeof gelu>, w: typeof x, b: typeof x) =>
    gelu(layerNorm(x, w, b, 1e-5));
  const plain = await forwardBackward(device, ln, inputs);
  const half = await forwardBackward(
    device,
    (...t) => halfSaves(() => ln(t[0], t[1], t[2])),
    inputs,
    {
      dyData: plain.dy,
    },
  );
  assertClose(half.y, plain.y, { rtol: 0, atol: 0, what: "forward unchanged" });
  // Two f32 [7, 65] inputs (LayerNorm's x, GELU's x) now packed f16 (⌈455 / 2⌉ u32 words each).
  assert.equal(
    plain.savedBytes - half.savedBytes,
    2 * (rows * d * 4 - Math.ceil(rows * d / 2) * 4),
  );
  for (let i = 0; i < 3; i++) {
    assertClose(half.grads[i]!, plain.grads[i]!, { rtol: 5e-3, atol: 2e-3, what: `grad ${i}` });
  }
});

Deno.test("f16 saved activations + flash attention: BERT gradients within 0.5% of the tensor max of PyTorch’s (measured 0.12%)", async () => {
  const device = await testDevice();
  const inp = await loadInputs(device);
  const golden = await loadSafetensors(`${dir}/golden.safetensors`);
  const model = await BertForSequenceClassification.from_pretrained(dir, {
    device,
    attn_implementation: "flash_attention_2",
    warn: () => {},
  });
  model.train();
  enableHalfSavedActivations(model);
  const out = tidy(() => {
    const o = model.forward({ ...inp, labels: inp.labels });
    return { logits: o.logits.keep(), loss: o.loss!.keep() };
  });
  // The forward is f32: logits as exact as without f16 saves.
  assertTensorClose(await out.logits.toArray(), golden.get("logits")!.data, 1e-4, "logits");
  out.loss.backward();
  assert.equal(device.memory.byCategory.activation, 0);
  let worst = 0;
  for (const [name, p] of model.named_parameters()) {
    const ref = golden.get(`grad.${name}`)!.data;
    const got = await p.grad!.toArray();
    let scale = 0;
    let err = 0;
    for (let i = 0; i < ref.length; i++) {
      scale = Math.max(scale, Math.abs(ref[i]));
      err = Math.max(err, Math.abs(got[i] - ref[i]));
    }
    if (scale > 1e-6) worst = Math.max(worst, err / scale);
    // key.bias's exact gradient is 0 (softmax is shift-invariant): only an absolute bound.
    assertTensorClose(got, ref, 5e-3, `grad.${name}`, 5e-5);
  }
  console.log(`f16 saves: worst gradient error ${worst.toExponential(2)} of the tensor's max`);
  out.logits.dispose();
  out.loss.dispose();
  model.dispose();
});
