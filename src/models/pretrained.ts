/**
 * Checkpoint files of `PreTrainedModel`: options of `from_pretrained`, resolving and streaming
 * safetensors weights (single or sharded) into a built model, and writing them back.
 * @module
 */

import { dirname, join } from "node:path";
import type { Device } from "../runtime/device.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Module } from "../nn/module.ts";
import type { AttnImplementation } from "../nn/attention.ts";
import {
  DEFAULT_MAX_SHARD_SIZE,
  parseShardSize,
  saveSafetensorsShards,
  type ShardTensor,
} from "../io/safetensors_shard_write.ts";
import { openForRead, readAt, readHeaderFromFile } from "../io/safetensors_header.ts";
import { assertLittleEndianHost, decodeTensorBytes } from "../io/safetensors_dtype.ts";
import { readSafetensorsIndex } from "../io/safetensors_sharded.ts";
import { resolveModelWeights } from "../hub/weights.ts";
import type { ResolveModelFileOptions } from "../hub/resolve.ts";

/** Options of `from_pretrained` (HF / transformers.js names). */
export interface FromPretrainedOptions extends Omit<ResolveModelFileOptions, "required"> {
  /** The WebGPU device to put the weights on. */
  device: Device;
  /** Number of labels for a classification head (replaces the config's when it differs). */
  num_labels?: number;
  /** Seed of the initialisation of weights the checkpoint lacks (e.g. a new classifier). */
  seed?: number;
  /** Receives warnings (missing/unexpected weights); default `console.warn`. */
  warn?: (message: string) => void;
  /** Attention implementation, by name (HF `attn_implementation`) or as a function (`nn/attention.ts`). */
  attn_implementation?: AttnImplementation;
  /**
   * Parameter dtype (HF `dtype` / `torch_dtype`): "float32" or "auto" (the default). Parameters
   * are f32 on the GPU; F16, BF16 and F64 checkpoints are converted tensor by tensor.
   */
  dtype?: "float32" | "auto";
}

/**
 * HF `_fix_key` and base-model prefix handling: renames TF-era `LayerNorm.gamma/beta` to
 * `weight/bias`, and adds or strips `prefix.` so that a base-model checkpoint loads into a model
 * with a head and vice versa (source: HF `modeling_utils._load_pretrained_model`).
 */
export function mapCheckpointNames(
  names: Iterable<string>,
  expected: ReadonlySet<string>,
  prefix: string,
): Map<string, string> {
  const fixed = [...names].map((n) => {
    const k = n.replace(/\.gamma$/, ".weight").replace(/\.beta$/, ".bias");
    return [n, k] as const;
  });
  const expectsPrefix = prefix !== "" && [...expected].some((n) => n.startsWith(`${prefix}.`));
  const hasPrefix = prefix !== "" && fixed.some(([, k]) => k.startsWith(`${prefix}.`));
  const out = new Map<string, string>();
  for (const [orig, k] of fixed) {
    let target = k;
    if (expectsPrefix && !hasPrefix && !expected.has(k)) target = `${prefix}.${k}`;
    if (!expectsPrefix && hasPrefix && k.startsWith(`${prefix}.`)) {
      target = k.slice(prefix.length + 1);
    }
    out.set(orig, target);
  }
  return out;
}

/** Resolves a model's weights (see `resolveModelWeights`) after checking `options.dtype`. */
export function resolveWeights(idOrDir: string, options: FromPretrainedOptions): Promise<string> {
  const dtype = options.dtype ?? "auto";
  if (dtype !== "auto" && dtype !== "float32") {
    throw new Error(
      `from_pretrained: dtype "${dtype}" is not supported: parameters are float32 ` +
        '(use "float32" or "auto"; F16/BF16 checkpoints are converted on load)',
    );
  }
  return resolveModelWeights(idOrDir, options);
}

/** Shard files of a weights path: the file itself, or every shard of an index. */
async function shardFiles(weightsPath: string): Promise<string[]> {
  if (!weightsPath.endsWith(".index.json")) return [weightsPath];
  const index = await readSafetensorsIndex(weightsPath);
  return index.shards.map((s) => join(dirname(weightsPath), s));
}

/** Bytes written to the GPU between waits: bounds the queue's staging copies (host memory). */
const FLUSH_BYTES = 32 * 1024 * 1024;

/**
 * Streams checkpoint weights (model.safetensors or a sharded index) into `model`'s parameters:
 * one tensor at a time is read, converted to f32 and written to its GPU buffer, so host memory
 * stays near the largest tensor. Names are mapped with {@linkcode mapCheckpointNames}; a tensor
 * shared under several names (tied weights) is loaded once. Weights the file lacks are listed in
 * one warning, as HF does; unexpected weights (e.g. pre-training heads) are ignored with a
 * warning.
 * @returns the tensors written (`loaded`), and the missing and unexpected names.
 * @throws {Error} naming the file, the tensor and both shapes on a shape mismatch, or the file for
 * a corrupt one.
 */
