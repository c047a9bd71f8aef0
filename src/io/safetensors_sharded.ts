/**
 * Sharded safetensors checkpoints: `model.safetensors.index.json` (as written by HF
 * `save_pretrained` with `max_shard_size`) maps each tensor name to the shard file holding it:
 * `{"metadata": {"total_size": bytes}, "weight_map": {tensor: "model-00001-of-00002.safetensors"}}`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { type LoadedTensor, loadSafetensors } from "./safetensors_read.ts";
import { pytorchRefusalMessage } from "./safetensors_refuse.ts";

/** File name of a single-file checkpoint in an HF model directory. */
export const SAFETENSORS_SINGLE_NAME = "model.safetensors";
/** File name of the shard index in an HF model directory. */
export const SAFETENSORS_INDEX_NAME = "model.safetensors.index.json";

const PYTORCH_NAMES = ["pytorch_model.bin", "pytorch_model.bin.index.json"];

/** A validated `model.safetensors.index.json`. */
export interface SafetensorsIndex {
  /** The index file. */
  path: string;
  /** The `metadata` object (HF writes `total_size` in bytes); `{}` when absent. */
  metadata: Record<string, unknown>;
  /** Tensor name → shard file name (relative to the index's directory). */
  weight_map: Record<string, string>;
  /** Distinct shard file names in first-use order. */
  shards: string[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads and validates a safetensors shard index.
 *
 * @param path the `model.safetensors.index.json` file
 * @throws Error naming the file (and tensor) when it is missing, not JSON, lacks a non-empty
 * `weight_map` object, or maps a tensor to something other than a plain `*.safetensors` file name
 * in the same directory.
 */
export async function readSafetensorsIndex(path: string): Promise<SafetensorsIndex> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read safetensors index: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: safetensors index is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(json) || !isPlainObject(json.weight_map)) {
    throw new Error(`${path}: safetensors index must be an object with a "weight_map" object`);
  }
  if (json.metadata !== undefined && !isPlainObject(json.metadata)) {
    throw new Error(`${path}: safetensors index "metadata" must be an object`);
  }
  const weightMap: Record<string, string> = {};
  const shards: string[] = [];
  const seen = new Set<string>();
  for (const [name, file] of Object.entries(json.weight_map)) {
    if (
      typeof file !== "string" || !file.endsWith(".safetensors") || /[\\/]/.test(file) ||
      file.startsWith(".")
    ) {
      throw new Error(
        `${path}: weight_map entry for tensor "${name}" must be a *.safetensors file name in the same directory, got ${
          JSON.stringify(file)
        }`,
      );
    }
    weightMap[name] = file;
    if (!seen.has(file)) {
      seen.add(file);
      shards.push(file);
    }
  }
  if (shards.length === 0) throw new Error(`${path}: safetensors index has an empty weight_map`);
  return { path, metadata: { ...(json.metadata ?? {}) }, weight_map: weightMap, shards };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the weights of an HF model directory: the shard index when present, else
 * `model.safetensors`.
 *
 * @returns the path to load, ending in `.index.json` or `.safetensors`
 * @throws Error naming the directory when it has neither; when it only has `pytorch_model.bin`
 * the message says how to convert it.
 */
export async function findSafetensorsInDir(dir: string): Promise<string> {
  const index = join(dir, SAFETENSORS_INDEX_NAME);
  if (await exists(index)) return index;
  const single = join(dir, SAFETENSORS_SINGLE_NAME);
  if (await exists(single)) return single;
  for (const name of PYTORCH_NAMES) {
    const p = join(dir, name);
    if (await exists(p)) throw new Error(pytorchRefusalMessage(p));
  }
  throw new Error(
    `${dir}: no ${SAFETENSORS_SINGLE_NAME} or ${SAFETENSORS_INDEX_NAME} in this directory`,
  );
}

/**
 * Loads a possibly sharded checkpoint.
 *
 * @param pathOrDir an HF model directory (uses `model.safetensors.index.json` when present,
 * else `model.safetensors`), an index file (`*.index.json`, shards read from its directory), or
 * a single `.safetensors` file
 * @param options `names` to load only these tensors (each must be in the checkpoint)
 * @returns tensor name → `{dtype, shape, data}` in `names` order, else index / header order
 * @throws Error naming the directory, index or shard file (and tensor) at fault; a directory with
 * only `pytorch_model.bin` is refused with the conversion command.
 */
export async function loadSafetensorsSharded(
  pathOrDir: string,
  options: { names?: Iterable<string> } = {},
): Promise<Map<string, LoadedTensor>> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(pathOrDir);
  } catch (e) {
    throw new Error(`${pathOrDir}: checkpoint not found: ${(e as Error).message}`);
  }
  const path = info.isDirectory ? await findSafetensorsInDir(pathOrDir) : pathOrDir;
  if (!path.endsWith(".json")) return await loadSafetensors(path, options);

  const index = await readSafetensorsIndex(path);
  const names = options.names === undefined
    ? Object.keys(index.weight_map)
    : [...new Set(options.names)];
  const missing = names.filter((n) => !Object.hasOwn(index.weight_map, n));
  if (missing.length > 0) {
    throw new Error(
      `${path}: ${missing.length} requested tensor(s) not in weight_map: ${
        missing.slice(0, 5).map((n) => `"${n}"`).join(", ")
      }`,
    );
  }
  const byShard = new Map<string, string[]>();
  for (const n of names) {
    const shard = index.weight_map[n];
    const list = byShard.get(shard) ?? [];
    list.push(n);
    byShard.set(shard, list);
  }
  const loaded = new Map<string, LoadedTensor>();
  for (const [shard, shardNames] of byShard) {
    const part = await loadSafetensors(join(dirname(path), shard), { names: shardNames });
    for (const [n, t] of part) loaded.set(n, t);
  }
  return new Map(names.map((n) => [n, loaded.get(n)!]));
}
