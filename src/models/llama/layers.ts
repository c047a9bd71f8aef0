import type { Device } from "../../runtime/device.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { add, reshape } from "../../ops/basic.ts";
import { permute, placeInto } from "../../ops/shape.ts";
import { rmsNorm } from "../../ops/rmsnorm.ts";
import { rope, ropeInvFreq, ropeTable } from "../../ops/rope.ts";
import { swiglu } from "../../ops/swiglu.ts";
import { ALL_ATTENTION_FUNCTIONS, type AttentionFunction } from "../../nn/attention.ts";
import { type InitOptions, Module, parameter } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import type { LlamaConfig } from "./config.ts";

/** HF `LlamaRMSNorm`: weight · x / √(mean(x²) + eps); weight starts at ones. */
export class LlamaRMSNorm extends Module {
  /** [hidden_size]. */
  weight: Tensor;
  /** Epsilon inside the square root. */
  readonly variance_epsilon: number;

  /** A norm of width `size` with weight 1. */
  constructor(device: Device, size: number, eps = 1e-6) {
    super();
    this.weight = parameter(device, new Float32Array(size).fill(1), [size], {
      label: "rmsnorm.weight",
    });
    this.variance_epsilon = eps;
  }

  /** [..., size] → [..., size]. */
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.variance_epsilon);
  }
}

/**
 * HF `LlamaRotaryEmbedding`: the inverse frequencies of `rope_theta` (and `rope_scaling`), and a
 * cos/sin table on the GPU covering the positions used so far (grown by doubling; not a
 * parameter, not in `state_dict`).
 */
export class LlamaRotaryEmbedding {
  /** θ_i as f32 values. */
  readonly inv_freq: Float64Array;
  #table: Tensor | null = null;

  /** Frequencies for `config.head_dim`. @throws {Error} for a bad rope configuration. */
  constructor(config: LlamaConfig) {
    this.inv_freq = ropeInvFreq(config.head_dim, config.rope_theta, config.rope_scaling);
  }

  /** A table [P, head_dim] with P > `maxPosition` (the caller must not dispose it). */
  table(device: Device, maxPosition: number): Tensor {
    const rows = this.#table?.shape[0] ?? 0;
    if (rows > maxPosition) return this.#table!;
    let p = Math.max(64, rows);
    while (p <= maxPosition) p *= 2;
    // Replaced tables stay alive while a graph still saves them (storage reference counting).
    this.#table?.dispose();
    this.#table = Tensor.from(device, ropeTable(this.inv_freq, p), [p, 2 * this.inv_freq.length], {
      category: "parameter",
      label: "rope.table",
    }).keep();
    return this.#table;
  }

  /** Frees the table. */
  dispose(): void {
    this.#table?.dispose();
    this.#table = null;
  }
}

/** Per-layer key/value cache of `generate`: [B, Hkv, maxLen, head_dim] each, allocated once. */
export interface LayerCache {
  /** Keys after RoPE. */
  k: Tensor;
  /** Values. */
  v: Tensor;
}

/** What every layer of one forward shares. */
export interface LlamaStepInputs {
  /** Position of each token, i32 [B, S]. */
  positions: Tensor;
  /** The cos/sin table covering `positions`. */
  table: Tensor;
  /** Additive key mask f32 [B, Sk] (0 or finfo.min) or null. */
  mask: Tensor | null;
  /** Write K/V at this offset of the cache and attend over the whole cache (masked). */
  cacheOffset?: number;
}

/**
 * HF `LlamaAttention`: q/k/v projections, RoPE on q and k (fused with the head split), causal
 * grouped-query attention through the attention seam (`config.attn_implementation`, default
 * "eager"; K/V never repeated), o_proj. Shapes: hidden [B, S, D] → [B, S, D].
 */
export class LlamaAttention extends Module {
  /** [H·hd, D] (+ bias for qwen2 / attention_bias). */
  q_proj: Linear;
  /** [Hkv·hd, D]. */
  k_proj: Linear;
  /** [Hkv·hd, D]. */
  v_proj: Linear;
  /** [D, H·hd]. */
  o_proj: Linear;
  readonly #heads: number;
  readonly #kvHeads: number;
  readonly #headDim: number;
  readonly #attention: AttentionFunction;

