/**
 * Reading and validating the (untrusted) JSON header of a safetensors file.
 *
 * Format (https://github.com/huggingface/safetensors): 8-byte little-endian u64 header length
 * `N`, then `N` bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__"?: {string: string}}`, then the data area. Offsets are relative to the start of
 * the data area (byte `8 + N` of the file).
 *
 * @module
 */

import {
  isSafetensorsDtype,
  SAFETENSORS_DTYPE_SIZES,
  type SafetensorsDtype,
} from "./safetensors_dtype.ts";
import { findDuplicateKey } from "./json_duplicates.ts";
import {
  looksLikePytorch,
  pytorchRefusalMessage,
  refuseNonSafetensors,
} from "./safetensors_refuse.ts";

/** Largest header accepted, in bytes (the limit of the reference implementation: 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor described by a safetensors header. */
export interface SafetensorsEntry {
  /** Tensor name, e.g. `"encoder.layer.0.attention.self.query.weight"`. */
  name: string;
  /** Element type as written in the file. */
  dtype: SafetensorsDtype;
  /** Shape in PyTorch order; `[]` is a scalar. */
  shape: number[];
  /** `[begin, end)` byte offsets relative to the start of the data area (`data_offsets`). */
  dataOffsets: [number, number];
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  /** The file it was read from. */
  path: string;
  /** Total file size in bytes. */
  fileSize: number;
  /** Absolute file offset of the data area: `8 + N`. */
  dataStart: number;
  /** Tensors in header (JSON key) order. */
  entries: SafetensorsEntry[];
  /** The `__metadata__` string map, or null when absent. */
  metadata: Record<string, string> | null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Validates a parsed header object against the data area size.
 *
 * @param json the parsed JSON header
 * @param dataBytes size of the data area in bytes (file size - 8 - N)
 * @param path the file name, used in error messages
 * @throws Error naming the file and the tensor when the header is not an object, `__metadata__` is
 * not a string map, an entry lacks fields, the dtype is unknown, the shape is not an array of
 * non-negative safe integers, `product(shape) × dtype size ≠ end − begin`, offsets fall outside
 * the data area, two tensors overlap, or the tensors leave a gap or trailing bytes in the data area.
 */
export function validateHeaderJson(
  json: unknown,
  dataBytes: number,
  path: string,
): { entries: SafetensorsEntry[]; metadata: Record<string, string> | null } {
  if (!isPlainObject(json)) {
    throw new Error(`${path}: safetensors header must be a JSON object`);
  }
  let metadata: Record<string, string> | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isPlainObject(raw)) {
        throw new Error(`${path}: "__metadata__" must be an object of strings`);
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") {
          throw new Error(`${path}: "__metadata__" value for key "${k}" must be a string`);
        }
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    entries.push(validateEntry(name, raw, dataBytes, path));
  }
  checkContiguous(entries, dataBytes, path);
  return { entries, metadata };
}

function validateEntry(
  name: string,
  raw: unknown,
  dataBytes: number,
  path: string,
): SafetensorsEntry {
  const at = `${path}: tensor "${name}"`;
  if (!isPlainObject(raw)) throw new Error(`${at}: header entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (!isSafetensorsDtype(dtype)) {
    throw new Error(`${at}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(
      `${at}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new Error(
      `${at}: data_offsets must be [begin, end] non-negative integers, got ${
        JSON.stringify(offsets)
      }`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new Error(`${at}: data_offsets [${begin}, ${end}] end before begin`);
  if (end > dataBytes) {
    throw new Error(
      `${at}: data_offsets [${begin}, ${end}] extend past the data area (${dataBytes} bytes); file truncated or corrupt`,
    );
  }
  const size = SAFETENSORS_DTYPE_SIZES[dtype];
  let count = 1;
  for (const d of shape as number[]) {
    count *= d;
    if (count * size > Number.MAX_SAFE_INTEGER) {
      throw new Error(`${at}: shape ${JSON.stringify(shape)} is too large`);
    }
  }
  if (count * size !== end - begin) {
    throw new Error(
      `${at}: dtype ${dtype} shape [${shape}] needs ${
        count * size
      } bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: [...shape as number[]], dataOffsets: [begin, end] };
}

/**
 * The data area must be tiled exactly, as the reference implementation's `validate` demands:
 * sorted by offsets, each tensor starts where the previous one ended and the last one ends at the
 * end of the file. One sort, so O(n log n) in the number of tensors.
 */
function checkContiguous(entries: SafetensorsEntry[], dataBytes: number, path: string): void {
  const sorted = [...entries].sort((a, b) =>
    a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]
  );
  let pos = 0;
  let prev: SafetensorsEntry | null = null;
  for (const cur of sorted) {
    const [begin] = cur.dataOffsets;
    if (begin < pos) {
      throw new Error(
        `${path}: tensor "${cur.name}" data_offsets [${cur.dataOffsets}] overlap tensor "${
          prev!.name
        }" [${prev!.dataOffsets}]`,
      );
    }
    if (begin > pos) {
      throw new Error(
        `${path}: gap of ${begin - pos} bytes in the data area before tensor "${cur.name}" ` +
          `(data_offsets [${cur.dataOffsets}], previous tensor ends at ${pos}); file corrupt`,
      );
    }
    pos = cur.dataOffsets[1];
    prev = cur;
  }
  if (pos !== dataBytes) {
    throw new Error(
      `${path}: the data area holds ${dataBytes} bytes but the tensors cover ${pos}; ` +
        `${dataBytes - pos} trailing bytes, file corrupt`,
    );
  }
}

