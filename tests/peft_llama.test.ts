import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { LlamaForCausalLM } from "../src/models/llama/modeling_llama.ts";
import { get_peft_model, LoraConfig, type LoraLinear, readAdapterConfig } from "../src/peft/mod.ts";
import type { VeLoRALinear } from "../src/velora/velora_linear.ts";
import { testDevice } from "./helpers/gpu.ts";
import { assertTensorClose } from "./helpers/bert.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));
const llamaDir = fixture("llama_tiny");
const adapterDir = fixture("lora_llama_tiny");
const golden = await loadSafetensors(join(adapterDir, "golden.safetensors"));

for (const tag of ["lora", "lora_velora"]) {
  Deno.test(`LLaMA ${tag}: a PEFT-named adapter on q/k/v/gate/up/down matches PyTorch (causal-LM loss, every adapter gradient)`, async () => {
    const device = await testDevice();
    const inputs = await loadSafetensors(join(llamaDir, "inputs.safetensors"));
    const t = (n: string) => {
      const e = inputs.get(n)!;
      return Tensor.from(device, e.data, e.shape, { dtype: "i32" });
    };
    const inp = {
      input_ids: t("input_ids"),
      attention_mask: t("attention_mask"),
      labels: t("labels"),
    };
    const config = await readAdapterConfig(adapterDir);
    config.inference_mode = false;
    if (tag === "lora_velora") config.velora_config = { num_groups: 4 };
    const model = await LlamaForCausalLM.from_pretrained(llamaDir, { device });
    const peft = get_peft_model(model, config);
    await peft.load_adapter_weights(adapterDir);
    peft.train();
    const out = tidy(() => {
      const o = peft.forward(inp);
      return { logits: o.logits.keep() as Tensor, loss: o.loss!.keep() as Tensor };
    });
    const g = (n: string) => golden.get(`${tag}.${n}`)!.data;
    assertTensorClose(await out.logits.toArray(), g("logits"), 1e-4, "logits");
    assertTensorClose(await out.loss.toArray(), g("loss"), 1e-4, "loss");
    out.loss.backward();
    const trainable = [...peft.named_parameters()].filter(([, p]) => p.requiresGrad);
    assert.equal(trainable.length, 2 * 2 * 6, "A and B of 6 linear types in 2 layers");
    for (const [name, p] of trainable) {
      assertTensorClose(await p.grad!.toArray(), g(`grad.${name}`), 1e-3, name, 1e-5);
    }
    assert.ok(
      [...peft.named_parameters()].every(([, p]) => p.requiresGrad || p.grad === null),
      "the frozen base has no gradients",
    );
    if (tag === "lora_velora") {
      const layer = (n: string) =>
        (peft.get_base_model().get_submodule(`model.layers.0.${n}`) as LoraLinear).lora_A.get(
          "default",
        ) as VeLoRALinear;
      const [q, k, v] = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"].map(layer);
      const [gate, up] = ["mlp.gate_proj", "mlp.up_proj"].map(layer);
      assert.ok(k.trace.sharedZ && v.trace.sharedZ && !q.trace.sharedZ, "q/k/v: one z");
      assert.ok(up.trace.sharedZ && !gate.trace.sharedZ, "gate/up: one z");
    }
    [out.logits, out.loss, ...Object.values(inp)].forEach((x) => x.dispose());
    peft.dispose();
  });
}

Deno.test("LLaMA all-linear: every projection but lm_head", async () => {
  const device = await testDevice();
  const peft = get_peft_model(
    await LlamaForCausalLM.from_pretrained(llamaDir, { device }),
    new LoraConfig({ target_modules: "all-linear", task_type: "CAUSAL_LM" }),
  );
  assert.equal(peft.base_model.targeted_module_names.length, 2 * 7);
  assert.ok(!peft.base_model.targeted_module_names.includes("lm_head"));
  peft.dispose();
});
