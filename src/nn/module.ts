/**
 * `Module` and `ModuleList` with PyTorch semantics: recursive `train()`/`eval()`, dotted
 * parameter names (`encoder.layer.0.attention.self.query.weight`), `state_dict()` and
 * `load_state_dict()`.
 *
 * Children and parameters are found by walking a module's own enumerable properties in their
 * definition order (class fields in declaration order, then later assignments): a property holding
 * a `Module` is a child, a property holding a parameter tensor is a parameter, and an array of
 * modules (or parameters) is named like a `ModuleList` (`layer.0`, `layer.1`, ...). A tensor is a
 * parameter when it was created by {@linkcode parameter}, passed to
 * {@linkcode Module.registerParameter} / {@linkcode markParameter}, or when its storage is counted
 * under the "parameter" memory category. Anything else (a `Device`, a cached non-parameter tensor,
 * numbers) is ignored; a property that must not be walked (e.g. a back reference to a parent
 * module) can be made non-enumerable with `Object.defineProperty`.
 *
 * As in PyTorch, each module's own parameters come before its children's, `named_parameters()`
 * yields a shared parameter once (under its first name) while `state_dict()` lists every name.
 *
 * @module
 */

import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import { halfSaves } from "../autograd/half_saves.ts";
import { tidy } from "../tensor/scope.ts";

const PARAMETERS = new WeakSet<Tensor>();
const BUFFERS = new WeakMap<Tensor, { persistent: boolean }>();

/**
 * Marks `t` as a parameter: counts its storage under "parameter" memory and keeps it past the
 * enclosing `tidy` scope. Returns `t`.
 */
export function markParameter(t: Tensor): Tensor {
  if (t.storage.category !== "parameter") t.storage.setCategory("parameter");
  PARAMETERS.add(t);
  return t.keep();
}

/** Whether `v` is a parameter tensor (see the module docs for the rule). */
export function isParameter(v: unknown): v is Tensor {
  if (!(v instanceof Tensor)) return false;
  if (PARAMETERS.has(v)) return true;
  return !v.isDisposed && v.storage.category === "parameter" && !BUFFERS.has(v);
}

/** Options of {@linkcode parameter}. */
export interface ParameterOptions {
  /** Whether the parameter is trained (default true). */
  requiresGrad?: boolean;
  /** Debug label of the GPU buffer. */
  label?: string;
}

/**
 * A new parameter tensor holding `data` (row-major) with `shape`: category "parameter",
 * `requiresGrad` true by default, kept past `tidy` scopes (PyTorch `nn.Parameter`).
 */
export function parameter(
  device: Device,
  data: Float32Array,
  shape: readonly number[],
  options: ParameterOptions = {},
): Tensor {
  const t = Tensor.from(device, data, shape, {
    dtype: "f32",
    category: "parameter",
    requiresGrad: options.requiresGrad ?? true,
    label: options.label,
  });
  return markParameter(t);
}

/**
 * Whether a layer initialises its parameters when built. Models pass `{ init: false }` to their
 * layers and initialise once themselves (HF `_init_weights`), and `from_pretrained` builds with
 * every parameter uninitialised, then fills each from the file or, if missing, from the model's
 * initialiser (HF fast init), so no weight is drawn or uploaded twice.
 */
export interface InitOptions {
  /** false: parameters are allocated uninitialised (the caller writes every element). Default true. */
  init?: boolean;
}

/**
 * A new uninitialised parameter of `shape` (see {@linkcode InitOptions}): the caller must write
 * every element before use.
 */
export function emptyParameter(
  device: Device,
  shape: readonly number[],
  options: ParameterOptions = {},
): Tensor {
  const t = Tensor.empty(device, shape, {
    dtype: "f32",
    category: "parameter",
    requiresGrad: options.requiresGrad ?? true,
    label: options.label,
  });
  return markParameter(t);
}

/** A value {@linkcode Module.load_state_dict} accepts for one name. */
export type StateDictValue =
  | Tensor
  | Float32Array
  | Int32Array
  | { readonly shape: readonly number[]; readonly data: Float32Array | Int32Array };

