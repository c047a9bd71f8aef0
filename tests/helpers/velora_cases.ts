import { loadSafetensors } from "../../src/io/safetensors.ts";

/** One case of tests/fixtures/velora/cases.json (written by its generator, gen_velora_golden.py). */
export interface VeLoRACase {
  in_features: number;
  out_features: number;
  num_groups: number;
  sub_token_size: number;
  scale: number;
  /** Rows of x once flattened to [tokens, in_features]. */
  tokens: number;
  x_shape: number[];
}

const fixtures = new URL("../fixtures/velora/", import.meta.url);

/**
 * The VeLoRA golden cases: their parameters by case name, and `tensor("<case>.<name>")` for the
 * PyTorch tensors of cases.safetensors (x, W, b, dY, y, v, z, dW, ...).
 */
export async function loadVeLoRACases(): Promise<{
  cases: Record<string, VeLoRACase>;
  tensor: (name: string) => Float32Array;
}> {
  const json = JSON.parse(await Deno.readTextFile(new URL("cases.json", fixtures)));
  const golden = await loadSafetensors(new URL("cases.safetensors", fixtures).pathname);
  return {
    cases: json.cases as Record<string, VeLoRACase>,
    tensor: (name) => golden.get(name)!.data as Float32Array,
  };
}
