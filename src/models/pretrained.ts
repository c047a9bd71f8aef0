import { join } from "node:path";
import type { Device } from "../runtime/device.ts";
import type { Module } from "../nn/module.ts";
import { loadSafetensors, loadSafetensorsSharded, saveSafetensors } from "../io/safetensors.ts";
import type { LoadedTensor } from "../io/safetensors.ts";
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
  const expectsPrefix = [...expected].some((n) => n.startsWith(`${prefix}.`));
  const hasPrefix = fixed.some(([, k]) => k.startsWith(`${prefix}.`));
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

/**
 * Loads checkpoint weights (model.safetensors or a sharded index) into `model`'s parameters.
 * Missing weights keep their initialisation and are listed in one warning, as HF does;
 * unexpected weights (e.g. pre-training heads) are ignored with a warning.
 * @throws {Error} naming the tensor and both shapes on a shape mismatch.
 */
export async function loadPretrainedWeights(
  model: Module,
  weightsPath: string,
  prefix: string,
  warn: (message: string) => void = console.warn,
): Promise<{ missing_keys: string[]; unexpected_keys: string[] }> {
  const expected = new Map(model.state_dict());
  const tensors: Map<string, LoadedTensor> = weightsPath.endsWith(".index.json")
    ? await loadSafetensorsSharded(weightsPath)
    : await loadSafetensors(weightsPath);
  const names = mapCheckpointNames(tensors.keys(), new Set(expected.keys()), prefix);
  const sd: Record<string, { shape: number[]; data: Float32Array }> = {};
  const unexpected: string[] = [];
  for (const [orig, target] of names) {
    const t = tensors.get(orig)!;
    const param = expected.get(target);
    if (!param) {
      unexpected.push(orig);
      continue;
    }
    if (param.shape.join() !== t.shape.join()) {
      throw new Error(
        `${weightsPath}: tensor "${orig}" has shape [${t.shape}] but the model's "${target}" is ` +
          `[${param.shape}]`,
      );
    }
    sd[target] = {
      shape: t.shape,
      data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data),
    };
  }
  const missing = [...expected.keys()].filter((k) => !(k in sd));
  model.load_state_dict(sd, { strict: false });
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
  return { missing_keys: missing, unexpected_keys: unexpected };
}

/** Resolves and loads a model's weights (see {@linkcode loadPretrainedWeights}). */
export async function loadWeightsFrom(
  model: Module,
  idOrDir: string,
  options: FromPretrainedOptions,
  prefix: string,
): Promise<void> {
  const path = await resolveModelWeights(idOrDir, options);
  await loadPretrainedWeights(model, path, prefix, options.warn);
}

/**
 * Writes `model.safetensors` (F32, every `state_dict()` entry, HF names) into `dir` atomically.
 * @throws {Error} naming the file when writing fails (an existing file is left untouched).
 */
export async function saveWeights(model: Module, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of model.state_dict()) {
    out.set(name, { shape: t.shape, data: (await t.toArray()) as Float32Array });
  }
  await saveSafetensors(join(dir, "model.safetensors"), out);
}
