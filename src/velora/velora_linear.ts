import type { Device } from "../runtime/device.ts";
import { isGradEnabled } from "../autograd/grad_mode.ts";
import { linear } from "../ops/matmul.ts";
import { Module } from "../nn/module.ts";
import type { Linear } from "../nn/linear.ts";
import { mulberry32 } from "../util/rng.ts";
import { Tensor } from "../tensor/tensor.ts";
import { initV, type SubTokenShape } from "./projection.ts";
import { veloraLinear, type VeLoRATrace } from "./velora_linear_fn.ts";
import { VeLoRASharing } from "./sharing.ts";
import type { ExtraState } from "../nn/module.ts";

/** How v is chosen (official VeLoRA `init_type`). */
export type VeLoRAInitType = "batch_average_once" | "batch_average" | "random" | `ema_${number}`;

/** Options of {@linkcode VeLoRALinear} (official / PEFT names). */
export interface VeLoRALayerOptions {
  /** Sub-tokens per token G (default min(32, D) unless `sub_token_size` is given). */
  num_groups?: number;
  /** Sub-token size M; alternative to `num_groups` (G = ⌈D / M⌉). */
  sub_token_size?: number;
  /** Default "batch_average_once": v from the first training batch, then frozen. */
  init_type?: VeLoRAInitType;
  /** Multiplies the weight gradient (`velora_scale`). Default 1. */
  scale?: number;
  /** Must be 1: the official code silently collapses other ranks; we refuse them. */
  rank?: number;
  /**
   * Seed of the "random" init (each layer draws its own v from this seed and its name) and of
   * the fallback vector. Default 0.
   */
  seed?: number;
}

/** Resolves D, G and M: M = ⌈D / G⌉ and the input is zero-padded to G·M (as PEFT). */
export function subTokenShape(
  dim: number,
  options: VeLoRALayerOptions,
  where = "VeLoRA",
): SubTokenShape {
  const { num_groups, sub_token_size } = options;
  if (options.rank !== undefined && options.rank !== 1) {
    throw new Error(`${where}: rank ${options.rank} is not supported; VeLoRA is rank-1 (rank: 1)`);
  }
  if (num_groups !== undefined && sub_token_size !== undefined) {
    if (Math.ceil(dim / num_groups) !== sub_token_size) {
      throw new Error(
        `${where}: num_groups ${num_groups} and sub_token_size ${sub_token_size} disagree for ` +
          `in_features ${dim}; give one of them`,
      );
    }
  }
  if (sub_token_size !== undefined && num_groups === undefined) {
    if (!Number.isInteger(sub_token_size) || sub_token_size < 1 || sub_token_size > dim) {
      throw new Error(
        `${where}: sub_token_size must be an integer in [1, ${dim}], got ${sub_token_size}`,
      );
    }
    return { dim, sub: sub_token_size, groups: Math.ceil(dim / sub_token_size) };
  }
  const g = num_groups ?? Math.min(32, dim);
  if (!Number.isInteger(g) || g < 1 || g > dim) {
    throw new Error(
      `${where}: num_groups must be an integer in [1, ${dim}] (in_features), got ${g}`,
    );
  }
  const sub = Math.ceil(dim / g);
  // With padding, fewer groups may suffice; keep G as given so z has the documented shape.
  return { dim, groups: g, sub };
}

function parseInit(
  init: string,
  where: string,
): { kind: "once" | "every" | "ema" | "random"; decay: number } {
  if (init === "batch_average_once") return { kind: "once", decay: 0 };
  if (init === "batch_average") return { kind: "every", decay: 0 };
  if (init === "random") return { kind: "random", decay: 0 };
  const m = /^ema_(\d*\.?\d+(?:e-?\d+)?)$/.exec(init);
  if (m) {
    const decay = Number(m[1]);
    if (decay >= 0 && decay < 1) return { kind: "ema", decay };
  }
  throw new Error(
    `${where}: init_type "${init}" is not supported (use "batch_average_once", "batch_average", ` +
      `"ema_<decay>" with 0 ≤ decay < 1, or "random")`,
  );
}

/** FNV-1a hash of a layer name: random-init layers draw independent vectors. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Where a {@linkcode VeLoRALinear} sits: its dotted name and the sharing object of its group. */
export interface VeLoRALayerContext {
  /** Dotted module name (seeds the "random" init; default ""). */
  name?: string;
  /** Shared v/z/flag state of the layers patched together (default: a private one). */
  sharing?: VeLoRASharing;
}

