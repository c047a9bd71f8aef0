import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { LlamaForCausalLM } from "../src/models/llama/modeling_llama.ts";
import { enableHalfSavedActivations } from "../src/nn/half_saved.ts";
import type { Device } from "../src/runtime/device.ts";
import { testDevice } from "./helpers/gpu.ts";
import { assertTensorClose } from "./helpers/bert.ts";

const dir = fileURLToPath(new URL("./fixtures/llama_tiny/", import.meta.url));

/** Worst |got − ref| over max |ref| of one tensor (0 for an all-zero reference). */
function relError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    err = Math.max(err, Math.abs(got[i] - ref[i]));
  }
  return scale > 1e-6 ? err / scale : 0;
}

interface Run {
  logits: Float32Array;
  loss: Float32Array;
  grads: Map<string, Float32Array>;
  /** Bytes saved for backward after the forward. */
  saved: number;
}

/** One forward + backward of llama_tiny; `lean` adds f16 saves and the fused lm_head loss. */
async function run(
  device: Device,
  batch: Record<"input_ids" | "attention_mask" | "labels", Tensor>,
  o: { attn: "eager" | "flash_attention_2"; lean: boolean },
): Promise<Run> {
  const model = await LlamaForCausalLM.from_pretrained(dir, {
    device,
    attn_implementation: o.attn,
  });
  model.train();
  if (o.lean) {
    enableHalfSavedActivations(model);
    model.fusedLinearCrossEntropy = true;
  }
  const before = device.memory.byCategory.activation;
  const out = tidy(() => {
    const r = model.forward(batch);
    return { logits: r.logits.keep(), loss: r.loss!.keep() };
  });
  const saved = device.memory.byCategory.activation - before;
  if (o.lean) {
    // Training with the fused loss never materialises the logits.
    assert.deepEqual(out.logits.shape, [2, 0, 67]);
    out.logits.dispose();
    out.logits = noGrad(() => tidy(() => model.forward(batch).logits.keep()));
  }
  out.loss.backward();
  assert.equal(device.memory.byCategory.activation, before, "backward released every save");
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of model.named_parameters()) {
    grads.set(name, (await p.grad!.toArray()) as Float32Array);
  }
  const r = {
    logits: (await out.logits.toArray()) as Float32Array,
    loss: (await out.loss.toArray()) as Float32Array,
    grads,
    saved,
  };
  out.logits.dispose();
  out.loss.dispose();
  model.dispose();
  return r;
}

async function inputs(device: Device, ignorePadded: boolean) {
  const host = await loadSafetensors(`${dir}/inputs.safetensors`);
  const t = (n: string, data = host.get(n)!.data) =>
    Tensor.from(device, data, host.get(n)!.shape, { dtype: "i32" });
  const labels = Int32Array.from(host.get("labels")!.data);
  // Row 1's left-padded query rows are implementation-defined under flash attention (see
  // llama_golden.test.ts): the label read from its last padded position is ignored.
  if (ignorePadded) labels[9 + 3] = -100;
  return {
    input_ids: t("input_ids"),
    attention_mask: t("attention_mask"),
    labels: t("labels", labels),
  };
}

Deno.test("llama_tiny with f16 saved activations and the fused lm_head loss: logits/loss 1e-4, gradients within 0.5% of PyTorch's (measured 0.07%)", async () => {
  const device = await testDevice();
  const golden = await loadSafetensors(`${dir}/golden.safetensors`);
  const batch = await inputs(device, false);
  const f32 = await run(device, batch, { attn: "eager", lean: false });
  const lean = await run(device, batch, { attn: "eager", lean: true });
  // The forward is f32 either way.
  assertTensorClose(lean.logits, golden.get("logits")!.data, 1e-4, "logits");
  assertTensorClose(lean.loss, golden.get("loss")!.data, 1e-4, "loss");
  // Saved: the RMSNorm and SwiGLU inputs in f16, and no [B, S, V] logits.
  assert.ok(lean.saved < f32.saved, `${lean.saved} < ${f32.saved}`);
  let worst = 0;
  for (const [name, g] of lean.grads) {
    const ref = golden.get(`grad.${name}`)!.data;
    worst = Math.max(worst, relError(g, ref));
    assertTensorClose(g, ref, 5e-3, `grad.${name}`, 5e-5);
  }
  console.log(`llama f16 saves + fused loss: worst gradient error ${worst.toExponential(2)}`);
  Object.values(batch).forEach((x) => x.dispose());
});

// q, k, v saved in f16 dominate this error: backward recomputes the probabilities from rounded q
// and k against the forward's f32 row statistics.
Deno.test("llama_tiny lean attention path (flash + f16 saves + fused loss) vs the f32 eager path: gradients within 1% of the tensor max (measured 0.55%)", async () => {
  const device = await testDevice();
  const batch = await inputs(device, true);
  const f32 = await run(device, batch, { attn: "eager", lean: false });
  const lean = await run(device, batch, { attn: "flash_attention_2", lean: true });
  const realRows = (a: Float32Array) =>
    Array.from(a).filter((_, i) => {
      const row = Math.floor(i / 67);
      return row < 9 || row >= 12;
    });
  assertTensorClose(realRows(lean.logits), realRows(f32.logits), 1e-4, "logits");
  assertTensorClose(lean.loss, f32.loss, 1e-4, "loss");
  let worst = 0;
  for (const [name, g] of f32.grads) {
    worst = Math.max(worst, relError(lean.grads.get(name)!, g));
    assertTensorClose(lean.grads.get(name)!, g, 1e-2, `grad.${name}`, 5e-5);
  }
  console.log(`llama lean vs f32: worst gradient error ${worst.toExponential(2)}`);
  Object.values(batch).forEach((x) => x.dispose());
});

Deno.test("qwen2_tiny (tied lm_head, q/k/v bias) with the fused lm_head loss alone: loss and every gradient match PyTorch at the f32 tolerances", async () => {
  const device = await testDevice();
  const qdir = fileURLToPath(new URL("./fixtures/qwen2_tiny/", import.meta.url));
  const golden = await loadSafetensors(`${qdir}/golden.safetensors`);
  const host = await loadSafetensors(`${qdir}/inputs.safetensors`);
  const t = (n: string) =>
    Tensor.from(device, host.get(n)!.data, host.get(n)!.shape, { dtype: "i32" });
  const batch = {
    input_ids: t("input_ids"),
    attention_mask: t("attention_mask"),
    labels: t("labels"),
  };
  const model = await LlamaForCausalLM.from_pretrained(qdir, { device });
  assert.equal(model.lm_head.weight, model.model.embed_tokens.weight, "tied");
  model.train();
  model.fusedLinearCrossEntropy = true;
  const loss = tidy(() => {
    const out = model.forward(batch);
    assert.equal(out.logits.shape[1], 0, "no logits in training");
    return out.loss!.keep();
  });
  assertTensorClose(await loss.toArray(), golden.get("loss")!.data, 1e-4, "loss");
  loss.backward();
  for (const [name, p] of model.named_parameters()) {
    assertTensorClose(await p.grad!.toArray(), golden.get(`grad.${name}`)!.data, 1e-3, name, 1e-5);
  }
  loss.dispose();
  model.dispose();
  Object.values(batch).forEach((x) => x.dispose());
});
