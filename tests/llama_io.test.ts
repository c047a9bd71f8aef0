import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { LlamaForCausalLM } from "../src/models/llama/modeling_llama.ts";
import { LlamaConfig } from "../src/models/llama/config.ts";
import { AutoConfig, AutoModelForCausalLM } from "../src/models/auto/auto.ts";
import { testDevice } from "./helpers/gpu.ts";
import { assertTensorClose } from "./helpers/bert.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));

/** bf16 bits of an f32 value, round to nearest even (what torch's .to(bfloat16) does). */
function bf16Bits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return ((u + 0x7fff + ((u >> 16) & 1)) >>> 16) & 0xffff;
}

/** Writes `tensors` as a BF16 safetensors file (the layout HF checkpoints of LLMs use). */
async function writeBf16(path: string, tensors: [string, number[], Float32Array][]) {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  const blobs: Uint8Array[] = [];
  for (const [name, shape, data] of tensors) {
    const bytes = new Uint8Array(data.length * 2);
    const view = new DataView(bytes.buffer);
    data.forEach((x, i) => view.setUint16(2 * i, bf16Bits(x), true));
    header[name] = { dtype: "BF16", shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  await Deno.writeFile(path, new Uint8Array([...len, ...json, ...blobs.flatMap((b) => [...b])]));
}

Deno.test("llama checkpoints: save_pretrained round trip through AutoModelForCausalLM; sharded bf16 loads converted", async () => {
  const device = await testDevice();
  const src = fixture("qwen2_tiny");
  const model = await LlamaForCausalLM.from_pretrained(src, { device });
  const ids = Tensor.from(device, Int32Array.from([5, 9, 11, 3, 7, 60]), [2, 3], { dtype: "i32" });
  const logits = async (m: LlamaForCausalLM) => {
    const out = tidy(() => m.forward({ input_ids: ids }).logits.keep());
    const a = await out.toArray();
    out.dispose();
    return a;
  };
  const ref = await logits(model);
  const dir = await Deno.makeTempDir();
  try {
    await model.save_pretrained(join(dir, "saved"));
    const saved = await loadSafetensors(join(dir, "saved", "model.safetensors"));
    // Tied: the embedding is written once, lm_head.weight is not (HF layout).
    assert.ok(saved.has("model.embed_tokens.weight"));
    assert.ok(!saved.has("lm_head.weight"));
    const cfg = JSON.parse(await Deno.readTextFile(join(dir, "saved", "config.json")));
    assert.deepEqual(cfg.architectures, ["Qwen2ForCausalLM"]);
    assert.equal(cfg.model_type, "qwen2");
    assert.ok((await AutoConfig.from_pretrained(join(dir, "saved"))) instanceof LlamaConfig);
    const again = await AutoModelForCausalLM.from_pretrained(join(dir, "saved"), { device });
    assert.ok(again instanceof LlamaForCausalLM);
    assert.deepEqual(await logits(again), ref);
    again.dispose();

    // The same weights as two BF16 shards with an index, as HF writes large checkpoints.
    const shard = join(dir, "bf16");
    await Deno.mkdir(shard);
    await Deno.copyFile(join(src, "config.json"), join(shard, "config.json"));
    const entries = [...saved.entries()].map(([n, t]) =>
      [n, t.shape, t.data as Float32Array] as [string, number[], Float32Array]
    );
    const half = Math.ceil(entries.length / 2);
    const files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    await writeBf16(join(shard, files[0]), entries.slice(0, half));
    await writeBf16(join(shard, files[1]), entries.slice(half));
    const weight_map = Object.fromEntries(entries.map(([n], i) => [n, files[i < half ? 0 : 1]]));
    await Deno.writeTextFile(
      join(shard, "model.safetensors.index.json"),
      JSON.stringify({ metadata: { total_size: 0 }, weight_map }),
    );
    const bf = await AutoModelForCausalLM.from_pretrained(shard, { device }) as LlamaForCausalLM;
    const w = await bf.model.layers[1].mlp.down_proj.weight.toArray();
    const orig = saved.get("model.layers.1.mlp.down_proj.weight")!.data;
    const expected = Float32Array.from(orig, (x) => {
      const b = new Uint32Array([bf16Bits(x) << 16]);
      return new Float32Array(b.buffer)[0];
    });
    assert.deepEqual(w, expected);
    // bf16 keeps 8 significant bits: logits stay within a few percent of the f32 model's.
    assertTensorClose(await logits(bf), ref, 5e-2, "bf16 logits");
    bf.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
    ids.dispose();
    model.dispose();
  }
});

Deno.test("llama config: mistral refuses sequences beyond its sliding window; bad fields are named", async () => {
  const device = await testDevice();
  const config = new LlamaConfig({
    model_type: "mistral",
    vocab_size: 11,
    hidden_size: 8,
    intermediate_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    sliding_window: 4,
  });
  const model = new LlamaForCausalLM(device, config);
  const ids = Tensor.from(device, new Int32Array(5), [1, 5], { dtype: "i32" });
  assert.throws(() => model.forward({ input_ids: ids }), /exceeds sliding_window 4/);
  ids.dispose();
  model.dispose();
  assert.throws(
    () => new LlamaConfig({ num_attention_heads: 6, num_key_value_heads: 4, hidden_size: 24 }),
    /num_key_value_heads 4 must divide num_attention_heads \(6\)/,
  );
  assert.throws(() => new LlamaConfig(JSON.parse(`{"hidden_act": "gelu"}`)), /hidden_act "gelu"/);
  assert.throws(
    () => new LlamaConfig(JSON.parse(`{"rope_scaling": {"rope_type": "yarn", "factor": 2}}`)),
    /rope_scaling .* not supported/,
  );
});
