/**
 * Safetensors reader. Format: https://github.com/huggingface/safetensors. Each tensor is read with a positioned read
 * into a freshly allocated buffer that becomes the returned array's storage, so a file is never
 * held twice in memory; F16/BF16/F64 are widened to `Float32Array`, integer types narrowed to
 * `Int32Array` (erroring when a value does not fit).
 *
 * @module
 */

import {
  assertLittleEndianHost,
  decodeTensorBytes,
  type SafetensorsDtype,
} from "./safetensors_dtype.ts";
import {
  openForRead,
  readAt,
  readHeaderFromFile,
  type SafetensorsEntry,
} from "./safetensors_header.ts";

/** One tensor loaded from a safetensors file. */
export interface LoadedTensor {
  /** The dtype stored in the file (before conversion). */
  dtype: SafetensorsDtype;
  /** Shape in PyTorch order. */
  shape: number[];
  /** Row-major values: `Float32Array` for float dtypes, `Int32Array` for integer dtypes. */
  data: Float32Array | Int32Array;
}

/** Options of {@link loadSafetensors}. */
export interface LoadSafetensorsOptions {
  /** Load only these tensors (in this order); every name must exist in the file. Default: all. */
  names?: Iterable<string>;
}

/**
 * Loads tensors from a safetensors file.
 *
 * @param path file path (a `.bin`/`.pt`/`.pth` PyTorch checkpoint is refused with the command
 * that converts it)
 * @param options `names` to load a subset
 * @returns a Map from tensor name to `{dtype, shape, data}`, in `names` order or header order
 * @throws Error naming the file (and tensor) when the file is missing, corrupt (see
 * `readSafetensorsHeader`), a PyTorch checkpoint, shorter than its header says, lacks a requested
 * name, or holds an unsupported dtype (F8_*) or an integer outside int32.
 */
export async function loadSafetensors(
  path: string,
  options: LoadSafetensorsOptions = {},
): Promise<Map<string, LoadedTensor>> {
  assertLittleEndianHost(path);
  const file = await openForRead(path);
  try {
    const header = await readHeaderFromFile(file, path);
    const selected = selectEntries(header.entries, options.names, path);
    const out = new Map<string, LoadedTensor>();
    // Loading everything: one read of the whole data area (validated to be exactly tiled by the
    // tensors), not one positioned read per tensor — 50,000 small tensors load in one syscall.
    const whole = options.names === undefined
      ? new Uint8Array(header.fileSize - header.dataStart)
      : null;
    if (whole) await readAt(file, header.dataStart, whole, path);
    for (const entry of selected) {
      const [begin, end] = entry.dataOffsets;
      const where = `${path}: tensor "${entry.name}"`;
      let bytes: Uint8Array;
      if (whole) {
        bytes = whole.subarray(begin, end);
      } else {
        bytes = new Uint8Array(end - begin);
        await readAt(file, header.dataStart + begin, bytes, where);
      }
      out.set(entry.name, {
        dtype: entry.dtype,
        shape: [...entry.shape],
        data: decodeTensorBytes(bytes, entry.dtype, where),
      });
    }
    return out;
  } finally {
    file.close();
  }
}

function selectEntries(
  entries: SafetensorsEntry[],
  names: Iterable<string> | undefined,
  path: string,
): SafetensorsEntry[] {
  if (names === undefined) return entries;
  const byName = new Map(entries.map((e) => [e.name, e]));
  const wanted = [...new Set(names)];
  const missing = wanted.filter((n) => !byName.has(n));
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((n) => `"${n}"`).join(", ");
    throw new Error(
      `${path}: ${missing.length} requested tensor(s) not in file: ${shown}${
        missing.length > 5 ? ", ..." : ""
      }`,
    );
  }
  return wanted.map((n) => byName.get(n)!);
}
