import type { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { subTokenShape, type VeLoRALayerOptions, VeLoRALinear } from "./velora_linear.ts";
import { VeLoRASharing } from "./sharing.ts";

/** `applyVeLoRA` configuration (PEFT-style names). */
export interface VeLoRAConfig extends VeLoRALayerOptions {
  /**
   * Which linear layers to patch, PEFT matching: a name matches a string target when it equals
   * it or ends with "." + target; a RegExp must match the whole name. A single string or RegExp
   * is accepted too. The paper's "vd": `["value", "output.dense"]` (for BERT, `output.dense`
   * also matches `attention.output.dense`; use a RegExp to be precise).
   */
  target_modules: string | RegExp | readonly (string | RegExp)[];
}

/** One patched layer in a {@linkcode VeLoRAReport}. */
export interface VeLoRALayerReport {
  /** Dotted module name, e.g. `bert.encoder.layer.0.attention.self.value`. */
  name: string;
  /** D. */
  in_features: number;
  /** Output features. */
  out_features: number;
  /** G. */
  num_groups: number;
  /** M = ⌈D / G⌉. */
  sub_token_size: number;
  /** Bytes saved for backward per token without VeLoRA (f32 input: 4·D). */
  saved_bytes_per_token_before: number;
  /** Bytes saved per token with VeLoRA (packed f16 z: 2·G). */
  saved_bytes_per_token_after: number;
}

/** What {@linkcode applyVeLoRA} did. */
export interface VeLoRAReport {
  /** Patched layers in module order. */
  layers: VeLoRALayerReport[];
  /**
   * After a training step: the patched layers whose input was still saved by another op when
   * their backward ran (so VeLoRA saved no memory for that input), e.g. `value` when
   * `query`/`key` are not patched. Null entries: no backward observed yet.
   */
  inputsHeldElsewhere(): { name: string; held: boolean | null; sharedZ: boolean }[];
  /**
   * What the layers patched by this call share: one v and one z for layers reading the same
   * input, and one readback of their fallback flags. Layers already patched keep theirs.
   */
  sharing: VeLoRASharing;
}

function matcher(targets: VeLoRAConfig["target_modules"]): (name: string) => boolean {
  const list = (Array.isArray(targets) ? targets : [targets]) as (string | RegExp)[];
  if (!list.length) throw new Error("applyVeLoRA: target_modules is empty");
  const tests = list.map((t) => {
    if (t instanceof RegExp) {
      const full = new RegExp(`^(?:${t.source})$`, t.flags.replace("g", ""));
      return (n: string) => full.test(n);
    }
    if (typeof t !== "string" || !t) throw new Error(`applyVeLoRA: bad target ${String(t)}`);
    return (n: string) => n === t || n.endsWith(`.${t}`);
  });
  return (n) => tests.some((f) => f(n));
}

function setByPath(root: Module, path: string, value: unknown): void {
  const parts = path.split(".");
  let obj = root as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) obj = obj[p] as Record<string, unknown>;
  obj[parts[parts.length - 1]] = value;
}

/**
 * Replaces every `nn.Linear` of `model` whose name matches `target_modules` by a
 * {@linkcode VeLoRALinear} in place. Parameter names and `state_dict()` keys do not change, so
 * `save_pretrained` still writes a plain HF checkpoint.
 * @throws {Error} listing the candidate linear layers when nothing matches or a match is not a
 * linear layer, and for invalid options (num_groups < 1, rank ≠ 1, bad init_type).
 */
export function applyVeLoRA(model: Module, config: VeLoRAConfig): VeLoRAReport {
  const match = matcher(config.target_modules);
  const modules = [...model.named_modules()].filter(([n]) => n !== "");
  const linears = modules.filter(([, m]) => m instanceof Linear || m instanceof VeLoRALinear)
    .map(([n]) => n);
  const hits = modules.filter(([n]) => match(n));
  const candidates = () =>
    `candidate linear layers: ${linears.slice(0, 12).join(", ")}${
      linears.length > 12 ? ", ..." : ""
    }`;
  if (!hits.length) {
    throw new Error(
      `applyVeLoRA: target_modules ${JSON.stringify(String(config.target_modules))} matched no ` +
        `module; ${candidates()}`,
    );
  }
  const bad = hits.filter(([, m]) => !(m instanceof Linear) && !(m instanceof VeLoRALinear));
  if (bad.length) {
    throw new Error(
      `applyVeLoRA: ${bad.map(([n, m]) => `"${n}" (${m.constructor.name})`).join(", ")} ` +
        `is not a linear layer; ${candidates()}`,
    );
  }
  // Validate every layer before changing any.
  for (const [n, m] of hits) subTokenShape((m as Linear).in_features, config, `applyVeLoRA "${n}"`);
  const patched: [string, VeLoRALinear][] = [];
  const sharing = new VeLoRASharing();
  for (const [name, m] of hits) {
    const layer = m instanceof VeLoRALinear
      ? m
      : new VeLoRALinear(m as Linear, config, { name, sharing });
    if (layer !== m) setByPath(model, name, layer);
    patched.push([name, layer]);
  }
  return {
    layers: patched.map(([name, l]) => ({
      name,
      in_features: l.in_features,
      out_features: l.out_features,
      num_groups: l.num_groups,
      sub_token_size: l.sub_token_size,
      saved_bytes_per_token_before: l.savedBytesPerToken().before,
      saved_bytes_per_token_after: l.savedBytesPerToken().after,
    })),
    sharing,
    inputsHeldElsewhere: () =>
      patched.map(([name, l]) => ({
        name,
        held: l.trace.inputHeldElsewhere,
        sharedZ: l.trace.sharedZ,
      })),
  };
}

/** The VeLoRA layers of `model` with their names. */
export function veloraLayers(model: Module): [string, VeLoRALinear][] {
  return [...model.named_modules()].filter((e): e is [string, VeLoRALinear] =>
    e[1] instanceof VeLoRALinear
  );
}

/** Restores plain `nn.Linear` layers (same parameters) and frees the v vectors. Returns the count. */
export function removeVeLoRA(model: Module): number {
  const layers = veloraLayers(model);
  for (const [name, l] of layers) {
    l.releaseV();
    setByPath(model, name, l.base_layer);
  }
  return layers.length;
}
