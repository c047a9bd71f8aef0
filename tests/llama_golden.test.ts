import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { LlamaForCausalLM } from "../src/models/llama/modeling_llama.ts";
import { testDevice } from "./helpers/gpu.ts";
import { assertTensorClose, checkGoldenStep, goldenTensor } from "./helpers/golden.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));

async function load(device: Awaited<ReturnType<typeof testDevice>>, name: string) {
  const dir = fixture(name);
  const inputs = await loadSafetensors(`${dir}/inputs.safetensors`);
  const golden = await loadSafetensors(`${dir}/golden.safetensors`);
  const t = (n: string) => goldenTensor(device, inputs, n);
  const rows = (n: string) => {
    const e = inputs.get(n)!;
    const [b, s] = e.shape;
    return Array.from({ length: b }, (_, i) => Array.from(e.data.subarray(i * s, (i + 1) * s)));
  };
  const model = await LlamaForCausalLM.from_pretrained(dir, { device });
  return { dir, model, golden, t, rows };
}

for (const name of ["llama_tiny", "qwen2_tiny"]) {
  Deno.test(`${name}: logits, loss and every gradient match PyTorch; greedy generation token for token`, async () => {
    const device = await testDevice();
    const { model, golden, t, rows } = await load(device, name);
    const inputs = {
      input_ids: t("input_ids"),
      attention_mask: t("attention_mask"),
      labels: t("labels"),
    };
    model.train();
    await checkGoldenStep(model, inputs, golden);
    Object.values(inputs).forEach((x) => x.dispose());
    model.zero_grad();

    const expected = rows("generate_ids");
    const streamed: number[][] = [];
    const got = await model.generate(rows("prompt_ids"), {
      attention_mask: rows("prompt_mask"),
      max_new_tokens: expected[0].length - 5,
      eos_token_id: null,
      callback: (tokens) => streamed.push(tokens),
    });
    assert.deepEqual(got, expected);
    assert.equal(streamed.length, expected[0].length - 5);
    model.dispose();
  });
}

Deno.test("llama_tiny through flash_attention_2 matches the eager path on every real position", async () => {
  const device = await testDevice();
  const dir = fixture("llama_tiny");
  const inputs = await loadSafetensors(`${dir}/inputs.safetensors`);
  const t = (n: string) => goldenTensor(device, inputs, n);
  // Fully masked query rows (row 1's left padding) are implementation-defined (HF's eager path
  // spreads them uniformly, flash kernels do not), so no loss term may read them: the label after
  // the last padded position is ignored as well, and their logits are not compared.
  const labelData = Int32Array.from(inputs.get("labels")!.data);
  labelData[9 + 3] = -100;
  const batch = {
    input_ids: t("input_ids"),
    attention_mask: t("attention_mask"),
    labels: Tensor.from(device, labelData, [2, 9], { dtype: "i32" }),
  };
  const run = async (attn_implementation: string) => {
    const model = await LlamaForCausalLM.from_pretrained(dir, { device, attn_implementation });
    model.train();
    const out = tidy(() => {
      const o = model.forward(batch);
      return { logits: o.logits.keep(), loss: o.loss!.keep() };
    });
    out.loss.backward();
    const grads = new Map<string, Float32Array>();
    for (const [name, p] of model.named_parameters()) {
      grads.set(name, (await p.grad!.toArray()) as Float32Array);
    }
    const r = {
      logits: Array.from(await out.logits.toArray()).filter((_, i) => {
        const row = Math.floor(i / 67);
        return row < 9 || row >= 12;
      }),
      loss: await out.loss.toArray(),
      grads,
    };
    out.logits.dispose();
    out.loss.dispose();
    model.dispose();
    return r;
  };
  const eager = await run("eager");
  const flash = await run("flash_attention_2");
  assertTensorClose(flash.logits, eager.logits, 1e-4, "logits");
  assertTensorClose(flash.loss, eager.loss, 1e-4, "loss");
  for (const [name, g] of eager.grads) {
    assertTensorClose(flash.grads.get(name)!, g, 1e-3, `grad.${name}`, 1e-5);
  }
  Object.values(batch).forEach((x) => x.dispose());
  // KV-cached greedy generation through the flash kernel gives PyTorch's tokens too.
  const model = await LlamaForCausalLM.from_pretrained(dir, {
    device,
    attn_implementation: "flash_attention_2",
  });
  const rows = (n: string) => {
    const e = inputs.get(n)!;
    const [b, s] = e.shape;
    return Array.from({ length: b }, (_, i) => Array.from(e.data.subarray(i * s, (i + 1) * s)));
  };
  const expected = rows("generate_ids");
  assert.deepEqual(
    await model.generate(rows("prompt_ids"), {
      attention_mask: rows("prompt_mask"),
      max_new_tokens: expected[0].length - 5,
      eos_token_id: null,
    }),
    expected,
  );
  model.dispose();
});
