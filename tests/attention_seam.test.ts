import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { additiveMask } from "../src/ops/mask.ts";
import {
  ALL_ATTENTION_FUNCTIONS,
  type AttentionFunction,
  type AttnImplementation,
  eagerAttention,
} from "../src/nn/attention.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { assertClose, randomArray, testDevice } from "./helpers/gpu.ts";
import { dir, loadInputs } from "./helpers/bert.ts";
import { attentionReference } from "./helpers/attention_reference.ts";

Deno.test("eager seam: GQA, padding and causal masks (with a KV-cache offset) vs an f64 reference", async () => {
  const device = await testDevice();
  for (const dims of [[2, 6, 2, 5, 5, 8], [1, 4, 1, 2, 7, 4]]) {
    const [b, h, kvh, sq, sk, d] = dims;
    const qd = randomArray(b * h * sq * d, 1), kd = randomArray(b * kvh * sk * d, 2);
    const vd = randomArray(b * kvh * sk * d, 3);
    const keep = new Int32Array(b * sk).fill(1);
    keep[sk - 1] = 0; // the first row's last key is padding
    const q = Tensor.from(device, qd, [b, h, sq, d]);
    const k = Tensor.from(device, kd, [b, kvh, sk, d]);
    const v = Tensor.from(device, vd, [b, kvh, sk, d]);
    const m = Tensor.from(device, keep, [b, sk], { dtype: "i32" });
    for (const causal of [false, true]) {
      const got = noGrad(() =>
        tidy(() =>
          eagerAttention(q, k, v, {
            attention_mask: additiveMask(m),
            is_causal: causal,
            scaling: 1 / Math.sqrt(d),
            dropout: 0,
            seed: null,
          }).keep()
        )
      );
      assert.deepEqual(got.shape, [b, sq, h, d]);
      assertClose(await got.toArray(), attentionReference(qd, kd, vd, keep, dims, { causal }), {
        rtol: 1e-4,
        atol: 1e-5,
        what: `causal ${causal} [${dims}]`,
      });
      got.dispose();
    }
    [q, k, v, m].forEach((t) => t.dispose());
  }
  assert.throws(
    () =>
      eagerAttention(
        Tensor.from(device, new Float32Array(24), [1, 3, 2, 4]),
        Tensor.from(device, new Float32Array(16), [1, 2, 2, 4]),
        Tensor.from(device, new Float32Array(16), [1, 2, 2, 4]),
        { attention_mask: null, scaling: 1, dropout: 0, seed: null },
      ),
    /heads a multiple of kv_heads/,
  );
});

Deno.test("attn_implementation picks a registered implementation for every layer", async () => {
  const device = await testDevice();
  assert.throws(
    () => ALL_ATTENTION_FUNCTIONS.get("nope"),
    /"nope" is not registered \(available: "eager"/,
  );
  // No global registration: a custom implementation is passed as the function itself.
  assert.equal("register" in ALL_ATTENTION_FUNCTIONS, false);
  let calls = 0;
  const counting: AttentionFunction = (q, k, v, o) => {
    calls++;
    return eagerAttention(q, k, v, o);
  };
  assert.equal(ALL_ATTENTION_FUNCTIONS.get(counting), counting);
  await assert.rejects(
    () => BertForSequenceClassification.from_pretrained(dir, { device, attn_implementation: "x" }),
    /attn_implementation "x" is not registered/,
  );
  const inp = await loadInputs(device);
  const logits = async (attn_implementation?: AttnImplementation) => {
    const model = await BertForSequenceClassification.from_pretrained(dir, {
      device,
      attn_implementation,
    });
    const t = noGrad(() => tidy(() => model.forward(inp).logits.keep()));
    const out = await t.toArray();
    t.dispose();
    model.dispose();
    return out;
  };
  const eager = await logits();
  const counted = await logits(counting);
  assert.equal(calls, 2, "one call per encoder layer");
  assert.deepEqual(counted, eager);
  Object.values(inp).forEach((t) => t.dispose());
});
