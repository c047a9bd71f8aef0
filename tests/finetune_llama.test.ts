import assert from "node:assert/strict";
import { join } from "node:path";
import { testDevice } from "./helpers/gpu.ts";
import { trainByteLevelBPE } from "../src/data/bpe_train.ts";
import { AutoTokenizer } from "../src/data/auto_tokenizer.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import {
  alpacaPrompt,
  encodeExample,
  loadInstructionData,
  runInstructionTuning,
} from "../src/train/instruct.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { saveTinyLlama } from "./helpers/tiny_llama.ts";

const ROWS = [
  { instruction: "Name a color.", input: "", output: "Blue." },
  { instruction: "Add the numbers.", input: "2 and 3", output: "5" },
  { instruction: "Say hello.", output: "Hello!" },
  {
    messages: [{ role: "user", content: "Capital of France?" }, {
      role: "assistant",
      content: "Paris.",
    }],
  },
];

/** A tiny LLaMA with a byte-level BPE tokenizer trained on the rows, in `dir`. */
async function tinyLlama(dir: string): Promise<string> {
  const texts = ROWS.map((r) => JSON.stringify(r));
  const json = trainByteLevelBPE(texts, { vocab_size: 300, special_tokens: ["<|eos|>"] });
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(json));
  await Deno.writeTextFile(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ bos_token: "<|eos|>", eos_token: "<|eos|>", pad_token: "<|eos|>" }),
  );
  await saveTinyLlama(dir, { vocab_size: 300, max_position_embeddings: 512 }, 1);
  return dir;
}

Deno.test("instruction data: Alpaca and chat rows; prompt tokens are masked (-100); bad rows name file:line", async () => {
  await withTempDir(async (tmp) => {
    const dir = await tinyLlama(join(tmp, "m"));
    const data = join(tmp, "d.jsonl");
    await Deno.writeTextFile(data, ROWS.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const rows = await loadInstructionData(data);
    assert.equal(rows.length, 4);
    assert.equal(rows[1].prompt, alpacaPrompt("Add the numbers.", "2 and 3"));
    assert.ok(rows[1].prompt.includes("### Input:\n2 and 3"));
    assert.ok(!rows[0].prompt.includes("### Input"));
    const tok = await AutoTokenizer.from_pretrained(dir);
    const e = encodeExample(tok, rows[1], 512);
    const prompt = tok.encode(rows[1].prompt, { add_special_tokens: false });
    const first = e.labels.findIndex((l) => l !== -100);
    assert.equal(first, prompt.length, "every prompt token is masked, no answer token is");
    assert.deepEqual(e.labels.slice(first), e.ids.slice(first));
    assert.equal(e.ids.at(-1), tok.eos_token_id, "the answer ends with eos");
    assert.throws(() => encodeExample(tok, rows[1], 4), /raise --max-length/);
    await Deno.writeTextFile(data, '{"instruction": "x", "output": "y"}\n{"text": 1}\n');
    await assert.rejects(() => loadInstructionData(data), /d\.jsonl:2: expected/);
  });
});

Deno.test("finetune_llama: LoRA + VeLoRA instruction tuning lowers the answer loss, saves a PEFT adapter, answers", async () => {
  const device = await testDevice();
  await withTempDir(async (tmp) => {
    const model = await tinyLlama(join(tmp, "m"));
    const data = join(tmp, "d.jsonl");
    await Deno.writeTextFile(data, ROWS.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const out = join(tmp, "out");
    const r = await runInstructionTuning(device, {
      model,
      data,
      mode: "lora-velora",
      loraR: 4,
      loraAlpha: 8,
      loraDropout: 0,
      loraTargetModules: "q_proj,v_proj,gate_proj,up_proj",
      numGroups: 4,
      epochs: 1,
      maxSteps: 12,
      batchSize: 4,
      maxLength: 256,
      lr: 3e-2,
      seed: 1,
      outputDir: out,
      maxNewTokens: 4,
    }, () => {});
    assert.equal(r.steps, 12);
    assert.ok(r.final_loss < r.first_loss, `loss ${r.first_loss} → ${r.final_loss}`);
    assert.equal(typeof r.sample.answer, "string");
    const cfg = JSON.parse(await Deno.readTextFile(join(out, "adapter_config.json")));
    assert.equal(cfg.task_type, "CAUSAL_LM");
    assert.equal(cfg.base_model_name_or_path, model);
    const w = await loadSafetensors(join(out, "adapter_model.safetensors"));
    assert.ok(w.has("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
    assert.ok(await Deno.stat(join(out, "tokenizer.json")));
  });
});
