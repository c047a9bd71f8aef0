import type { Device } from "../../runtime/device.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { gelu, relu } from "../../ops/basic.ts";
import { checkpoint } from "../../autograd/checkpoint.ts";
import { type InitOptions, Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import { BertAttention, BertSelfOutput } from "./attention.ts";
import type { BertConfig } from "./config.ts";

/** The activation `hidden_act` names (HF `ACT2FN`; "gelu" is the exact erf GELU). */
export function activation(name: BertConfig["hidden_act"]): (x: Tensor) => Tensor {
  return name === "relu" ? relu : gelu;
}

/** HF `BertIntermediate`: act(dense(h)), D → intermediate_size. */
export class BertIntermediate extends Module {
  /** [intermediate_size, D]. */
  dense: Linear;
  readonly #act: (x: Tensor) => Tensor;

  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super();
    this.dense = new Linear(device, config.hidden_size, config.intermediate_size, init);
    this.#act = activation(config.hidden_act);
  }

  /** [B, S, D] → [B, S, intermediate_size]. */
  forward(hidden: Tensor): Tensor {
    return this.#act(this.dense.call(hidden));
  }
}

/**
 * HF `BertOutput`: LayerNorm(dropout(dense(h)) + input), intermediate_size → D — the block of
 * {@linkcode BertSelfOutput} on the feed-forward's wider input (`dense` is [D, intermediate_size]).
 */
export class BertOutput extends BertSelfOutput {
  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super(device, config, init, config.intermediate_size);
  }
}

/** HF `BertLayer`: attention, then the feed-forward block. */
export class BertLayer extends Module {
  /** `attention.self.*`, `attention.output.*`. */
  attention: BertAttention;
  /** `intermediate.dense`. */
  intermediate: BertIntermediate;
  /** `output.dense`, `output.LayerNorm`. */
  output: BertOutput;

  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super();
    this.attention = new BertAttention(device, config, init);
    this.intermediate = new BertIntermediate(device, config, init);
    this.output = new BertOutput(device, config, init);
  }

  /** hidden [B, S, D], additive mask [B, S] → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    const attn = this.attention.call(hidden, mask);
    return this.output.call(this.intermediate.call(attn), attn);
  }
}

/** HF `BertEncoder`: the stack of layers, with optional gradient checkpointing. */
export class BertEncoder extends Module {
  /** `encoder.layer.{i}`. */
  layer: BertLayer[];
  /** When true (and training with grad), each layer keeps only its input and recomputes. */
  gradient_checkpointing = false;

  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super();
    this.layer = Array.from(
      { length: config.num_hidden_layers },
      () => new BertLayer(device, config, init),
    );
  }

  /** hidden [B, S, D], additive mask [B, S] → [B, S, D]. */
  forward(hidden: Tensor, mask: Tensor | null): Tensor {
    let h = hidden;
    for (const layer of this.layer) {
      const input = h;
      h = this.gradient_checkpointing && this.training
        ? checkpoint((x, m) => layer.call(x!, m), [input, mask], layer)
        : layer.call(input, mask);
      // A loop-carried value: free each layer's input as soon as the next exists (what backward
      // needs is saved), so an inference forward holds two hidden states, not one per layer.
      if (input !== hidden) input.dispose();
    }
    return h;
  }
}
