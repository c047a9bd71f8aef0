/**
 * Atomic safetensors writer (F32 and I32 tensors).
 *
 * Layout as written by the reference implementation (https://github.com/huggingface/safetensors):
 * u64 little-endian header length, JSON header padded with spaces so the data area starts on an
 * 8-byte boundary, `__metadata__` first (always with a `format`, `"pt"` by default), tensors sorted by name and packed without gaps.
 *
 * @module
 */

import { assertLittleEndianHost } from "./safetensors_dtype.ts";
import { writeAtomic } from "../util/write_atomic.ts";

/** A tensor to save: row-major `data` whose length is the product of `shape`. */
export interface SaveSafetensorsTensor {
  /** Shape in PyTorch order (`[]` for a scalar). */
  shape: readonly number[];
  /** Values; `Float32Array` is written as `F32`, `Int32Array` as `I32`. */
  data: Float32Array | Int32Array;
}

/** Tensors to save, keyed by name (a Map or a plain object). */
export type SaveSafetensorsTensors =
  | Map<string, SaveSafetensorsTensor>
  | Record<string, SaveSafetensorsTensor>;

/** One tensor laid out for writing. */
export interface Planned {
  name: string;
  bytes: Uint8Array;
  header: { dtype: "F32" | "I32"; shape: number[]; data_offsets: [number, number] };
}

/** Validates and lays out tensors: sorted by name, packed from offset 0. */
export function plan(path: string, tensors: SaveSafetensorsTensors): Planned[] {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let offset = 0;
  return list.map(([name, t]) => {
    const at = `${path}: tensor "${name}"`;
    if (name === "" || name === "__metadata__") throw new Error(`${at}: invalid tensor name`);
    if (!t || !(t.data instanceof Float32Array || t.data instanceof Int32Array)) {
      throw new Error(`${at}: data must be a Float32Array or Int32Array`);
    }
    const shape = [...t.shape];
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${at}: shape ${JSON.stringify(t.shape)} must be non-negative integers`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(
        `${at}: shape [${shape}] holds ${count} elements but data has ${t.data.length}`,
      );
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const dtype = t.data instanceof Float32Array ? "F32" : "I32";
    const begin = offset;
    offset += bytes.byteLength;
    return { name, bytes, header: { dtype, shape, data_offsets: [begin, offset] } };
  });
}

/** The length prefix and JSON header, padded with spaces to a multiple of 8 bytes. */
export function encodeHeader(
  path: string,
  planned: Planned[],
  metadata: Record<string, string> | undefined,
): Uint8Array {
  const meta = { format: "pt", ...metadata };
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string") {
      throw new Error(`${path}: metadata value for key "${k}" must be a string`);
    }
  }
  const json: Record<string, unknown> = { __metadata__: meta };
  for (const p of planned) json[p.name] = p.header;
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(text, 8);
  return out;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) off += await file.write(bytes.subarray(off));
}

/**
 * Saves tensors to a safetensors file atomically: everything is written to
 * `${path}.tmp-<random>`, synced, then renamed onto `path`. On any failure the temporary file is
 * removed and an existing `path` is left untouched.
 *
 * @param path destination file
 * @param tensors F32 (`Float32Array`) or I32 (`Int32Array`) tensors by name
 * @param metadata `__metadata__` string map; `format: "pt"` is added unless given, because
 * transformers refuses safetensors files without a known `format`
 * @throws Error naming the file and tensor for an invalid name, shape/data length mismatch or
 * non-string metadata value (checked before anything is written), or naming the file when
 * writing or renaming fails.
 */
export async function saveSafetensors(
  path: string,
  tensors: SaveSafetensorsTensors,
  metadata?: Record<string, string>,
): Promise<void> {
  assertLittleEndianHost(path);
  const planned = plan(path, tensors);
  const header = encodeHeader(path, planned, metadata);
  await writeAtomic(path, async (tmp) => {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      await writeAll(file, header);
      for (const p of planned) await writeAll(file, p.bytes);
      await file.syncData();
    } finally {
      file.close();
    }
  }, { what: "saving safetensors" });
}
