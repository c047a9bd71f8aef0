import type { Tensor } from "../tensor/tensor.ts";
import { reshape } from "../ops/basic.ts";
import { Module } from "./module.ts";

/**
 * Holds child modules by name (PyTorch `nn.ModuleDict`): `lora_A.default.weight`. Keys must be
 * valid property names without "."; read with `dict.get(key)` or `dict[key]`.
 */
export class ModuleDict<T extends Module = Module> extends Module {
  /** The module under a key. */
  [key: string]: unknown;

  /** A dict holding `entries` in insertion order. */
  constructor(entries: Record<string, T> = {}) {
    super();
    for (const [k, m] of Object.entries(entries)) this.set(k, m);
  }

  /** Sets `key` to `m`. Returns `this`. @throws {Error} for a key with "." or a non-Module. */
  set(key: string, m: T): this {
    if (!(m instanceof Module)) throw new Error(`ModuleDict.set("${key}"): expected a Module`);
    this.registerModule(key, m);
    return this;
  }

  /** The module under `key`. @throws {Error} naming the key and the keys present. */
  get(key: string): T {
    const m = (this as Record<string, unknown>)[key];
    if (!(m instanceof Module)) {
      throw new Error(`ModuleDict has no key "${key}" (keys: ${this.keys().join(", ")})`);
    }
    return m as T;
  }

  /** Whether `key` holds a module. */
  has(key: string): boolean {
    return (this as Record<string, unknown>)[key] instanceof Module;
  }

  /** Keys in insertion order. */
  keys(): string[] {
    return Object.keys(this).filter((k) => (this as Record<string, unknown>)[k] instanceof Module);
  }
}

/** PyTorch `nn.Identity`: returns its input (a new handle on the same storage, in autograd). */
export class Identity extends Module {
  /** x → x. */
  forward(x: Tensor): Tensor {
    return reshape(x, x.shape);
  }
}