/**
 * A drop-in replacement for `nn.Linear` whose backward keeps only the rank-1 sub-token projection
 * of its input (VeLoRA, Miles et al. 2024, §3). `weight` and `bias` are the original layer's
 * tensors, so parameter names and `state_dict()` keys do not change.
 *
 * Training forward (grad enabled): y = x·Wᵀ + b exactly; saves z = s·v (packed f16, 2·G bytes per
 * token instead of 4·D); backward dW = scale·(dYᵀZ) ⊗ v, db = Σ dY, dX = dY·W (exact).
 * Eval-mode forwards with grad enabled behave as the plain linear (official code and PEFT): they
 * save x and the weight gets the exact gradient; they neither initialise v nor compute z.
 * No-grad forwards store nothing. v and its init state are the layer's extra state
 * (`get_extra_state`/`set_extra_state`), so generic checkpoint code saves and restores them.
 */
export class VeLoRALinear extends Module {
  /** The original weight [out_features, in_features]. */
  weight: Tensor;
  /** The original bias [out_features] or null. */
  bias: Tensor | null;
  /** Input size D. */
  readonly in_features: number;
  /** Output size. */
  readonly out_features: number;
  /** Sub-tokens per token G. */
  readonly num_groups: number;
  /** Sub-token size M = ⌈D / G⌉. */
  readonly sub_token_size: number;
  /** How v is initialised. */
  readonly init_type: VeLoRAInitType;
  /** Weight-gradient multiplier. */
  readonly scale: number;
  /** What the last training forward/backward observed (shared z, input held elsewhere). */
  readonly trace: VeLoRATrace = { inputHeldElsewhere: null, sharedZ: false };
  #v: Tensor | null = null;
  #fallback: Tensor | null = null;
  #flag: Tensor | null = null;
  #initialized = false;
  #inits = 0;
  readonly #seed: number;
  readonly #name: string;
  readonly #sharing: VeLoRASharing;
  readonly #init: { kind: "once" | "every" | "ema" | "random"; decay: number };
  readonly #shape: SubTokenShape;
  readonly #base: Linear;

  /**
   * Wraps `linear` (sharing its parameters). `context` gives the layer's name (seeding the
   * "random" init) and the sharing object of the layers patched with it (`applyVeLoRA` passes
   * both). @throws {Error} for invalid options.
   */
  constructor(linear: Linear, options: VeLoRALayerOptions = {}, context: VeLoRALayerContext = {}) {
    super();
    // Non-enumerable: not a child module or parameter of this layer.
    this.#name = context.name ?? "";
    this.#sharing = context.sharing ?? new VeLoRASharing();
    this.#base = linear;
    this.weight = linear.weight;
    this.bias = linear.bias;
    this.in_features = linear.in_features;
    this.out_features = linear.out_features;
    this.#shape = subTokenShape(linear.in_features, options);
    this.num_groups = this.#shape.groups;
    this.sub_token_size = this.#shape.sub;
    this.init_type = options.init_type ?? "batch_average_once";
    this.#init = parseInit(this.init_type, "VeLoRA");
    this.scale = options.scale ?? 1;
    if (!Number.isFinite(this.scale)) {
      throw new Error(`VeLoRA: scale must be finite, got ${this.scale}`);
    }
    this.#seed = options.seed ?? 0;
    this.training = linear.training;
  }

  /** The fixed unit vector v [sub_token_size], or null before initialisation. */
  get v(): Tensor | null {
    return this.#v;
  }

  /** Whether v has been initialised. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /** The wrapped `nn.Linear` (same parameters), restored by `removeVeLoRA`. */
  get base_layer(): Linear {
    return this.#base;
  }

