import { join } from "node:path";
import type { Module } from "../nn/module.ts";
import { loadSafetensors, saveSafetensors } from "../io/safetensors.ts";
import { writeAtomic } from "../util/write_atomic.ts";
import { readJsonIfExists } from "../util/json_file.ts";
import { applyVeLoRA, veloraLayers } from "./apply.ts";
import type { VeLoRAInitType } from "./velora_linear.ts";

/** File names of the VeLoRA sidecar written next to a checkpoint. */
export const VELORA_CONFIG_NAME = "velora_config.json";
/** The v vectors, one F32 tensor per patched layer name. */
export const VELORA_VECTORS_NAME = "velora_vectors.safetensors";

interface SidecarLayer {
  num_groups: number;
  sub_token_size: number;
  init_type: VeLoRAInitType;
  scale: number;
  initialized: boolean;
}

/**
 * Writes `velora_config.json` and `velora_vectors.safetensors` into `dir` (atomically), so a
 * resumed run keeps the same v and init state. The model weights themselves stay a plain HF
 * checkpoint (`save_pretrained`). Does nothing when `model` has no VeLoRA layers.
 * @throws {Error} naming the file when writing fails.
 */
export async function saveVeLoRA(model: Module, dir: string): Promise<void> {
  const layers = veloraLayers(model);
  if (!layers.length) return;
  const config: Record<string, SidecarLayer> = {};
  const vectors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, l] of layers) {
    config[name] = {
      num_groups: l.num_groups,
      sub_token_size: l.sub_token_size,
      init_type: l.init_type,
      scale: l.scale,
      initialized: l.initialized,
    };
    if (l.v) {
      vectors.set(name, { shape: [l.sub_token_size], data: (await l.v.toArray()) as Float32Array });
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  await saveSafetensors(join(dir, VELORA_VECTORS_NAME), vectors);
  const path = join(dir, VELORA_CONFIG_NAME);
  await writeAtomic(path, JSON.stringify({ velora_version: 1, layers: config }, null, 2) + "\n", {
    what: "writing the VeLoRA config",
  });
}

/**
 * Restores VeLoRA layers and their v vectors from a sidecar in `dir`: layers named there are
 * patched (if not already) with the saved options, and initialised v vectors are loaded (layers
 * whose vectors are equal share one tensor again, so a shared input's z is computed once).
 * Returns false when `dir` has no sidecar.
 * @throws {Error} naming the file and layer for unreadable files or unknown layer names.
 */
export async function loadVeLoRA(model: Module, dir: string): Promise<boolean> {
  const path = join(dir, VELORA_CONFIG_NAME);
  const parsed = await readJsonIfExists(path) as
    | { layers?: Record<string, SidecarLayer> }
    | undefined;
  if (parsed === undefined) return false;
  const entries = Object.entries(parsed.layers ?? {});
  // Layers with the same options are patched together, so they share one sharing object.
  const groups = new Map<string, string[]>();
  for (const [name, o] of entries) {
    const key = JSON.stringify([o.num_groups, o.init_type, o.scale]);
    groups.set(key, [...groups.get(key) ?? [], name]);
  }
  for (const names of groups.values()) {
    const o = parsed.layers![names[0]];
    applyVeLoRA(model, {
      target_modules: names.map((n) => new RegExp(n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))),
      num_groups: o.num_groups,
      init_type: o.init_type,
      scale: o.scale,
    });
  }
  const vectors = await loadSafetensors(join(dir, VELORA_VECTORS_NAME));
  const byName = new Map(veloraLayers(model));
  for (const [name, opts] of entries) {
    const v = vectors.get(name);
    // set_extra_state interns equal vectors, so q/k/v share one v (and z) again.
    byName.get(name)!.set_extra_state({
      ...opts,
      initialized: opts.initialized && v !== undefined,
      v: v?.data as Float32Array ?? null,
    });
  }
  return true;
}
