/**
 * What a WGSL module declares that TypeScript must match: its `@group(0) @binding(n)` variables,
 * the layout of its uniform struct, its `override` constants and its compute entry points. Read
 * with regular expressions from the project's own kernels (not a general WGSL parser): one
 * declaration per `var`, uniform structs of scalars and vectors of 32-bit types.
 * @module
 */

/** One `@group(0) @binding(n) var<...> name: T` declaration. */
export interface WgslBinding {
  /** The binding number. */
  binding: number;
  /** "uniform" or "storage". */
  space: "uniform" | "storage";
  /** "read" or "read_write" for storage, "read" for uniform. */
  access: "read" | "read_write";
  /** The declared type, e.g. `array<f32>` or `Params`. */
  type: string;
}

/** One field of a uniform struct, at its WGSL uniform-layout offset. */
export interface WgslField {
  /** Field name as declared. */
  name: string;
  /** Scalar type of the field or of its components. */
  scalar: "u32" | "i32" | "f32";
  /** 1 for a scalar, 2 / 3 / 4 for `vecN`. */
  components: number;
  /** Byte offset in the struct. */
  offset: number;
}

/** The contract of one WGSL source. */
export interface WgslContract {
  /** Every bound variable by name (variables of different entry points may share a number). */
  bindings: Map<string, WgslBinding>;
  /** Uniform structs by type name. */
  structs: Map<string, { fields: WgslField[]; size: number }>;
  /** `override` constant names. */
  overrides: Set<string>;
  /** Names of `@compute` entry points. */
  entryPoints: Set<string>;
  /**
   * The module-scope names a function statically uses, following the functions it calls (what
   * WebGPU's layout "auto" derives a pipeline's bindings from). Empty for an unknown function.
   */
  usedBy(fn: string): Set<string>;
}

const VAR =
  /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var(?:<([^>]*)>)?\s+(\w+)\s*:\s*([^;]+);/g;
const STRUCT = /struct\s+(\w+)\s*\{([^}]*)\}/g;
const OVERRIDE = /override\s+(\w+)\s*(?::|=)/g;
const ENTRY = /@compute(?:\s*@workgroup_size\([^)]*\))?\s*fn\s+(\w+)/g;
const FIELD = /^\s*(\w+)\s*:\s*(\w+)(?:<\s*(\w+)\s*>)?\s*$/;

/** Removes `//` and block comments (WGSL has no string literals, so this is safe). */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
}

/**
 * Lays out a struct body as the WGSL uniform address space does (scalars align 4, vec2 8,
 * vec3/vec4 16; the size rounded up to 16). Returns null when a field is not a 32-bit scalar or
 * vector (such a struct cannot be filled from TypeScript numbers and is not a kernel uniform).
 */
function layout(body: string): { fields: WgslField[]; size: number } | null {
  const fields: WgslField[] = [];
  let offset = 0;
  for (const decl of body.split(",")) {
    if (!decl.trim()) continue;
    const m = decl.match(FIELD);
    if (!m) return null;
    const [, name, type, inner] = m;
    let scalar: string, components: number;
    const vec = type.match(/^vec([234])([fiu])?$/);
    if (vec) {
      components = Number(vec[1]);
      scalar = vec[2] ? { f: "f32", i: "i32", u: "u32" }[vec[2]]! : inner ?? "";
    } else {
      components = 1;
      scalar = type;
    }
    if (scalar !== "u32" && scalar !== "i32" && scalar !== "f32") return null;
    const align = components === 1 ? 4 : components === 2 ? 8 : 16;
    offset = Math.ceil(offset / align) * align;
    fields.push({ name, scalar, components, offset });
    offset += 4 * components;
  }
  return { fields, size: Math.max(16, Math.ceil(offset / 16) * 16) };
}

const IDENT = /(?<![.\w])[A-Za-z_]\w*/g; // not after "." (member access such as v.x)
const LOCAL = /\b(?:let|var|const)\s+(\w+)|(\w+)\s*:\s*(?=[\w<])/g;

/** Each function's body and its locals (parameters, `let`/`var`/`const`), by name. */
function functions(text: string): Map<string, { body: string; locals: Set<string> }> {
  const out = new Map<string, { body: string; locals: Set<string> }>();
  for (const m of text.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    const open = text.indexOf("{", m.index);
    if (open < 0) continue;
    let depth = 0, end = open;
    for (; end < text.length; end++) {
      if (text[end] === "{") depth++;
      else if (text[end] === "}" && --depth === 0) break;
    }
    const signature = text.slice(m.index + m[0].length, open);
    const body = text.slice(open, end + 1);
    const locals = new Set<string>();
    for (const l of (signature + body).matchAll(LOCAL)) locals.add(l[1] ?? l[2]);
    out.set(m[1], { body: signature + body, locals });
  }
  return out;
}

/** Reads the contract of `code`. */
export function parseWgsl(code: string): WgslContract {
  const text = stripComments(code);
  const bindings = new Map<string, WgslBinding>();
  for (const m of text.matchAll(VAR)) {
    const qualifiers = (m[2] ?? "").split(",").map((s) => s.trim());
    const space = qualifiers[0] === "uniform" ? "uniform" : "storage";
    const access = space === "storage" && qualifiers[1] === "read_write" ? "read_write" : "read";
    bindings.set(m[3], { binding: Number(m[1]), space, access, type: m[4].trim() });
  }
  const structs = new Map<string, { fields: WgslField[]; size: number }>();
  for (const m of text.matchAll(STRUCT)) {
    const l = layout(m[2]);
    if (l) structs.set(m[1], l);
  }
  const overrides = new Set([...text.matchAll(OVERRIDE)].map((m) => m[1]));
  const entryPoints = new Set([...text.matchAll(ENTRY)].map((m) => m[1]));
  const fns = functions(text);
  const usedBy = (fn: string): Set<string> => {
    const used = new Set<string>();
    const seen = new Set<string>();
    const stack = [fn];
    while (stack.length) {
      const f = fns.get(stack.pop()!);
      if (!f) continue;
      for (const [id] of f.body.matchAll(IDENT)) {
        if (f.locals.has(id)) continue;
        if (fns.has(id) && !seen.has(id)) {
          seen.add(id);
          stack.push(id);
        } else used.add(id);
      }
    }
    return used;
  };
  return { bindings, structs, overrides, entryPoints, usedBy };
}
