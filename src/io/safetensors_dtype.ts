/**
 * Safetensors element types: byte sizes and conversion of raw little-endian bytes to the
 * `Float32Array` / `Int32Array` that velora works with.
 *
 * The dtype names and sizes are those of the safetensors format
 * (https://github.com/huggingface/safetensors, `Dtype` in `safetensors/src/tensor.rs`).
 *
 * @module
 */

/** Size in bytes of one element of each dtype the safetensors format defines. */
export const SAFETENSORS_DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

/** A dtype name as written in a safetensors header (`"F32"`, `"BF16"`, `"I64"`, ...). */
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_SIZES;

/** Dtypes that {@link decodeTensorBytes} converts to a `Float32Array`. */
export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ["F32", "F16", "BF16", "F64"];

/** Dtypes that {@link decodeTensorBytes} converts to an `Int32Array` (erroring when a value does not fit). */
export const INT_DTYPES: readonly SafetensorsDtype[] = [
  "I32",
  "I64",
  "U32",
  "U64",
  "I16",
  "U16",
  "I8",
  "U8",
  "BOOL",
];

/** Returns true when `name` is a dtype defined by the safetensors format. */
export function isSafetensorsDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === "string" && Object.hasOwn(SAFETENSORS_DTYPE_SIZES, name);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Throws when the host is big-endian: safetensors data is little-endian and velora reinterprets
 * buffers in place. `what` names the file being read or written.
 */
export function assertLittleEndianHost(what: string): void {
  if (!LITTLE_ENDIAN) {
    throw new Error(`${what}: safetensors I/O needs a little-endian host`);
  }
}

let f16Table: Float32Array | null = null;

/** Float32 value of every IEEE 754 binary16 bit pattern (65,536 entries, built once on demand). */
function getF16Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24; // zero and subnormals
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = table;
  return table;
}

/**
 * Decodes IEEE 754 half-precision values (little-endian bytes, 2 per element) to float32.
 * Exact: every f16 value is representable in f32.
 */
export function decodeF16(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength >> 1;
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const table = getF16Table();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = table[halves[i]];
  return out;
}

/**
 * Decodes bfloat16 values (little-endian bytes, 2 per element) to float32: each value's bits are
 * the upper 16 bits of the float32, so the conversion is exact.
 */
export function decodeBF16(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength >> 1;
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = halves[i] << 16;
  return new Float32Array(out.buffer);
}

/** What a tensor's bytes decode to: floats for float dtypes, 32-bit ints for integer dtypes. */
export type DecodedData = Float32Array | Int32Array;

/**
 * Converts the raw bytes of one tensor to a `Float32Array` (F32, F16, BF16, F64) or an
 * `Int32Array` (I32, I64, U32, U64, I16, U16, I8, U8, BOOL).
 *
 * `bytes` must own its buffer from offset 0 (as returned by a fresh read): F32 and I32 data are
 * reinterpreted in place without a copy.
 *
 * @throws Error naming `where` (file and tensor) for an unsupported dtype (F8_*) or an integer
 * value outside the int32 range.
 */
export function decodeTensorBytes(
  bytes: Uint8Array,
  dtype: SafetensorsDtype,
  where: string,
): DecodedData {
  const n = bytes.byteLength / SAFETENSORS_DTYPE_SIZES[dtype];
  const aligned = bytes.byteOffset % 8 === 0;
  const own = aligned ? bytes : bytes.slice();
  switch (dtype) {
    case "F32":
      return new Float32Array(own.buffer, own.byteOffset, n);
    case "I32":
      return new Int32Array(own.buffer, own.byteOffset, n);
    case "F16":
      return decodeF16(own);
    case "BF16":
      return decodeBF16(own);
    case "F64":
      return Float32Array.from(new Float64Array(own.buffer, own.byteOffset, n));
    case "I64":
    case "U64": {
      const src = dtype === "I64"
        ? new BigInt64Array(own.buffer, own.byteOffset, n)
        : new BigUint64Array(own.buffer, own.byteOffset, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(
            `${where}: ${dtype} value ${v} at flat index ${i} does not fit in int32`,
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
    case "U32": {
      const src = new Uint32Array(own.buffer, own.byteOffset, n);
      for (let i = 0; i < n; i++) {
        if (src[i] > 2147483647) {
          throw new Error(`${where}: U32 value ${src[i]} at flat index ${i} does not fit in int32`);
        }
      }
      return new Int32Array(own.buffer, own.byteOffset, n);
    }
    case "I16":
      return Int32Array.from(new Int16Array(own.buffer, own.byteOffset, n));
    case "U16":
      return Int32Array.from(new Uint16Array(own.buffer, own.byteOffset, n));
    case "I8":
      return Int32Array.from(new Int8Array(own.buffer, own.byteOffset, n));
    case "U8":
    case "BOOL":
      return Int32Array.from(own);
    default:
      throw new Error(
        `${where}: dtype ${dtype} is not supported for loading (supported: ${
          [...FLOAT_DTYPES, ...INT_DTYPES].join(", ")
        })`,
      );
  }
}
