import { testDevice } from "./gpu.ts";
import { LlamaConfig, type LlamaConfigInput } from "../../src/models/llama/config.ts";
import { LlamaForCausalLM } from "../../src/models/llama/modeling_llama.ts";

/**
 * Saves a seeded random LlamaForCausalLM (HF layout) into `dir`: one layer, hidden 16,
 * intermediate 24, 2 query heads and 1 KV head (GQA), bos = eos = 0, with `fields` overriding
 * any of these (vocab_size should match the folder's tokenizer).
 */
export async function saveTinyLlama(
  dir: string,
  fields: LlamaConfigInput,
  seed = 1,
): Promise<void> {
  const config = new LlamaConfig({
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    bos_token_id: 0,
    eos_token_id: 0,
    ...fields,
  });
  const model = new LlamaForCausalLM(await testDevice(), config, { seed });
  await model.save_pretrained(dir);
  model.dispose();
}
