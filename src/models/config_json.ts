/**
 * Reading and writing a model's `config.json`, shared by every config class (`BertConfig`,
 * `LlamaConfig`) and the Auto classes: where the file is found, how unreadable JSON is reported,
 * and how HF lays the object out when it writes one (keys sorted, 2-space indent, atomic).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { resolveModelFile, type ResolveModelFileOptions } from "../hub/resolve.ts";
import { writeAtomic } from "../util/write_atomic.ts";

/** Whether `v` is a JSON object (not null, not an array). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Finds `config.json` in a local folder or hub repo (see `resolveModelFile`) and parses it.
 * @returns the file's path (for messages) and its parsed, unchecked JSON value.
 * @throws {Error} `"<path>: cannot read config.json: <reason>"` for an unreadable file or bad
 * JSON, plus any `resolveModelFile` error.
 */
export async function readConfigJson(
  idOrDir: string,
  options: Omit<ResolveModelFileOptions, "required">,
): Promise<{ path: string; json: unknown }> {
  const path = await resolveModelFile(idOrDir, "config.json", { ...options, required: true });
  try {
    return { path, json: JSON.parse(await Deno.readTextFile(path)) };
  } catch (e) {
    throw new Error(`${path}: cannot read config.json: ${(e as Error).message}`);
  }
}

/**
 * The HF-compatible `config.json` object of a config: the pass-through fields of `extra`, then
 * every typed field of `fields` read from `config` (`architectures` only when known), keys sorted
 * as HF writes them. Values are deep copies.
 */
export function configJson<F extends string>(
  config: { readonly [K in F]: unknown } & { readonly architectures: unknown },
  fields: readonly F[],
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(extra);
  for (const f of fields) {
    if (f === "architectures" && config.architectures === null) continue;
    out[f] = structuredClone(config[f]);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Writes `json` as `dir/config.json` (2-space indented, trailing newline), creating `dir`;
 * atomic (temp file + rename).
 * @throws {Error} `"<path>: writing config failed: <reason>"`.
 */
export async function writeConfigJson(dir: string, json: Record<string, unknown>): Promise<void> {
  const path = join(dir, "config.json");
  await Deno.mkdir(dirname(path), { recursive: true }).catch((e) => {
    throw new Error(`${path}: writing config failed: ${(e as Error).message}`, { cause: e });
  });
  await writeAtomic(path, JSON.stringify(json, null, 2) + "\n", { what: "writing config" });
}
