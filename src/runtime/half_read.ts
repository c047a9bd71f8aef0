/**
 * WGSL for kernels that read an operand which may be a packed-f16 tensor (two IEEE halves per
 * u32 word, element 2i in the low 16 bits): the storage declaration and an element getter, in the
 * three ways the same bytes can be read.
 * @module
 */
import type { Device } from "./device.ts";

/**
 * "f32": an f32 tensor; "f16": packed halves read as u32 words with `unpack2x16float` (any
 * adapter); "f16native": the same bytes as `array<f16>` (needs `enable f16;`, i.e.
 * `device.shaderF16`).
 */
export type ReadKind = "f32" | "f16" | "f16native";

/** The read kind for a tensor of `dtype` on `device` (f16 natively when it has `shader-f16`). */
export function readKind(device: Device, dtype: string): ReadKind {
  return dtype !== "f16" ? "f32" : device.shaderF16 ? "f16native" : "f16";
}

/** `enable f16;` for "f16native" (it must precede every other declaration), else "". */
export function enableFor(kind: ReadKind): string {
  return kind === "f16native" ? "enable f16;\n" : "";
}

/**
 * WGSL declaring `@group(0) @binding(binding) var<storage, read> name` of `kind` and
 * `fn getter(i: u32) -> f32` returning element i as f32.
 */
export function elementReader(
  kind: ReadKind,
  name: string,
  binding: number,
  getter: string,
): string {
  const decl = (type: string) =>
    `@group(0) @binding(${binding}) var<storage, read> ${name}: ${type};\n`;
  if (kind === "f32") {
    return decl("array<f32>") + `fn ${getter}(i: u32) -> f32 { return ${name}[i]; }\n`;
  }
  if (kind === "f16native") {
    return decl("array<f16>") + `fn ${getter}(i: u32) -> f32 { return f32(${name}[i]); }\n`;
  }
  return decl("array<u32>") +
    `fn ${getter}(i: u32) -> f32 { let w = unpack2x16float(${name}[i >> 1u]); ` +
    "return select(w.x, w.y, (i & 1u) == 1u); }\n";
}