  get #device(): Device {
    return this.weight.device;
  }

  /** Sets v from saved values (resume), marking the layer initialised. @throws {Error} on size. */
  setV(values: Float32Array | Tensor): void {
    const m = this.sub_token_size;
    const n = values instanceof Tensor ? values.numel : values.length;
    if (n !== m) throw new Error(`VeLoRA: v has ${n} values, expected sub_token_size ${m}`);
    const next = values instanceof Tensor
      ? values.view([m]).keep()
      : this.#sharing.internV(this.#device, values);
    this.#v?.dispose();
    this.#v = next;
    this.#initialized = true;
  }

  /** The layer's name given at construction ("" when none). */
  get name(): string {
    return this.#name;
  }

  /** The sharing object of this layer's group. */
  get sharing(): VeLoRASharing {
    return this.#sharing;
  }

  /** A seeded unit vector; salt 1 = the "random" init (per layer name), 2 = the fallback. */
  #unitRandom(salt: number): Float32Array {
    const gen = mulberry32((Math.imul(this.#seed, 2654435761) ^ nameHash(this.#name)) + salt);
    const v = Float32Array.from({ length: this.sub_token_size }, () => gen());
    const norm = Math.hypot(...v);
    return v.map((a) => a / norm);
  }

  #ensureV(x: Tensor): void {
    const kind = this.#init.kind;
    if (kind === "random") {
      if (!this.#initialized) this.setV(this.#unitRandom(1));
      return;
    }
    if (kind === "once" && this.#initialized) return;
    const key = `${this.sub_token_size}:${this.init_type}`;
    const shared = this.#sharing.sharedV(x, key);
    if (shared) {
      if (this.#v?.storage !== shared.storage) this.setV(shared);
      this.#initialized = true;
      return;
    }
    const device = this.#device;
    const first = !this.#initialized;
    if (!this.#v) {
      this.#v = Tensor.empty(device, [this.sub_token_size], {
        category: "parameter",
        label: "velora.v",
      })
        .keep();
    }
    // Created once per layer: no upload (and no queue flush) on later initialisations.
    this.#fallback ??= Tensor.from(device, this.#unitRandom(2), [this.sub_token_size]).keep();
    this.#flag ??= Tensor.empty(device, [1], { dtype: "i32" }).keep();
    const x2 = x.view([x.numel / this.in_features, this.in_features]);
    initV(x2, this.#shape, this.#v, this.#fallback, this.#flag, {
      mode: kind === "ema" && !first ? "ema" : "set",
      decay: this.#init.decay,
      eps: 1e-12,
    });
    x2.dispose();
    // Check the fallback flag on the first and every 100th initialisation, without waiting; the
    // sharing object reads the flags of one forward back together.
    if (this.#inits++ % 100 === 0) this.#sharing.checkFallback(this.#flag);
    this.#initialized = true;
    this.#sharing.rememberV(x, key, this.#v);
  }

  /** x [..., in_features] → [..., out_features]. */
  forward(x: Tensor): Tensor {
    if (!isGradEnabled() || !this.weight.requiresGrad) return linear(x, this.weight, this.bias);
    // Eval with grad: the plain linear, exact weight gradient (official code and PEFT).
    if (!this.training) return linear(x, this.weight, this.bias);
    this.#ensureV(x);
    return veloraLinear(x, this.weight, this.bias, this.#v!, this.#shape, {
      scale: this.scale,
      snapshotV: this.#init.kind === "every" || this.#init.kind === "ema",
      trace: this.trace,
      sharing: this.#sharing,
    });
  }

  /**
   * The layer's options, init state and v (when initialised), for generic checkpointing
   * (PyTorch `get_extra_state`).
   */
  override get_extra_state(): ExtraState {
    const state: ExtraState = {
      num_groups: this.num_groups,
      sub_token_size: this.sub_token_size,
      init_type: this.init_type,
      scale: this.scale,
      initialized: this.#initialized && this.#v !== null,
    };
    if (this.#initialized && this.#v) state.v = this.#v;
    return state;
  }

  /**
   * Restores v and the init state saved by `get_extra_state`. Equal vectors of layers in one
   * sharing group become one tensor again (their z is then computed once).
   * @throws {Error} when the saved geometry or init type differs from this layer's, or v has the
   * wrong size.
   */
  override set_extra_state(state: ExtraState): void {
    for (const key of ["num_groups", "sub_token_size", "init_type"] as const) {
      if (state[key] !== undefined && state[key] !== this[key]) {
        throw new Error(
          `VeLoRA layer "${this.#name}": saved ${key} ${JSON.stringify(state[key])} differs ` +
            `from this layer's ${JSON.stringify(this[key])}`,
        );
      }
    }
    if (!state.initialized) {
      this.releaseV();
      return;
    }
    const v = state.v;
    if (!(v instanceof Float32Array) && !(v instanceof Tensor)) {
      throw new Error(`VeLoRA layer "${this.#name}": initialised state without a v vector`);
    }
    this.setV(v);
  }

  /** Bytes saved for backward per token: before (f32 input) and after (packed f16 z). */
  savedBytesPerToken(): { before: number; after: number } {
    return { before: 4 * this.in_features, after: 2 * this.num_groups };
  }

  /** As PEFT prints it. */
  extra_repr(): string {
    return `in_features=${this.in_features}, out_features=${this.out_features}, ` +
      `num_groups=${this.num_groups}, sub_token_size=${this.sub_token_size}, ` +
      `init_type=${this.init_type}, scale=${this.scale}`;
  }

  /** Frees v (and, like any Module, the parameters). */
  override dispose(): void {
    this.releaseV();
    super.dispose();
  }

  /** @internal Frees v only (the parameters go back to the base layer). */
  releaseV(): void {
    for (const t of [this.#v, this.#fallback, this.#flag]) t?.dispose();
    this.#v = this.#fallback = this.#flag = null;
    this.#initialized = false;
  }
}
