/**
 * The kernel layer: the one way GPU work is declared and launched.
 *
 * A kernel is declared once with {@linkcode defineKernel}: its WGSL source (preludes already
 * concatenated), entry point, the storage variables it binds, the uniform-struct fields it reads
 * and the `override` constants it takes, all by their WGSL names. The declaration is checked
 * against the WGSL when it is made (a name the WGSL does not declare is an Error naming the kernel
 * and what it does declare), so the TypeScript ↔ WGSL contract is by name, never by position.
 * {@linkcode Kernel.launch} then binds buffers by name, packs uniforms by each field's declared
 * WGSL type and offset, and queues the dispatch on the device's batched encoder.
 *
 * @example
 * ```ts ignore
 * const scale = defineKernel({
 *   name: "scale.wgsl", code: GRID_WGSL + src, entryPoint: "main",
 *   bindings: ["x", "out"], uniforms: ["n", "alpha"], constants: ["WG"],
 * });
 * scale.launch(device, {
 *   bindings: { x, out }, uniforms: { n, alpha: 2 }, constants: { WG: 256 }, workgroups: grid1d(n),
 * });
 * ```
 * @module
 */
import type { Device } from "./device.ts";
import { parseWgsl, type WgslField } from "./wgsl_contract.ts";
import grid from "../../kernels/grid.wgsl" with { type: "text" };

/**
 * The grid-indexing prelude (`kernels/grid.wgsl`: `workgroup_index`, `grid_index`), concatenated
 * in front of every kernel launched over {@linkcode grid1d}'s 2-D grid of 1-D workgroups.
 */
export const GRID_WGSL: string = grid;

/** Anything that owns a GPU buffer (a `Tensor`, a `Storage`) or a buffer itself. */
export type Bindable = GPUBuffer | { readonly buffer: GPUBuffer };

/** A uniform field's value: a number for a scalar, an array for a `vecN`. */
export type UniformValue = number | readonly number[];

/** The declaration of a kernel; see {@linkcode defineKernel}. */
export interface KernelSpec<
  B extends string,
  U extends string,
  C extends string,
  P extends string = never,
> {
  /** Name for labels and errors, usually the WGSL file name, e.g. "elementwise.wgsl". */
  name: string;
  /** The complete WGSL source (preludes concatenated). */
  code: string;
  /** The `@compute` entry point; default "main". */
  entryPoint?: string;
  /**
   * The storage variables the entry point uses, by WGSL variable name. Pipelines use layout
   * "auto", so these must be exactly the ones the entry point statically uses.
   */
  bindings: readonly B[];
  /**
   * The fields of the uniform struct the entry point reads, by WGSL field name; fields not listed
   * are 0. Omit (or leave empty) when the entry point reads no uniform: it is then not bound.
   */
  uniforms?: readonly U[];
  /** The WGSL `override` constants set at launch (each value set is one cached pipeline). */
  constants?: readonly C[];
  /**
   * Per-launch u32 values: ones that change on every call (a dropout seed), which as uniforms
   * would make a new cached buffer per value. The WGSL reads them as `launch_words[i]` (i = the
   * index in this list) from a storage variable `launch_words: array<u32>`, bound by `launch`.
   */
  perLaunch?: readonly P[];
}

/** Grid size in workgroups `[x, y, z]`; each at most 65535, a 0 skips the launch. */
export type Workgroups = readonly [number, number?, number?];

/** The arguments of {@linkcode Kernel.launch}: every declared name must be given. */
export type LaunchArgs<
  B extends string,
  U extends string,
  C extends string,
  P extends string = never,
> =
  & {
    /** Buffers by binding name; null binds a small dummy (for inputs a variant does not read). */
    bindings: Record<B, Bindable | null>;
    /** Workgroup counts. */
    workgroups: Workgroups;
  }
  & ([U] extends [never] ? { uniforms?: undefined } : { uniforms: Record<U, UniformValue> })
  & ([C] extends [never] ? { constants?: undefined }
    : { constants: Record<C, number | boolean> })
  & ([P] extends [never] ? { perLaunch?: undefined } : { perLaunch: Record<P, number> });

