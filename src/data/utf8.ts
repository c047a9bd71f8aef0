/**
 * Strict UTF-8 decoding of data files that still tells which line (and byte) is at fault.
 *
 * @module
 */

/** A decoded file split into lines, with the lines whose bytes are not valid UTF-8. */
export interface DecodedLines {
  /** The lines, split on `\n` only (a `\r` before it stays), without the BOM. */
  lines: string[];
  /** 0-based line index to the 1-based byte column of the first invalid byte on that line. */
  invalid: Map<number, number>;
}

const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/** Returns the offset of the first byte that starts an invalid UTF-8 sequence, or -1. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf
      ? 1
      : c >= 0xe0 && c <= 0xef
      ? 2
      : c >= 0xf0 && c <= 0xf4
      ? 3
      : 0;
    if (n === 0 || i + n >= bytes.length) return i;
    for (let k = 1; k <= n; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    const c1 = bytes[i + 1];
    if (
      (c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) ||
      (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)
    ) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * Decodes a file's bytes as UTF-8 with `TextDecoder("utf-8", { fatal: true })` and splits it
 * into lines. When some bytes are invalid, the other lines are still returned and each bad line is
 * listed in {@linkcode DecodedLines.invalid} (its text is decoded with replacement characters),
 * so callers can report `FILE:LINE` or skip the row.
 */
export function decodeUtf8Lines(bytes: Uint8Array): DecodedLines {
  try {
    return { lines: strict.decode(bytes).split("\n"), invalid: new Map() };
  } catch {
    // Fall through: locate the bad lines one by one.
  }
  const lines: string[] = [];
  const invalid = new Map<number, number>();
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = bytes.subarray(start, end);
    const bad = invalidUtf8Offset(line);
    if (bad >= 0) invalid.set(lines.length, bad + 1);
    lines.push(lenient.decode(line, { stream: false }));
    start = end + 1;
  }
  return { lines, invalid };
}
