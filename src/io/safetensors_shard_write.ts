/**
 * Sharded safetensors saving as HF `save_pretrained(max_shard_size=...)` does it
 * (`huggingface_hub.split_torch_state_dict_into_shards`): tensors are taken in order and a new
 * shard starts when the next tensor would push the current one over `max_shard_size` (a tensor
 * larger than the limit gets a shard of its own); one shard is written as `model.safetensors`,
 * several as `model-00001-of-0000N.safetensors` plus `model.safetensors.index.json`
 * (`{"metadata": {"total_parameters": n, "total_size": bytes}, "weight_map": {tensor: file}}`,
 * keys sorted, two-space
 * indent). Each file is written atomically; afterwards the files a previous save left in the
 * folder that the new one does not use are removed (stale shards, as HF does, and also a stale
 * index or single file, which HF leaves and which would shadow the new weights for a loader).
 *
 * @module
 */

import { join } from "node:path";
import { saveSafetensors, type SaveSafetensorsTensor } from "./safetensors_write.ts";
import { SAFETENSORS_INDEX_NAME, SAFETENSORS_SINGLE_NAME } from "./safetensors_sharded.ts";
import { writeJsonAtomic } from "../util/write_atomic.ts";

/** HF's default `max_shard_size` (huggingface_hub `MAX_SHARD_SIZE`, transformers' `save_pretrained`). */
export const DEFAULT_MAX_SHARD_SIZE = "5GB";

const UNITS: Record<string, number> = {
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
};

/**
 * HF `convert_file_size_to_int`: a size in bytes from a non-negative integer or a string of
 * digits and a unit — binary `KiB`/`MiB`/`GiB`/`TiB` (2¹⁰…) or decimal `KB`/`MB`/`GB`/`TB`
 * (10³…), case-insensitive; as HF, a decimal unit ending in a lower-case `b` ("5Gb", "200mb")
 * counts bits (÷ 8). A bare digit string is bytes.
 * @throws {Error} naming the value for anything else (negative, fractional, empty, unknown unit).
 */
export function parseShardSize(size: number | string): number {
  if (typeof size === "number") {
    if (Number.isSafeInteger(size) && size > 0) return size;
    throw new Error(`max_shard_size must be a positive integer number of bytes, got ${size}`);
  }
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(String(size));
  const unit = m?.[2].toUpperCase() ?? "";
  const scale = unit === "" ? 1 : UNITS[unit];
  if (!m || scale === undefined) {
    throw new Error(
      `max_shard_size ${JSON.stringify(size)} is not a size: use bytes or digits with a unit ` +
        `(${
          Object.keys(UNITS).map((u) => u.replace("I", "i")).join(", ")
        }), e.g. "5GB" or "200MiB"`,
    );
  }
  let bytes = Number(m[1]) * scale;
  if (!unit.includes("I") && m[2].endsWith("b")) bytes = Math.floor(bytes / 8);
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) {
    throw new Error(`max_shard_size ${JSON.stringify(size)} must be between 1 byte and 2^53`);
  }
  return bytes;
}

/** A tensor to shard: its data is read only when its shard is written. */
export interface ShardTensor {
  /** Shape in PyTorch order. */
  shape: readonly number[];
  /** Bytes of its data in the file (F32 and I32: 4 per element). */
  bytes: number;
  /** The values, fetched when the shard holding it is written. */
  read: () => Promise<SaveSafetensorsTensor["data"]>;
}

/** The file names and tensors of a split, as HF's `StateDictSplit`. */
export interface ShardPlan {
  /** File name → tensor names, in file order. */
  files: Map<string, string[]>;
  /** Sum of the tensors' bytes (the index's `metadata.total_size`). */
  total_size: number;
}

/**
 * Splits tensors (in the given order) into shards of at most `maxBytes` as huggingface_hub
 * does; names files `model.safetensors` for one shard, `model-0000i-of-0000N.safetensors` else.
 */
export function planShards(
  tensors: Iterable<[string, { bytes: number }]>,
  maxBytes: number,
): ShardPlan {
  const shards: string[][] = [];
  let current: string[] = [];
  let size = 0;
  let total = 0;
  for (const [name, t] of tensors) {
    total += t.bytes;
    if (t.bytes > maxBytes) {
      shards.push([name]);
      continue;
    }
    if (current.length && size + t.bytes > maxBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += t.bytes;
  }
  if (current.length || shards.length === 0) shards.push(current);
  const n = shards.length;
  const pad = (i: number) => String(i).padStart(5, "0");
  const files = new Map(
    shards.map((names, i) => [
      n === 1 ? SAFETENSORS_SINGLE_NAME : `model-${pad(i + 1)}-of-${pad(n)}.safetensors`,
      names,
    ]),
  );
  return { files, total_size: total };
}

/** Options of {@linkcode saveSafetensorsShards}. */
export interface SaveShardsOptions {
  /** Largest shard, bytes or a size string (see {@linkcode parseShardSize}); default "5GB". */
  max_shard_size?: number | string;
  /** `__metadata__` of every file (`format: "pt"` is added). */
  metadata?: Record<string, string>;
  /**
   * The model's parameter count, written as the index's `metadata.total_parameters` before
   * `total_size` (as recent transformers versions do); omitted when not given.
   */
  total_parameters?: number;
}

const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

/**
 * Writes `tensors` into `dir` as one `model.safetensors` or as shards plus the index (see the
 * module doc), reading each shard's tensors only when it is written (host memory: one shard),
 * then removes the weight files of an earlier save that this one does not use.
 * Returns the plan that was written.
 * @throws {Error} for a bad `max_shard_size` (before anything is written), or naming the file
 * whose write failed (files already written stay; nothing stale is removed then).
 */
export async function saveSafetensorsShards(
  dir: string,
  tensors: Map<string, ShardTensor>,
  options: SaveShardsOptions = {},
): Promise<ShardPlan> {
  const max = parseShardSize(options.max_shard_size ?? DEFAULT_MAX_SHARD_SIZE);
  const plan = planShards(tensors, max);
  for (const [file, names] of plan.files) {
    const data = new Map<string, SaveSafetensorsTensor>();
    for (const name of names) {
      const t = tensors.get(name)!;
      data.set(name, { shape: t.shape, data: await t.read() });
    }
    await saveSafetensors(join(dir, file), data, options.metadata);
  }
  const sharded = plan.files.size > 1;
  if (sharded) {
    const weightMap: Record<string, string> = {};
    const entries = [...plan.files].flatMap(([file, names]) => names.map((n) => [n, file]));
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [n, file] of entries) weightMap[n] = file;
    const metadata = options.total_parameters === undefined
      ? { total_size: plan.total_size }
      : { total_parameters: options.total_parameters, total_size: plan.total_size };
    await writeJsonAtomic(join(dir, SAFETENSORS_INDEX_NAME), { metadata, weight_map: weightMap });
  }
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || plan.files.has(e.name)) continue;
    const stale = SHARD_NAME.test(e.name) ||
      (e.name === SAFETENSORS_INDEX_NAME && !sharded) ||
      (e.name === SAFETENSORS_SINGLE_NAME && sharded);
    if (stale) await Deno.remove(join(dir, e.name)).catch(() => {});
  }
  return plan;
}
