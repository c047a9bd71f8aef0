import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { parseShardSize, planShards } from "../src/io/safetensors_shard_write.ts";
import { readSafetensorsHeader } from "../src/io/safetensors.ts";
import { LlamaForCausalLM } from "../src/models/llama/modeling_llama.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import type { PreTrainedModel } from "../src/models/modeling_utils.ts";
import { testDevice } from "./helpers/gpu.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));

Deno.test("parseShardSize: HF convert_file_size_to_int units; clear errors", () => {
  assert.equal(parseShardSize(1000), 1000);
  assert.equal(parseShardSize("123"), 123);
  assert.equal(parseShardSize("200MB"), 200e6);
  assert.equal(parseShardSize("5GB"), 5e9);
  assert.equal(parseShardSize("2GiB"), 2 * 2 ** 30);
  assert.equal(parseShardSize("10kib"), 10 * 1024);
  assert.equal(parseShardSize("3KB"), 3000);
  // HF: a decimal unit ending in a lower-case b counts bits.
  assert.equal(parseShardSize("5Gb"), 625e6);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => parseShardSize(bad), /max_shard_size must be a positive integer/);
  }
  for (const bad of ["", "GB", "1.5GB", "5XB", "-5MB", "5 GB extra"]) {
    assert.throws(() => parseShardSize(bad), /max_shard_size ".*" is not a size/, bad);
  }
  assert.throws(() => parseShardSize("0MB"), /must be between 1 byte/);
});

Deno.test("planShards: huggingface_hub's greedy split in order, oversized tensors alone", () => {
  const GB = 1e9;
  const sizes = [6, 6, 2, 6, 2, 2].map((g, i): [string, { bytes: number }] => [`t${i}`, {
    bytes: g * GB,
  }]);
  // The example of huggingface_hub's docs: [6], [6+2], [6+2+2] at 10GB.
  const plan = planShards(sizes, 10 * GB);
  assert.deepEqual([...plan.files], [
    ["model-00001-of-00003.safetensors", ["t0"]],
    ["model-00002-of-00003.safetensors", ["t1", "t2"]],
    ["model-00003-of-00003.safetensors", ["t3", "t4", "t5"]],
  ]);
  assert.equal(plan.total_size, 24 * GB);
  assert.deepEqual(
    [...planShards([["a", { bytes: 5 }], ["big", { bytes: 50 }], ["c", { bytes: 5 }]], 10).files]
      .map(([, n]) => n),
    [["big"], ["a", "c"]],
  );
  assert.deepEqual([...planShards(sizes, 100 * GB).files.keys()], ["model.safetensors"]);
  assert.deepEqual([...planShards([], 10).files], [["model.safetensors", []]]);
});

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function params(model: PreTrainedModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of model.state_dict()) out.set(k, (await t.toArray()) as Float32Array);
  return out;
}

Deno.test("save_pretrained max_shard_size: tiny llama and BERT round trip through shards, index content, stale files removed", async () => {
  const device = await testDevice();
  await withTempDir(async (dir) => {
    const cases = [
      ["llama_tiny", LlamaForCausalLM, "llama"],
      ["bert_tiny", BertForSequenceClassification, "bert"],
    ] as const;
    for (const [name, cls, sub] of cases) {
      const out = join(dir, sub);
      const model = await (cls as typeof LlamaForCausalLM).from_pretrained(fixture(name), {
        device,
      });
      const before = await params(model);
      await model.save_pretrained(out, { max_shard_size: "10KiB" });
      const names = await files(out);
      const shards = names.filter((n) => n.endsWith(".safetensors"));
      const n = shards.length;
      assert.ok(n > 1, `${name}: ${n} shards`);
      shards.forEach((s, i) =>
        assert.equal(
          s,
          `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`,
        )
      );
      assert.ok(names.includes("config.json") && !names.includes("model.safetensors"));
      const index = JSON.parse(await Deno.readTextFile(join(out, "model.safetensors.index.json")));
      assert.deepEqual(Object.keys(index), ["metadata", "weight_map"]);
      const keys = Object.keys(index.weight_map);
      assert.deepEqual(keys, [...keys].sort(), "weight_map keys sorted (HF sort_keys)");
      assert.deepEqual(new Set(keys), new Set(before.keys()));
      let total = 0;
      for (const s of shards) {
        const h = await readSafetensorsHeader(join(out, s));
        let bytes = 0;
        for (const e of h.entries) {
          assert.equal(index.weight_map[e.name], s, `${e.name} in ${s}`);
          bytes += e.dataOffsets[1] - e.dataOffsets[0];
        }
        // At most 10 KiB, unless one tensor alone is larger.
        assert.ok(bytes <= 10 * 1024 || h.entries.length === 1, `${s}: ${bytes} bytes`);
        total += bytes;
      }
      assert.equal(index.metadata.total_size, total);
      // As recent transformers: the parameter count first (here every state_dict entry is one).
      assert.deepEqual(Object.keys(index.metadata), ["total_parameters", "total_size"]);
      assert.equal(index.metadata.total_parameters, total / 4);
      const again = await (cls as typeof LlamaForCausalLM).from_pretrained(out, { device });
      assert.deepEqual(
        await params(again),
        before,
        `${name}: weights after the sharded round trip`,
      );
      again.dispose();

      // Re-saving unsharded removes the shards and the index; sharding again removes the file.
      await model.save_pretrained(out);
      assert.deepEqual(await files(out), ["config.json", "model.safetensors"]);
      await model.save_pretrained(out, { max_shard_size: 20_000 });
      const resharded = await files(out);
      assert.ok(!resharded.includes("model.safetensors") && resharded.length > 3, `${resharded}`);
      const third = await (cls as typeof LlamaForCausalLM).from_pretrained(out, { device });
      assert.deepEqual(await params(third), before);
      third.dispose();

      // A bad size fails before anything is written.
      const fresh = join(dir, `${sub}-bad`);
      await assert.rejects(
        () => model.save_pretrained(fresh, { max_shard_size: "5 parsecs" }),
        /max_shard_size "5 parsecs" is not a size/,
      );
      await assert.rejects(() => Deno.stat(fresh), Deno.errors.NotFound);
      model.dispose();
    }
  });
});