  /** Layers of `config` (initialised by the model). */
  constructor(device: Device, config: LlamaConfig, options: InitOptions = {}) {
    super();
    const d = config.hidden_size;
    const hd = config.head_dim;
    const bias = config.qkv_bias;
    const init = { init: options.init };
    this.q_proj = new Linear(device, d, config.num_attention_heads * hd, { bias, ...init });
    this.k_proj = new Linear(device, d, config.num_key_value_heads * hd, { bias, ...init });
    this.v_proj = new Linear(device, d, config.num_key_value_heads * hd, { bias, ...init });
    this.o_proj = new Linear(device, config.num_attention_heads * hd, d, {
      bias: config.o_bias,
      ...init,
    });
    this.#heads = config.num_attention_heads;
    this.#kvHeads = config.num_key_value_heads;
    this.#headDim = hd;
    this.#attention = ALL_ATTENTION_FUNCTIONS.get(config.attn_implementation ?? "eager");
  }

  /** hidden [B, S, D] → [B, S, D]; with `cache`, K/V go into it and attention reads all of it. */
  forward(hidden: Tensor, step: LlamaStepInputs, cache?: LayerCache): Tensor {
    const [batch, seq] = hidden.shape;
    const hd = this.#headDim;
    const q = rope(this.q_proj.call(hidden), step.positions, step.table, this.#heads);
    let k = rope(this.k_proj.call(hidden), step.positions, step.table, this.#kvHeads);
    let v = permute(reshape(this.v_proj.call(hidden), [batch, seq, this.#kvHeads, hd]), [
      0,
      2,
      1,
      3,
    ]);
    let causal = true;
    if (cache && step.cacheOffset !== undefined) {
      placeInto(cache.k, k, 2, step.cacheOffset);
      placeInto(cache.v, v, 2, step.cacheOffset);
      if (seq === 1) {
        // One new token attends over the whole cache; the mask hides unwritten slots and padding.
        k = cache.k.view();
        v = cache.v.view();
        causal = false;
      }
    }
    const context = this.#attention(q, k, v, {
      attention_mask: step.mask,
      is_causal: causal,
      scaling: hd ** -0.5,
      dropout: 0,
      seed: null,
    });
    return this.o_proj.call(reshape(context, [batch, seq, this.#heads * hd]));
  }
}

/** HF `LlamaMLP`: down_proj(silu(gate_proj(x)) · up_proj(x)), SwiGLU fused in one kernel. */
export class LlamaMLP extends Module {
  /** [I, D]. */
  gate_proj: Linear;
  /** [I, D]. */
  up_proj: Linear;
  /** [D, I]. */
  down_proj: Linear;

  /** Layers of `config` (initialised by the model). */
  constructor(device: Device, config: LlamaConfig, options: InitOptions = {}) {
    super();
    const d = config.hidden_size;
    const i = config.intermediate_size;
    const o = { bias: config.mlp_bias, init: options.init };
    this.gate_proj = new Linear(device, d, i, o);
    this.up_proj = new Linear(device, d, i, o);
    this.down_proj = new Linear(device, i, d, o);
  }

  /** [B, S, D] → [B, S, D]. */
  forward(x: Tensor): Tensor {
    return this.down_proj.call(swiglu(this.gate_proj.call(x), this.up_proj.call(x)));
  }
}

/** HF `LlamaDecoderLayer`: pre-norm attention and MLP blocks with residuals. */
export class LlamaDecoderLayer extends Module {
  /** `self_attn.{q,k,v,o}_proj`. */
  self_attn: LlamaAttention;
  /** `mlp.{gate,up,down}_proj`. */
  mlp: LlamaMLP;
  /** Norm before attention. */
  input_layernorm: LlamaRMSNorm;
  /** Norm before the MLP. */
  post_attention_layernorm: LlamaRMSNorm;

  /** Layers of `config` (initialised by the model). */
  constructor(device: Device, config: LlamaConfig, options: InitOptions = {}) {
    super();
    this.self_attn = new LlamaAttention(device, config, options);
    this.mlp = new LlamaMLP(device, config, options);
    this.input_layernorm = new LlamaRMSNorm(device, config.hidden_size, config.rms_norm_eps);
    this.post_attention_layernorm = new LlamaRMSNorm(
      device,
      config.hidden_size,
      config.rms_norm_eps,
    );
  }

  /** hidden [B, S, D] → [B, S, D]. */
  forward(hidden: Tensor, step: LlamaStepInputs, cache?: LayerCache): Tensor {
    const h = add(hidden, this.self_attn.call(this.input_layernorm.call(hidden), step, cache));
    return add(h, this.mlp.call(this.post_attention_layernorm.call(h)));
  }
}