/**
 * Decodes, parses and validates the JSON header bytes (the `N` bytes after the length prefix).
 *
 * @param headerBytes the header (UTF-8 JSON, possibly space-padded)
 * @param dataBytes size of the data area in bytes
 * @param path the file name, used in error messages
 * @throws Error naming the file when the bytes are not UTF-8 JSON, a key occurs twice in one
 * object (`JSON.parse` would keep the last one silently), or {@link validateHeaderJson} fails.
 */
export function parseHeaderBytes(
  headerBytes: Uint8Array,
  dataBytes: number,
  path: string,
): { entries: SafetensorsEntry[]; metadata: Record<string, string> | null } {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${path}: safetensors header (${headerBytes.byteLength} bytes) is not valid UTF-8 JSON: ${
        (e as Error).message
      }`,
    );
  }
  const dup = findDuplicateKey(text);
  if (dup) {
    throw new Error(
      `${path}: safetensors header has the key ${JSON.stringify(dup.key)} twice${
        dup.path ? ` in "${dup.path}"` : ""
      }; file corrupt`,
    );
  }
  return validateHeaderJson(json, dataBytes, path);
}

async function readExactly(file: Deno.FsFile, buf: Uint8Array, what: string): Promise<void> {
  let off = 0;
  while (off < buf.byteLength) {
    const n = await file.read(buf.subarray(off));
    if (n === null) {
      throw new Error(`${what}: unexpected end of file after ${off} of ${buf.byteLength} bytes`);
    }
    off += n;
  }
}

/**
 * Reads `buf.byteLength` bytes at absolute offset `position` of an open file.
 *
 * @throws Error naming `what` when the file ends early.
 */
export async function readAt(
  file: Deno.FsFile,
  position: number,
  buf: Uint8Array,
  what: string,
): Promise<void> {
  await file.seek(position, Deno.SeekMode.Start);
  await readExactly(file, buf, what);
}

/**
 * Reads and validates the header of an already open safetensors file. Never reads more than
 * `min(MAX_HEADER_BYTES, fileSize - 8)` bytes, so corrupt files fail fast without large allocations.
 *
 * @throws Error naming `path` for a file under 8 bytes, a header length over the bound or past
 * the end of the file, a header that is not UTF-8 JSON, or any {@link validateHeaderJson} failure.
 */
export async function readHeaderFromFile(
  file: Deno.FsFile,
  path: string,
): Promise<SafetensorsHeader> {
  const fileSize = (await file.stat()).size;
  if (fileSize < 8) {
    throw new Error(
      `${path}: not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`,
    );
  }
  const lenBytes = new Uint8Array(8);
  await readAt(file, 0, lenBytes, path);
  try {
    return await parseHeader(file, path, fileSize, lenBytes);
  } catch (e) {
    // A torch.save file (zip or pickle) renamed to .safetensors: say what it is.
    if (looksLikePytorch(lenBytes)) throw new Error(pytorchRefusalMessage(path));
    if (new TextDecoder().decode(lenBytes) === "version ") {
      throw new Error(
        `${path}: is a Git LFS pointer, not the weights; fetch them with \`git lfs pull\``,
      );
    }
    throw e;
  }
}

async function parseHeader(
  file: Deno.FsFile,
  path: string,
  fileSize: number,
  lenBytes: Uint8Array,
): Promise<SafetensorsHeader> {
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `${path}: safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit; file corrupt or not safetensors`,
    );
  }
  const headerLen = Number(n);
  if (headerLen > fileSize - 8) {
    throw new Error(
      `${path}: safetensors header length ${headerLen} exceeds the file size ${fileSize} - 8; file truncated or corrupt`,
    );
  }
  const headerBytes = new Uint8Array(headerLen);
  await readAt(file, 8, headerBytes, path);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeaderBytes(headerBytes, fileSize - dataStart, path);
  return { path, fileSize, dataStart, entries, metadata };
}

/**
 * Reads and validates the header of a safetensors file without reading any tensor data.
 *
 * @param path file path
 * @returns the tensor entries (name, dtype, shape, data offsets) and `__metadata__`
 * @throws Error naming the file (and tensor) when the file is missing, is a PyTorch pickle, or
 * its header is corrupt (see {@link readHeaderFromFile}).
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const file = await openForRead(path);
  try {
    return await readHeaderFromFile(file, path);
  } finally {
    file.close();
  }
}

/**
 * Opens `path` for reading; refuses PyTorch checkpoints by name before touching them.
 *
 * @throws Error naming the file when it does not exist or is a `.bin`/`.pt`/`.pth` checkpoint.
 */
export async function openForRead(path: string): Promise<Deno.FsFile> {
  refuseNonSafetensors(path);
  try {
    return await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${path}: safetensors file not found`);
    }
    throw new Error(`${path}: cannot open safetensors file: ${(e as Error).message}`);
  }
}
