/**
 * Saving and restoring every module's extra state ({@linkcode Module.get_extra_state}) as one
 * file, so checkpoint code keeps plugin state (e.g. VeLoRA's v vectors) without importing the
 * plugin: `extra_state.safetensors`, whose tensors are named `<module>._extra_state.<field>` and
 * whose `__metadata__.extra_state` holds the JSON fields (tensor fields as `{"tensor": name}`).
 *
 * @module
 */

import { join } from "node:path";
import { loadSafetensors, readSafetensorsHeader, saveSafetensors } from "../io/safetensors.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { ExtraState, ExtraStateValue, IncompatibleKeys, Module } from "./module.ts";

/** File name of the extra state written next to a checkpoint's weights. */
export const EXTRA_STATE_NAME = "extra_state.safetensors";

type Json = ExtraStateValue;

function isTensorRef(v: unknown): v is { tensor: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    Object.keys(v).length === 1 && typeof (v as { tensor?: unknown }).tensor === "string";
}

/**
 * Writes `model.extra_state_dict()` into `<dir>/extra_state.safetensors` (atomically). Writes
 * nothing and returns false when no module has extra state.
 * @throws {Error} naming the module and field when a nested value is a tensor (only top-level
 * fields may be tensors), or naming the file when writing fails.
 */
export async function saveExtraState(model: Module, dir: string): Promise<boolean> {
  const states = model.extra_state_dict();
  if (!states.size) return false;
  const tensors = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  const json: Record<string, Record<string, Json>> = {};
  for (const [key, state] of states) {
    const entry: Record<string, Json> = {};
    for (const [field, value] of Object.entries(state)) {
      const name = `${key}.${field}`;
      if (value instanceof Tensor) {
        tensors.set(name, { shape: [...value.shape], data: await value.toArray() });
        entry[field] = { tensor: name };
      } else if (value instanceof Float32Array || value instanceof Int32Array) {
        tensors.set(name, { shape: [value.length], data: value });
        entry[field] = { tensor: name };
      } else {
        checkPlain(value, name);
        entry[field] = value;
      }
    }
    json[key] = entry;
  }
  await Deno.mkdir(dir, { recursive: true });
  await saveSafetensors(join(dir, EXTRA_STATE_NAME), tensors, {
    format: "pt",
    extra_state: JSON.stringify(json),
  });
  return true;
}

function checkPlain(v: unknown, where: string): void {
  if (v instanceof Tensor || ArrayBuffer.isView(v)) {
    throw new Error(`extra state "${where}": tensors are allowed only as top-level fields`);
  }
  if (Array.isArray(v)) v.forEach((x, i) => checkPlain(x, `${where}.${i}`));
  else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) checkPlain(x, `${where}.${k}`);
  }
}

/**
 * Reads `<dir>/extra_state.safetensors` and hands each entry to its module
 * (`load_extra_state_dict`, strict by default). When the file is absent: with `strict`, an error
 * if the model has extra state; otherwise nothing happens.
 * @throws {Error} naming the file for a missing or unreadable file, bad metadata, or the keys
 * that do not match the model.
 */
export async function loadExtraState(
  model: Module,
  dir: string,
  { strict = true }: { strict?: boolean } = {},
): Promise<IncompatibleKeys> {
  const path = join(dir, EXTRA_STATE_NAME);
  const expected = [...model.extra_state_dict().keys()];
  let exists = true;
  try {
    await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    exists = false;
  }
  if (!exists) {
    if (strict && expected.length) {
      throw new Error(
        `${path}: missing; the model has extra state (${expected.slice(0, 3).join(", ")}${
          expected.length > 3 ? ", ..." : ""
        }) that this checkpoint should hold`,
      );
    }
    return { missing_keys: expected, unexpected_keys: [] };
  }
  const header = await readSafetensorsHeader(path);
  let json: Record<string, Record<string, Json>>;
  try {
    json = JSON.parse(header.metadata?.extra_state ?? "");
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new Error("not an object");
    }
  } catch (e) {
    throw new Error(
      `${path}: __metadata__.extra_state is not a JSON object: ${(e as Error).message}`,
    );
  }
  const tensors = await loadSafetensors(path);
  const states = new Map<string, ExtraState>();
  for (const [key, entry] of Object.entries(json)) {
    const state: ExtraState = {};
    for (const [field, value] of Object.entries(entry ?? {})) {
      if (isTensorRef(value)) {
        const t = tensors.get(value.tensor);
        if (!t) throw new Error(`${path}: extra state "${key}.${field}" names a missing tensor`);
        state[field] = t.data;
      } else state[field] = value;
    }
    states.set(key, state);
  }
  try {
    return model.load_extra_state_dict(states, { strict });
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