/** Options of {@linkcode Module.load_state_dict}. */
export interface LoadStateDictOptions {
  /** Fail on missing or unexpected names (default true). Shape mismatches always fail. */
  strict?: boolean;
}

/**
 * One module's extra state ({@linkcode Module.get_extra_state}): named values, each a tensor
 * (saved as a tensor; given back to `set_extra_state` as a `Float32Array`/`Int32Array`) or a
 * JSON value.
 */
export type ExtraState = Record<string, ExtraStateValue>;

/** A value in an {@linkcode ExtraState}. */
export type ExtraStateValue =
  | Tensor
  | Float32Array
  | Int32Array
  | number
  | string
  | boolean
  | null
  | readonly ExtraStateValue[]
  | { readonly [key: string]: ExtraStateValue };

/** The suffix of extra-state keys, as PyTorch names them (`<module>._extra_state`). */
export const EXTRA_STATE_KEY = "_extra_state";

/** What {@linkcode Module.load_state_dict} returns (PyTorch's `_IncompatibleKeys`). */
export interface IncompatibleKeys {
  /** Names the module expects that the state dict lacks. */
  missing_keys: string[];
  /** Names in the state dict the module does not have. */
  unexpected_keys: string[];
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Base class of layers and models (PyTorch `nn.Module`). Subclasses assign children and
 * parameters as properties and define their own `forward`.
 */
export class Module {
  /** Training mode (dropout active, VeLoRA initialisation, ...). Set by `train()` / `eval()`. */
  training = true;

  /**
   * Keep the f16-tolerant tensors this module's forward saves for backward as packed f16 (see
   * `halfSaves`; set on a whole model with `enableHalfSavedActivations`). Default false.
   */
  saveHalfActivations = false;

  /**
   * Runs `this.forward(...args)` inside its own {@linkcode tidy} scope (PyTorch `module(x)`):
   * every tensor the forward creates and does not return is freed when it returns, so a forward
   * reads as the math and frees its intermediates as it goes, one module at a time. Tensors saved
   * for backward stay alive until backward. Models call their children through `call`.
   */
  call<M extends { forward(...args: never[]): unknown }>(
    this: M,
    ...args: Parameters<M["forward"]>
  ): ReturnType<M["forward"]> {
    const run = () => tidy(() => this.forward(...args)) as ReturnType<M["forward"]>;
    return (this as unknown as Module).saveHalfActivations ? halfSaves(run) : run();
  }

  /** Sets training mode on this module and, recursively, on every child. Returns `this`. */
  train(mode = true): this {
    this.training = mode;
    for (const [, child] of this.named_children()) child.train(mode);
    return this;
  }

  /** `train(false)`. Returns `this`. */
  eval(): this {
    return this.train(false);
  }

  /** Assigns child module `m` (or null) as property `name`. Returns `m`. */
  registerModule<M extends Module | null>(name: string, m: M): M {
    checkName(name, "module");
    (this as unknown as Record<string, unknown>)[name] = m;
    return m;
  }

  /** PyTorch `add_module`: {@linkcode Module.registerModule}. */
  add_module<M extends Module | null>(name: string, m: M): M {
    return this.registerModule(name, m);
  }

  /** PyTorch `register_module`: {@linkcode Module.registerModule}. */
  register_module<M extends Module | null>(name: string, m: M): M {
    return this.registerModule(name, m);
  }

  /**
   * Assigns parameter `t` (or null, e.g. an absent bias) as property `name`, marking it as a
   * parameter (see {@linkcode markParameter}). Returns `t`.
   */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    checkName(name, "parameter");
    if (t) markParameter(t);
    (this as unknown as Record<string, unknown>)[name] = t;
    return t;
  }

  /** PyTorch `register_parameter`: {@linkcode Module.registerParameter}. */
  register_parameter<T extends Tensor | null>(name: string, t: T): T {
    return this.registerParameter(name, t);
  }

