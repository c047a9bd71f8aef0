import type { Tensor } from "../tensor/tensor.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { add } from "../ops/basic.ts";
import { matmul, matmulInto } from "../ops/matmul.ts";
import { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { Dropout } from "../nn/dropout.ts";
import { Identity, ModuleDict } from "../nn/module_dict.ts";
import { normal_ } from "../nn/init.ts";
import { mulberry32 } from "../util/rng.ts";
import { VeLoRALinear } from "../velora/velora_linear.ts";
import type { VeLoRASharing } from "../velora/sharing.ts";
import type { LoraConfig } from "./config.ts";

/** The adapter name PEFT uses when none is given. */
export const DEFAULT_ADAPTER = "default";

/** FNV-1a of a module name: each layer's A gets its own seeded stream. */
function nameSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * PEFT `lora.Linear`: a frozen `base_layer` plus a low-rank update,
 * y = base_layer(x) + lora_B(lora_A(lora_dropout(x)))·scaling (Hu et al. 2021, eq. 3), with
 * `lora_A.default` [r, in] and `lora_B.default` [out, r] (PEFT runtime names, e.g.
 * `query.lora_A.default.weight`). With VeLoRA, `lora_A.default` is a {@linkcode VeLoRALinear}:
 * it keeps z = s·v of its (dropped-out) input instead of the input, and only lora_A's weight
 * gradient is approximated: dA = scale·dHᵀ(z ⊗ v) with dH the gradient at lora_A's output.
 *
 * The base weight is frozen, so its input-gradient path alone runs (dX = dY·W, no dW matmul, no
 * saved input for it).
 */
export class LoraLinear extends Module {
  /** The wrapped layer (frozen unless bias training is on). */
  base_layer: Linear;
  /** Input dropout per adapter (`Identity` when lora_dropout is 0, as PEFT). */
  lora_dropout: ModuleDict<Dropout | Identity>;
  /** A per adapter: [r, in_features], no bias. */
  lora_A: ModuleDict<Linear | VeLoRALinear>;
  /** B per adapter: [out_features, r], no bias. */
  lora_B: ModuleDict<Linear>;
  /** Input size. */
  readonly in_features: number;
  /** Output size. */
  readonly out_features: number;
  /** Rank per adapter. */
  readonly r: Record<string, number> = {};
  /** lora_alpha / r (or / √r) per adapter. */
  readonly scaling: Record<string, number> = {};
  #merged = false;
  #disabled = false;

  /**
   * Wraps `base` with adapter `adapter` of `config` (A and B initialised as
   * `config.init_lora_weights`, seeded by `config.seed` and `name`); `sharing` is the VeLoRA
   * sharing object of the model's adapters when `config.velora_config` is set.
   */
  constructor(
    base: Linear,
    config: LoraConfig,
    name: string,
    sharing: VeLoRASharing | null = null,
    adapter = DEFAULT_ADAPTER,
  ) {
    super();
    const device = base.weight.device;
    this.base_layer = base;
    this.in_features = base.in_features;
    this.out_features = base.out_features;
    this.r[adapter] = config.r;
    this.scaling[adapter] = config.scaling;
    const gen = mulberry32(nameSeed(config.seed, name));
    // nn.Linear's default init is PEFT's A init (kaiming-uniform, a = √5).
    const a = new Linear(device, base.in_features, config.r, { bias: false, seed: gen });
    const b = new Linear(device, config.r, base.out_features, { bias: false, seed: gen });
    if (config.init_lora_weights !== false) {
      if (config.init_lora_weights === "gaussian") {
        const data = normal_(new Float32Array(a.weight.numel), 0, 1 / config.r, gen);
        a.load_state_dict({ weight: data });
      }
      b.load_state_dict({ weight: new Float32Array(b.weight.numel) });
    }
    const lora_a = config.velora_config
      ? new VeLoRALinear(a, config.velora_config, {
        name: `${name}.lora_A.${adapter}`,
        sharing: sharing ?? undefined,
      })
      : a;
    this.lora_A = new ModuleDict<Linear | VeLoRALinear>({ [adapter]: lora_a });
    this.lora_B = new ModuleDict<Linear>({ [adapter]: b });
    this.lora_dropout = new ModuleDict<Dropout | Identity>({
      [adapter]: config.lora_dropout > 0
        ? new Dropout(config.lora_dropout, { seed: nameSeed(config.seed + 1, name) })
        : new Identity(),
    });
    this.training = base.training;
  }

  /** The adapters of this layer. */
  get adapters(): string[] {
    return this.lora_A.keys();
  }

  /** Whether the update is merged into the base weight. */
  get merged(): boolean {
    return this.#merged;
  }

  /** Whether the adapters are bypassed (PEFT `disable_adapters`). */
  get disabled(): boolean {
    return this.#disabled;
  }

  /** Bypass (true) or use (false) the adapters in forwards. */
  enable_adapters(enabled: boolean): void {
    this.#disabled = !enabled;
  }

  /** x [..., in] → [..., out]. */
  forward(x: Tensor): Tensor {
    const base = this.base_layer.forward(x);
    if (this.#merged || this.#disabled) return base;
    let result = base;
    for (const name of this.adapters) {
      const drop = this.lora_dropout.get(name);
      // No dropout: lora_A reads x itself, so adapters sharing x can share VeLoRA's z.
      const xd = drop instanceof Identity ? x : drop.forward(x);
      const h = this.lora_A.get(name).forward(xd);
      if (xd !== x) xd.dispose();
      const u = matmul(h, this.lora_B.get(name).weight, {
        transB: true,
        alpha: this.scaling[name],
      });
      h.dispose();
      const next = add(result, u);
      u.dispose();
      result.dispose();
      result = next;
    }
    return result;
  }

  /** W += scaling·B·A for every adapter (PEFT `merge`); no-op when merged. */
  merge(): void {
    if (this.#merged) return;
    this.#addDelta(1);
    this.#merged = true;
  }

  /** W −= scaling·B·A (PEFT `unmerge`); no-op when not merged. */
  unmerge(): void {
    if (!this.#merged) return;
    this.#addDelta(-1);
    this.#merged = false;
  }

  /** scaling·B·A [out, in] of `adapter` (PEFT `get_delta_weight`), a new tensor. */
  get_delta_weight(adapter = DEFAULT_ADAPTER): Tensor {
    return noGrad(() =>
      matmul(this.lora_B.get(adapter).weight, this.lora_A.get(adapter).weight, {
        alpha: this.scaling[adapter],
      })
    );
  }

  #addDelta(sign: 1 | -1): void {
    const w = this.base_layer.weight;
    for (const name of this.adapters) {
      const b = this.lora_B.get(name).weight;
      const a = this.lora_A.get(name).weight;
      matmulInto(
        w,
        b,
        a,
        { batch: 1, m: this.out_features, n: this.in_features, k: this.r[name] },
        {
          alpha: sign * this.scaling[name],
          accumulate: true,
        },
      );
    }
  }

  /** As PEFT prints it. */
  extra_repr(): string {
    return `in_features=${this.in_features}, out_features=${this.out_features}, ` +
      `r=${JSON.stringify(this.r)}, scaling=${JSON.stringify(this.scaling)}`;
  }
}
