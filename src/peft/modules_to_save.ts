import { Tensor } from "../tensor/tensor.ts";
import { clone } from "../ops/basic.ts";
import { isParameter, markParameter, Module } from "../nn/module.ts";
import { ModuleDict } from "../nn/module_dict.ts";
import { DEFAULT_ADAPTER } from "./lora_layer.ts";

/**
 * A trainable deep copy of `m`: same class, every parameter copied on the GPU (requiresGrad
 * true), child modules copied recursively, other fields shallow-copied. For plain layers and
 * heads (Linear, LayerNorm, Embedding, a classification head module). Classes that keep state
 * in private `#fields` cannot be copied this way (their copies lack those fields).
 */
export function cloneModule(m: Module): Module {
  const copy = Object.create(Object.getPrototypeOf(m)) as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    const v = (m as unknown as Record<string, unknown>)[key];
    copy[key] = Array.isArray(v) ? v.map(cloneValue) : cloneValue(v);
  }
  return copy as unknown as Module;
}

function cloneValue(v: unknown): unknown {
  if (v instanceof Module) return cloneModule(v);
  if (v instanceof Tensor && isParameter(v)) {
    const t = markParameter(clone(v, "parameter"));
    t.requiresGrad = true;
    return t;
  }
  return v;
}

/**
 * PEFT `ModulesToSaveWrapper`: keeps the frozen `original_module` and trains a copy per adapter
 * (`modules_to_save.default`), which the forward uses. Runtime names as PEFT:
 * `classifier.original_module.weight`, `classifier.modules_to_save.default.weight`.
 */
export class ModulesToSaveWrapper extends Module {
  /** The frozen original. */
  original_module: Module;
  /** The trained copies by adapter. */
  modules_to_save: ModuleDict;
  /** The adapter whose copy the forward uses. */
  active_adapter: string = DEFAULT_ADAPTER;

  /** Wraps `module`, copying it for `adapter`. */
  constructor(module: Module, adapter = DEFAULT_ADAPTER) {
    super();
    this.original_module = module;
    module.requires_grad_(false);
    this.modules_to_save = new ModuleDict({ [adapter]: cloneModule(module) });
    this.active_adapter = adapter;
    this.training = module.training;
  }

  /** The active copy's forward. */
  forward(...args: unknown[]): unknown {
    const m = this.modules_to_save.get(this.active_adapter) as unknown as {
      forward(...a: unknown[]): unknown;
    };
    return m.forward(...args);
  }
}