  /**
   * Assigns a non-parameter tensor `t` as property `name` (PyTorch `register_buffer`): it is kept
   * past `tidy` scopes, freed by `dispose()`, and, when `persistent` (default), part of
   * `state_dict()` after the module's own parameters.
   */
  registerBuffer<T extends Tensor | null>(
    name: string,
    t: T,
    { persistent = true }: { persistent?: boolean } = {},
  ): T {
    checkName(name, "buffer");
    if (t) {
      BUFFERS.set(t, { persistent });
      t.keep();
    }
    (this as unknown as Record<string, unknown>)[name] = t;
    return t;
  }

  /** PyTorch `register_buffer`: {@linkcode Module.registerBuffer}. */
  register_buffer<T extends Tensor | null>(name: string, t: T, persistent = true): T {
    return this.registerBuffer(name, t, { persistent });
  }

  /**
   * Direct children, own parameters and own buffers (with their `persistent` flag), in property
   * order. Override to expose members that are not enumerable properties.
   */
  protected members(): {
    children: [string, Module][];
    params: [string, Tensor][];
    buffers: [string, Tensor, boolean][];
  } {
    const children: [string, Module][] = [];
    const params: [string, Tensor][] = [];
    const buffers: [string, Tensor, boolean][] = [];
    const visit = (name: string, v: unknown) => {
      if (v instanceof Module) {
        if (v !== this) children.push([name, v]);
      } else if (v instanceof Tensor) {
        const b = BUFFERS.get(v);
        if (b) buffers.push([name, v, b.persistent]);
        else if (isParameter(v)) params.push([name, v]);
      }
    };
    for (const key of Object.keys(this)) {
      const v = (this as unknown as Record<string, unknown>)[key];
      if (Array.isArray(v)) v.forEach((item, i) => visit(`${key}.${i}`, item));
      else visit(key, v);
    }
    return { children, params, buffers };
  }

