/**
 * Safetensors in memory, with no file system: parsing an `ArrayBuffer` (a `fetch` body, a file
 * picked in a browser) with the same header validation as the file reader, and serialising
 * tensors to bytes (for a download) in the layout the file writer uses.
 *
 * @module
 */

import { assertLittleEndianHost, decodeTensorBytes } from "./safetensors_dtype.ts";
import { MAX_HEADER_BYTES, parseHeaderBytes } from "./safetensors_header.ts";
import type { LoadedTensor, LoadSafetensorsOptions } from "./safetensors_read.ts";
import { encodeHeader, plan, type SaveSafetensorsTensors } from "./safetensors_write.ts";

/**
 * Parses a whole safetensors file held in memory.
 *
 * @param bytes the file's bytes
 * @param name what to call the file in error messages (a URL or file name)
 * @param options `names` to return a subset (every name must exist)
 * @returns a Map from tensor name to `{dtype, shape, data}` in `names` order or header order;
 * F32/I32 tensors at 8-byte aligned offsets are views of `bytes` (no copy)
 * @throws Error naming `name` (and the tensor) for the same defects as `loadSafetensors`: a short
 * file, a header over 100 MB or past the end, invalid JSON, duplicate keys, bad entries, gaps or
 * overlaps in the data area, a missing requested name, an unsupported dtype.
 */
export function loadSafetensorsFromBuffer(
  bytes: ArrayBuffer | Uint8Array,
  name = "safetensors buffer",
  options: LoadSafetensorsOptions = {},
): Map<string, LoadedTensor> {
  assertLittleEndianHost(name);
  const all = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (all.byteLength < 8) {
    throw new Error(`${name}: not a safetensors file (${all.byteLength} bytes)`);
  }
  const n = new DataView(all.buffer, all.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES) || Number(n) > all.byteLength - 8) {
    throw new Error(
      `${name}: safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit or the ${all.byteLength}-byte file; file truncated or corrupt`,
    );
  }
  const dataStart = 8 + Number(n);
  const header = parseHeaderBytes(
    all.subarray(8, dataStart),
    all.byteLength - dataStart,
    name,
  );
  const byName = new Map(header.entries.map((e) => [e.name, e]));
  const wanted = options.names ? [...new Set(options.names)] : header.entries.map((e) => e.name);
  const missing = wanted.filter((w) => !byName.has(w));
  if (missing.length > 0) {
    throw new Error(
      `${name}: ${missing.length} requested tensor(s) not in file: ${
        missing.slice(0, 5).map((m) => `"${m}"`).join(", ")
      }`,
    );
  }
  const out = new Map<string, LoadedTensor>();
  for (const w of wanted) {
    const entry = byName.get(w)!;
    const [begin, end] = entry.dataOffsets;
    out.set(w, {
      dtype: entry.dtype,
      shape: [...entry.shape],
      data: decodeTensorBytes(
        all.subarray(dataStart + begin, dataStart + end),
        entry.dtype,
        `${name}: tensor "${w}"`,
      ),
    });
  }
  return out;
}

/**
 * Serialises tensors to the bytes of a safetensors file, exactly as `saveSafetensors` writes them
 * (header padded to 8 bytes, `__metadata__` with `format: "pt"`, tensors sorted by name, packed).
 *
 * @param tensors name → `{shape, data}` (F32 or I32)
 * @param metadata extra `__metadata__` strings
 * @param name what to call the result in error messages
 * @returns the file's bytes
 * @throws Error naming the tensor for an invalid name, a shape/data length mismatch or a
 * non-string metadata value.
 */
export function serializeSafetensors(
  tensors: SaveSafetensorsTensors,
  metadata?: Record<string, string>,
  name = "model.safetensors",
): Uint8Array<ArrayBuffer> {
  assertLittleEndianHost(name);
  const planned = plan(name, tensors);
  const header = encodeHeader(name, planned, metadata);
  const total = planned.reduce((s, p) => s + p.bytes.byteLength, header.byteLength);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let off = header.byteLength;
  for (const p of planned) {
    out.set(p.bytes, off);
    off += p.bytes.byteLength;
  }
  return out;
}