export async function loadPretrainedWeights(
  model: Module,
  weightsPath: string,
  prefix: string,
  warn: (message: string) => void = console.warn,
): Promise<{ loaded: Set<Tensor>; missing_keys: string[]; unexpected_keys: string[] }> {
  assertLittleEndianHost(weightsPath);
  const expected = model.state_dict();
  const loaded = new Set<Tensor>();
  const unexpected: string[] = [];
  let pending = 0;
  for (const path of await shardFiles(weightsPath)) {
    const file = await openForRead(path);
    try {
      const header = await readHeaderFromFile(file, path);
      const names = mapCheckpointNames(
        header.entries.map((e) => e.name),
        new Set(expected.keys()),
        prefix,
      );
      for (const entry of header.entries) {
        const target = names.get(entry.name)!;
        const param = expected.get(target);
        if (!param) {
          unexpected.push(entry.name);
          continue;
        }
        if (param.shape.join() !== entry.shape.join()) {
          throw new Error(
            `${path}: tensor "${entry.name}" has shape [${entry.shape}] but the model's ` +
              `"${target}" is [${param.shape}]`,
          );
        }
        const [begin, end] = entry.dataOffsets;
        const where = `${path}: tensor "${entry.name}"`;
        const bytes = new Uint8Array(end - begin);
        await readAt(file, header.dataStart + begin, bytes, where);
        const data = decodeTensorBytes(bytes, entry.dtype, where);
        const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
        if (param.numel > 0) param.device.write(param.buffer, f32);
        loaded.add(param);
        pending += f32.byteLength;
        if (pending >= FLUSH_BYTES) {
          pending = 0;
          await waitForWrites(param.device);
        }
      }
    } finally {
      file.close();
    }
  }
  const missing = [...expected].filter(([, t]) => !loaded.has(t)).map(([k]) => k);
  if (missing.length) {
    warn(
      `Some weights of ${model.constructor.name} were not initialized from the checkpoint ` +
        `${weightsPath} and are newly initialized: ${missing.join(", ")}. ` +
        "You should probably TRAIN this model on a down-stream task.",
    );
  }
  if (unexpected.length) {
    warn(`Some weights of the checkpoint ${weightsPath} were not used: ${unexpected.join(", ")}`);
  }
  return { loaded, missing_keys: missing, unexpected_keys: unexpected };
}

/** Submits the queued buffer writes and waits, so their staging copies are released. */
async function waitForWrites(device: Device): Promise<void> {
  device.gpu.queue.submit([]);
  await device.sync();
}

/** Options of `save_pretrained` (HF names). */
export interface SavePretrainedOptions {
  /**
   * Largest weights file before the checkpoint is split into shards, as HF: bytes, or digits with
   * a unit ("200MB", "2GiB"; `parseShardSize`). Default "5GB" (HF's). One shard is written as
   * `model.safetensors`; more as `model-00001-of-0000N.safetensors` + `model.safetensors.index.json`.
   */
  max_shard_size?: number | string;
}

/**
 * Writes the weights (F32, HF names) into `dir`: `model.safetensors`, or shards and their index
 * when they exceed `max_shard_size` (HF `save_pretrained` semantics; every file atomic; weight
 * files of an earlier save that this one does not use are removed). A tensor shared under several
 * names (tied weights) is written once, under its first `state_dict()` name, as HF does. Tensors
 * are read back from the GPU one shard at a time.
 * @throws {Error} for a bad `max_shard_size` (before writing), or naming the file when writing
 * fails (an existing file of that name is left untouched).
 */
export async function saveWeights(
  model: Module,
  dir: string,
  options: SavePretrainedOptions = {},
): Promise<void> {
  parseShardSize(options.max_shard_size ?? DEFAULT_MAX_SHARD_SIZE);
  await Deno.mkdir(dir, { recursive: true });
  const out = new Map<string, ShardTensor>();
  const seen = new Set<Tensor>();
  for (const [name, t] of model.state_dict()) {
    if (seen.has(t)) continue;
    seen.add(t);
    out.set(name, { shape: t.shape, bytes: t.numel * 4, read: () => t.toArray() });
  }
  // HF num_parameters(): each parameter tensor once (tied weights once).
  const params = new Set([...model.named_parameters()].map(([, p]) => p));
  const total = [...params].reduce((n, p) => n + p.numel, 0);
  await saveSafetensorsShards(dir, out, {
    max_shard_size: options.max_shard_size,
    total_parameters: total,
  });
}