  /** Direct children `[name, module]` (PyTorch `named_children`), each module once. */
  *named_children(): IterableIterator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [name, m] of this.members().children) {
      if (seen.has(m)) continue;
      seen.add(m);
      yield [name, m];
    }
  }

  /** Direct children (PyTorch `children`). */
  *children(): IterableIterator<Module> {
    for (const [, m] of this.named_children()) yield m;
  }

  /**
   * Every module of the tree, pre-order, `["", this]` first, with dotted names (PyTorch
   * `named_modules`). A module reachable under two names is yielded once, under the first.
   */
  *named_modules(prefix = ""): IterableIterator<[string, Module]> {
    yield* walkModules(this, prefix, new Set(), new Set());
  }

  /** Every module of the tree (PyTorch `modules`). */
  *modules(): IterableIterator<Module> {
    for (const [, m] of this.named_modules()) yield m;
  }

  /**
   * Every parameter with its dotted name, each tensor once (PyTorch `named_parameters`): for each
   * module in `named_modules()` order, its own parameters in property order.
   */
  *named_parameters(prefix = "", recurse = true): IterableIterator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods: Iterable<[string, Module]> = recurse
      ? this.named_modules(prefix)
      : [[prefix, this]];
    for (const [mname, m] of mods) {
      for (const [pname, p] of m.members().params) {
        if (seen.has(p)) continue;
        seen.add(p);
        yield [join(mname, pname), p];
      }
    }
  }

  /** Every parameter, each once (PyTorch `parameters`). */
  *parameters(recurse = true): IterableIterator<Tensor> {
    for (const [, p] of this.named_parameters("", recurse)) yield p;
  }

  /** Every buffer with its dotted name, each tensor once (PyTorch `named_buffers`). */
  *named_buffers(prefix = ""): IterableIterator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [mname, m] of this.named_modules(prefix)) {
      for (const [bname, b] of m.members().buffers) {
        if (seen.has(b)) continue;
        seen.add(b);
        yield [join(mname, bname), b];
      }
    }
  }

  /**
   * Name → tensor for every parameter and persistent buffer, PyTorch order and names (a shared
   * tensor appears under each of its names). The values are the live tensors, not copies: do not
   * dispose them; read them with `toArray()`.
   */
  state_dict(prefix = ""): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    collectState(this, prefix, out, new Set());
    return out;
  }

  /**
   * Copies values into the existing parameter (and buffer) tensors by name. `sd` values may be
   * tensors (copied on the GPU), typed arrays (length must equal the element count) or
   * `{shape, data}` records such as `loadSafetensors` returns.
   *
   * All names are checked before anything is copied. With `strict` (default) missing, unexpected
   * and shape-mismatched names are all listed in one Error; otherwise only shape mismatches throw
   * and the missing and unexpected names are returned.
   * @throws {Error} "Error(s) in loading state_dict for <Class>: ..." as PyTorch words it.
   */
  load_state_dict(
    sd: Map<string, StateDictValue> | Record<string, StateDictValue>,
    { strict = true }: LoadStateDictOptions = {},
  ): IncompatibleKeys {
    const given = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.state_dict();
    const { missing, unexpected } = keyDiff(own, given);
    const errors = strict ? keyErrors(missing, unexpected, " in state_dict") : [];
    for (const [name, target] of own) {
      const value = given.get(name);
      if (value === undefined) continue;
      const why = mismatch(value, target);
      if (why) errors.push(`size mismatch for ${name}: ${why}`);
    }
    throwLoadErrors(errors, "state_dict", this.constructor.name);
    for (const [name, target] of own) {
      const value = given.get(name);
      if (value !== undefined) copyInto(target, value);
    }
    return { missing_keys: missing, unexpected_keys: unexpected };
  }

  /**
   * State of this module that is neither a parameter nor a buffer (PyTorch `get_extra_state`),
   * e.g. a plugin's fixed vectors; `undefined` (the default) when there is none. Kept out of
   * `state_dict()` (whose keys stay the HF checkpoint's) and collected by
   * {@linkcode Module.extra_state_dict}, so checkpointing code saves plugin state without
   * knowing the plugin.
   */
  get_extra_state(): ExtraState | undefined {
    return undefined;
  }

  /**
   * Restores what {@linkcode Module.get_extra_state} returned, tensors given back as typed
   * arrays (PyTorch `set_extra_state`). The default refuses: a module without extra state
   * cannot take any.
   * @throws {Error} naming the module class.
   */
  set_extra_state(_state: ExtraState): void {
    throw new Error(
      `${this.constructor.name} has no extra state (set_extra_state is not implemented)`,
    );
  }

  /**
   * `<module>._extra_state` → {@linkcode ExtraState} for every module of the tree whose
   * `get_extra_state()` returns a value, in `named_modules()` order (PyTorch puts these keys in
   * `state_dict`; here they are separate so `state_dict` stays a plain weight map).
   */
  extra_state_dict(prefix = ""): Map<string, ExtraState> {
    const out = new Map<string, ExtraState>();
    for (const [name, m] of this.named_modules(prefix)) {
      const state = m.get_extra_state();
      if (state !== undefined) out.set(join(name, EXTRA_STATE_KEY), state);
    }
    return out;
  }

  /**
   * Hands each `<module>._extra_state` entry to that module's `set_extra_state`. With `strict`
   * (default), modules that have extra state but no entry, and entries naming no such module,
   * are listed in one Error before anything is set.
   * @throws {Error} "Error(s) in loading extra state for <Class>: ...".
   */
  load_extra_state_dict(
    states: Map<string, ExtraState> | Record<string, ExtraState>,
    { strict = true }: LoadStateDictOptions = {},
  ): IncompatibleKeys {
    const given = states instanceof Map ? states : new Map(Object.entries(states));
    const own = new Map<string, Module>();
    for (const [name, m] of this.named_modules()) {
      if (m.get_extra_state() !== undefined) own.set(join(name, EXTRA_STATE_KEY), m);
    }
    const { missing, unexpected } = keyDiff(own, given);
    if (strict) {
      throwLoadErrors(keyErrors(missing, unexpected, ""), "extra state", this.constructor.name);
    }
    for (const [key, m] of own) {
      const state = given.get(key);
      if (state === undefined) continue;
      try {
        m.set_extra_state(state);
      } catch (e) {
        throw new Error(`loading extra state "${key}": ${(e as Error).message}`);
      }
    }
    return { missing_keys: missing, unexpected_keys: unexpected };
  }

  /** Frees every parameter's `.grad` and sets it to null (PyTorch `zero_grad(set_to_none=True)`). */
  zero_grad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Sets `requiresGrad` on every parameter (PyTorch `requires_grad_`). Returns `this`. */
  requires_grad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /** Calls `fn` on every module of the tree, children first, then this (PyTorch `apply`). */
  apply(fn: (m: Module) => void): this {
    for (const [, child] of this.named_children()) child.apply(fn);
    fn(this);
    return this;
  }

  /**
   * The module at dotted path `target` ("" = this), PyTorch `get_submodule`; list children are
   * reached by index (`encoder.layer.0`). @throws {Error} naming the first missing part.
   */
  get_submodule(target: string): Module {
    if (target === "") return this;
    const all = new Map(this.named_modules());
    const found = all.get(target);
    if (found) return found;
    const parts = target.split(".");
    let at = 0;
    while (at < parts.length && all.has(parts.slice(0, at + 1).join("."))) at++;
    const parent = at ? all.get(parts.slice(0, at).join("."))! : this;
    throw new Error(`${parent.constructor.name} has no submodule "${parts[at]}" (in "${target}")`);
  }

  /** The parameter at dotted path `target`, PyTorch `get_parameter`. @throws {Error} */
  get_parameter(target: string): Tensor {
    const i = target.lastIndexOf(".");
    const m = this.get_submodule(i < 0 ? "" : target.slice(0, i));
    const name = target.slice(i + 1);
    const p = new Map(m.members().params).get(name);
    if (!p) throw new Error(`${m.constructor.name} has no parameter "${name}" (in "${target}")`);
    return p;
  }

  /** Number of parameter elements (HF `num_parameters`), optionally only trainable ones. */
  num_parameters({ only_trainable = false }: { only_trainable?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!only_trainable || p.requiresGrad) n += p.numel;
    return n;
  }

  /**
   * Frees every parameter, its `.grad` and every buffer of this module and, recursively, of its
   * children (calling each child's `dispose()`, so subclasses can free more). Idempotent.
   */
  dispose(): void {
    if (DISPOSING.has(this)) return;
    DISPOSING.add(this);
    try {
      const { children, params, buffers } = this.members();
      for (const [, p] of params) {
        p.grad?.dispose();
        p.grad = null;
        p.dispose();
      }
      for (const [, b] of buffers) b.dispose();
      for (const [, c] of children) c.dispose();
    } finally {
      DISPOSING.delete(this);
    }
  }
}