interface UniformLayout {
  binding: number;
  size: number;
  fields: { name: string; field: WgslField }[];
}

const MAX_GROUPS = 65535;

/** A declared kernel, launched with {@linkcode Kernel.launch}. Create with {@linkcode defineKernel}. */
export class Kernel<
  B extends string,
  U extends string = never,
  C extends string = never,
  P extends string = never,
> {
  /** Name for labels and errors. */
  readonly name: string;
  /** The WGSL source. */
  readonly code: string;
  /** The entry point. */
  readonly entryPoint: string;
  readonly #bindings: { name: B; binding: number }[];
  readonly #uniform: UniformLayout | null;
  readonly #constants: readonly C[];
  readonly #perLaunch: { names: readonly P[]; binding: number } | null;

  /** @internal Use {@linkcode defineKernel}. */
  constructor(spec: KernelSpec<B, U, C, P>) {
    this.name = spec.name;
    this.code = spec.code;
    this.entryPoint = spec.entryPoint ?? "main";
    const where = `kernel ${spec.name} (entry point ${this.entryPoint})`;
    const wgsl = parseWgsl(spec.code);
    if (!wgsl.entryPoints.has(this.entryPoint)) {
      throw new Error(
        `${where}: the WGSL has no @compute entry point "${this.entryPoint}" ` +
          `(it declares: ${[...wgsl.entryPoints].join(", ") || "none"})`,
      );
    }
    const storage = [...wgsl.bindings].filter(([, b]) => b.space === "storage");
    const used = new Map<number, string>();
    this.#bindings = spec.bindings.map((name) => {
      const b = wgsl.bindings.get(name);
      if (!b || b.space !== "storage") {
        throw new Error(
          `${where}: binding "${name}" is not a storage variable of the WGSL ` +
            `(it declares: ${storage.map(([n, s]) => `${n}@${s.binding}`).join(", ") || "none"})`,
        );
      }
      const other = used.get(b.binding);
      if (other) {
        throw new Error(`${where}: bindings "${other}" and "${name}" share @binding(${b.binding})`);
      }
      used.set(b.binding, name);
      return { name, binding: b.binding };
    });
    const perLaunch = spec.perLaunch ?? [];
    const fields = spec.uniforms ?? [];
    this.#uniform = null;
    if (fields.length) {
      const uniforms = [...wgsl.bindings].filter(([, b]) => b.space === "uniform");
      if (uniforms.length !== 1) {
        throw new Error(
          `${where}: uniforms ${fields.join(", ")} need exactly one var<uniform> in the WGSL, ` +
            `found ${uniforms.length}`,
        );
      }
      const [[varName, u]] = uniforms;
      const struct = wgsl.structs.get(u.type);
      if (!struct) {
        throw new Error(
          `${where}: the uniform ${varName}: ${u.type} is not a struct of 32-bit scalars/vectors`,
        );
      }
      if (used.has(u.binding)) {
        throw new Error(`${where}: the uniform and "${used.get(u.binding)}" share a binding`);
      }
      this.#uniform = {
        binding: u.binding,
        size: struct.size,
        fields: fields.map((name) => {
          const field = struct.fields.find((f) => f.name === name);
          if (!field) {
            throw new Error(
              `${where}: uniform field "${name}" is not in struct ${u.type} ` +
                `(fields: ${struct.fields.map((f) => f.name).join(", ")})`,
            );
          }
          return { name, field };
        }),
      };
    }
    this.#perLaunch = null;
    if (perLaunch.length) {
      const words = wgsl.bindings.get("launch_words");
      if (!words || words.space !== "storage") {
        throw new Error(
          `${where}: perLaunch values need a storage variable "launch_words: array<u32>"`,
        );
      }
      if (used.has(words.binding) || words.binding === this.#uniform?.binding) {
        throw new Error(`${where}: launch_words shares @binding(${words.binding})`);
      }
      this.#perLaunch = { names: perLaunch, binding: words.binding };
    }
    // Layout "auto" binds exactly what the entry point statically uses: declare exactly that.
    const reads = wgsl.usedBy(this.entryPoint);
    const expected = [...spec.bindings, ...(perLaunch.length ? ["launch_words"] : [])];
    const missing = storage.map(([n]) => n).filter((n) => reads.has(n) && !expected.includes(n));
    const unused = expected.filter((n) => !reads.has(n));
    if (missing.length || unused.length) {
      throw new Error(
        `${where}: the entry point uses storage ${
          [...reads].filter((n) => wgsl.bindings.get(n)?.space === "storage").join(", ") || "none"
        }; declared but unused: ${unused.join(", ") || "none"}; used but not declared: ${
          missing.join(", ") || "none"
        }`,
      );
    }
    const uniformVar = [...wgsl.bindings].find(([, b]) => b.space === "uniform")?.[0];
    if (uniformVar && reads.has(uniformVar) !== (this.#uniform !== null)) {
      throw new Error(
        this.#uniform
          ? `${where}: declares uniforms but the entry point never reads ${uniformVar}`
          : `${where}: the entry point reads the uniform ${uniformVar}: declare the fields it uses`,
      );
    }
    this.#constants = spec.constants ?? [];
    for (const c of this.#constants) {
      if (!wgsl.overrides.has(c)) {
        throw new Error(
          `${where}: constant "${c}" is not a WGSL override ` +
            `(it declares: ${[...wgsl.overrides].join(", ") || "none"})`,
        );
      }
    }
  }

  /**
   * Queues one dispatch of this kernel on `device` (nothing runs until the device flushes: a
   * readback, `sync()` or a full batch). Never waits on the GPU.
   * @throws {Error} naming the kernel for a missing binding, a uniform value its WGSL type cannot
   * hold (a negative or fractional u32, a wrong vector length) or a grid above 65535.
   */
  launch(device: Device, args: LaunchArgs<B, U, C, P>): void {
    const [x, y = 1, z = 1] = args.workgroups;
    if (x > MAX_GROUPS || y > MAX_GROUPS || z > MAX_GROUPS) {
      throw new Error(`kernel ${this.name}: workgroups [${x}, ${y}, ${z}] exceed ${MAX_GROUPS}`);
    }
    const pipeline = this.#pipeline(device, args.constants as Record<C, number | boolean>);
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    if (this.#uniform) {
      const data = this.#pack(args.uniforms as Record<U, UniformValue>);
      entries.push({ binding: this.#uniform.binding, resource: { buffer: device.uniform(data) } });
    }
    if (this.#perLaunch) {
      const { names, binding } = this.#perLaunch;
      const values = args.perLaunch as Record<string, number> | undefined;
      const words = names.map((n) => {
        const v = values?.[n];
        if (v === undefined || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
          throw new Error(`kernel ${this.name}: per-launch value "${n}" is u32, got ${v}`);
        }
        return v;
      });
      entries.push({ binding, resource: device.pushLaunchWords(words) });
    }
    const given = args.bindings as Record<string, Bindable | null | undefined>;
    for (const { name, binding } of this.#bindings) {
      const b = given[name];
      if (b === undefined) throw new Error(`kernel ${this.name}: binding "${name}" not given`);
      const buffer = b === null ? device.dummyBuffer : "buffer" in b ? b.buffer : b;
      entries.push({ binding, resource: { buffer } });
    }
    const pass = device.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      device.gpu.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }),
    );
    pass.dispatchWorkgroups(x, y, z);
    device.noteQueued();
  }

  #pipeline(
    device: Device,
    constants: Record<C, number | boolean> | undefined,
  ): GPUComputePipeline {
    const values = this.#constants.map((c) => {
      const v = constants?.[c];
      if (v === undefined) throw new Error(`kernel ${this.name}: constant "${c}" not given`);
      return Number(v);
    });
    // The cache lives in the device (kernels are immutable module-level declarations).
    return device.kernelPipeline(this, values.join(","), () => {
      const record: Record<string, number> = {};
      this.#constants.forEach((c, i) => record[c] = values[i]);
      return device.pipeline(this.name, this.code, record, this.entryPoint);
    });
  }

  #pack(values: Record<U, UniformValue> | undefined): ArrayBuffer {
    const { size, fields } = this.#uniform!;
    const data = new ArrayBuffer(size);
    const u32 = new Uint32Array(data);
    const i32 = new Int32Array(data);
    const f32 = new Float32Array(data);
    for (const { name, field } of fields) {
      const v = (values as Record<string, UniformValue> | undefined)?.[name];
      const list = typeof v === "number" ? [v] : v;
      if (!list || list.length !== field.components) {
        throw new Error(
          `kernel ${this.name}: uniform "${name}" needs ${field.components} value(s), got ${
            JSON.stringify(v)
          }`,
        );
      }
      list.forEach((x, i) => {
        const at = field.offset / 4 + i;
        if (field.scalar === "f32") f32[at] = x;
        else if (field.scalar === "u32") {
          if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) {
            throw new Error(`kernel ${this.name}: uniform "${name}" is u32, got ${x}`);
          }
          u32[at] = x;
        } else {
          if (!Number.isInteger(x) || x < -0x80000000 || x > 0x7fffffff) {
            throw new Error(`kernel ${this.name}: uniform "${name}" is i32, got ${x}`);
          }
          i32[at] = x;
        }
      });
    }
    return data;
  }
}