const DISPOSING = new WeakSet<Module>();

function checkName(name: string, what: string): void {
  if (!name || name.includes(".")) {
    throw new Error(`${what} name "${name}" must be non-empty and contain no "."`);
  }
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

function* walkModules(
  m: Module,
  prefix: string,
  seen: Set<Module>,
  path: Set<Module>,
): IterableIterator<[string, Module]> {
  if (seen.has(m)) return;
  seen.add(m);
  yield [prefix, m];
  path.add(m);
  for (const [name, child] of m.named_children()) {
    if (path.has(child)) continue;
    yield* walkModules(child, join(prefix, name), seen, path);
  }
  path.delete(m);
}

type Members = {
  params: [string, Tensor][];
  buffers: [string, Tensor, boolean][];
  children: [string, Module][];
};

function collectState(m: Module, prefix: string, out: Map<string, Tensor>, path: Set<Module>) {
  // `members` is protected; state collection is part of the same class family.
  const { params, buffers, children } = (m as unknown as { members(): Members }).members();
  for (const [name, p] of params) out.set(join(prefix, name), p);
  for (const [name, b, persistent] of buffers) if (persistent) out.set(join(prefix, name), b);
  path.add(m);
  for (const [name, child] of children) {
    if (!path.has(child)) collectState(child, join(prefix, name), out, path);
  }
  path.delete(m);
}

function valueShape(v: StateDictValue): readonly number[] | null {
  if (v instanceof Tensor) return v.shape;
  if (ArrayBuffer.isView(v)) return null;
  return v.shape;
}

function valueData(v: StateDictValue): Float32Array | Int32Array | null {
  if (v instanceof Tensor) return null;
  if (ArrayBuffer.isView(v)) return v;
  return v.data;
}

/** The names `own` has and `given` lacks (missing), and those only `given` has (unexpected). */
function keyDiff(
  own: Map<string, unknown>,
  given: Map<string, unknown>,
): { missing: string[]; unexpected: string[] } {
  return {
    missing: [...own.keys()].filter((k) => !given.has(k)),
    unexpected: [...given.keys()].filter((k) => !own.has(k)),
  };
}

/** PyTorch's lines for missing and unexpected keys, e.g. `Missing key(s) in state_dict: "a".`. */
function keyErrors(missing: string[], unexpected: string[], where: string): string[] {
  const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");
  const out: string[] = [];
  if (missing.length) out.push(`Missing key(s)${where}: ${quoted(missing)}.`);
  if (unexpected.length) out.push(`Unexpected key(s)${where}: ${quoted(unexpected)}.`);
  return out;
}

/** Throws `Error(s) in loading <what> for <owner>:` with one tab-indented line per error, if any. */
function throwLoadErrors(errors: string[], what: string, owner: string): void {
  if (errors.length === 0) return;
  throw new Error(`Error(s) in loading ${what} for ${owner}:\n\t${errors.join("\n\t")}`);
}

/** Why `value` cannot be copied into `target` (PyTorch wording), or null. */
function mismatch(value: StateDictValue, target: Tensor): string | null {
  const shape = valueShape(value);
  const here = `the shape in current model is ${shapeText(target.shape)}`;
  if (shape) {
    if (shape.join() !== target.shape.join()) {
      return `copying a param with shape ${shapeText(shape)} from checkpoint, ${here}.`;
    }
  }
  const data = valueData(value);
  if (data) {
    if (data.length !== target.numel) {
      return `copying a param with ${data.length} elements from checkpoint, ${here}.`;
    }
    const kind = data instanceof Int32Array ? "i32" : data instanceof Float32Array ? "f32" : null;
    if (kind !== target.dtype) {
      return `copying ${
        kind ?? data.constructor.name
      } data from checkpoint into a ${target.dtype} tensor ${shapeText(target.shape)}.`;
    }
  } else if (value instanceof Tensor && value.dtype !== target.dtype) {
    return `copying a ${value.dtype} tensor from checkpoint into a ${target.dtype} tensor.`;
  }
  return null;
}

function copyInto(target: Tensor, value: StateDictValue): void {
  if (target.numel === 0 || value === target) return;
  const device = target.device;
  if (value instanceof Tensor) {
    if (value.buffer === target.buffer) return;
    device.copy(value, target, target.numel * 4);
  } else {
    device.write(target.buffer, valueData(value)!);
  }
}

/**
 * Holds child modules in a list, named `0`, `1`, ... (PyTorch `nn.ModuleList`): `layer.0.weight`.
 * Index with `list[i]` or `list.at(i)`; iterate with `for (const m of list)`.
 */
export class ModuleList<T extends Module = Module> extends Module implements Iterable<T> {
  /** The module at an index. */
  [index: number]: T;
  #length = 0;

  /** A list holding `modules` in order. */
  constructor(modules: Iterable<T> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Number of modules. */
  get length(): number {
    return this.#length;
  }

  /** Adds `m` at the end. Returns `this`. */
  append(m: T): this {
    if (!(m instanceof Module)) throw new Error("ModuleList.append: expected a Module");
    this[this.#length++] = m;
    return this;
  }

  /** Adds every module of `modules` at the end. Returns `this`. */
  extend(modules: Iterable<T>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** The module at `i` (negative counts from the end). @throws {RangeError} out of range. */
  at(i: number): T {
    const j = i < 0 ? this.#length + i : i;
    if (!Number.isInteger(j) || j < 0 || j >= this.#length) {
      throw new RangeError(`ModuleList index ${i} out of range (length ${this.#length})`);
    }
    return this[j];
  }

  /** The modules in order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this[i];
  }
}