/**
 * Declares a kernel (see the module doc). Checks the declaration against the WGSL at once.
 * @throws {Error} naming the kernel when the entry point, a binding, a uniform field or a
 * constant is not declared in the WGSL, two bindings share a number, or the declared bindings
 * and uniform are not exactly what the entry point statically uses (layout "auto" binds those).
 */
export function defineKernel<
  const B extends string,
  const U extends string = never,
  const C extends string = never,
  const P extends string = never,
>(spec: KernelSpec<B, U, C, P>): Kernel<B, U, C, P> {
  return new Kernel(spec);
}

/** One entry point's part of a {@linkcode defineKernels} declaration. */
export interface EntrySpec {
  /** Storage variables the entry point uses (see {@linkcode KernelSpec.bindings}). */
  readonly bindings: readonly string[];
  /** Uniform fields it reads (see {@linkcode KernelSpec.uniforms}). */
  readonly uniforms?: readonly string[];
  /** Overrides set at launch (see {@linkcode KernelSpec.constants}). */
  readonly constants?: readonly string[];
  /** Per-launch u32 values (see {@linkcode KernelSpec.perLaunch}). */
  readonly perLaunch?: readonly string[];
}

type Names<T> = T extends readonly (infer N extends string)[] ? N : never;

/** The kernels of {@linkcode defineKernels}, one per entry point. */
export type KernelsOf<E extends Record<string, EntrySpec>> = {
  [K in keyof E]: Kernel<
    Names<E[K]["bindings"]>,
    Names<E[K]["uniforms"]>,
    Names<E[K]["constants"]>,
    Names<E[K]["perLaunch"]>
  >;
};

/**
 * Declares several entry points of one WGSL source at once, keyed by entry-point name:
 * `const K = defineKernels("softmax.wgsl", code, { forward: { bindings: [...], ... }, ... })`,
 * then `K.forward.launch(...)`. Each entry is checked as {@linkcode defineKernel} checks it.
 * @throws {Error} as {@linkcode defineKernel}.
 */
export function defineKernels<const E extends Record<string, EntrySpec>>(
  name: string,
  code: string,
  entries: E,
): KernelsOf<E> {
  const out: Record<string, unknown> = {};
  for (const [entryPoint, spec] of Object.entries(entries)) {
    out[entryPoint] = new Kernel({ name, code, entryPoint, ...spec });
  }
  return out as KernelsOf<E>;
}

/** Workgroup counts covering `n` invocations with 1-D workgroups of `wg`, as a 2-D grid. */
export function grid1d(n: number, wg = 256): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  const x = Math.min(groups, MAX_GROUPS);
  return [x, Math.ceil(groups / x)];
}
