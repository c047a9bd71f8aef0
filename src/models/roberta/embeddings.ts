import type { Device } from "../../runtime/device.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { defineKernel } from "../../runtime/kernel.ts";
import { BertEmbeddings } from "../bert/embeddings.ts";
import type { BertConfig } from "../bert/config.ts";
import type { InitOptions } from "../../nn/module.ts";
import src from "./position_ids.wgsl" with { type: "text" };

const POSITION_IDS = defineKernel({
  name: "roberta/position_ids.wgsl",
  code: src,
  entryPoint: "position_ids",
  bindings: ["ids", "out"],
  uniforms: ["rows", "cols", "pad"],
});

/**
 * HF `RobertaEmbeddings`: BERT's embeddings with position ids counted over the non-padding
 * tokens and offset by pad_token_id + 1 (`create_position_ids_from_input_ids`), and a padding
 * row in the position table. Shapes as `BertEmbeddings`.
 */
export class RobertaEmbeddings extends BertEmbeddings {
  readonly #pad: number;

  /** Creates the layers for `config` (see {@linkcode InitOptions}). */
  constructor(device: Device, config: BertConfig, init: InitOptions = {}) {
    super(device, config, init);
    this.#pad = config.pad_token_id ?? 1;
  }

  /** The position table's padding row is pad_token_id (HF `padding_idx`). */
  protected override positionPaddingIdx(config: BertConfig): number | null {
    return config.pad_token_id ?? 1;
  }

  /** Positions run from pad_token_id + 1. */
  protected override positionOffset(config: BertConfig): number {
    return (config.pad_token_id ?? 1) + 1;
  }

  /** i32 [B, S]: cumsum(ids ≠ pad) · (ids ≠ pad) + pad, computed on the GPU. */
  protected override positionIds(input_ids: Tensor): Tensor {
    const [rows, cols] = input_ids.shape;
    const device = input_ids.device;
    const out = Tensor.empty(device, input_ids.shape, { dtype: "i32" });
    if (rows * cols === 0) return out;
    POSITION_IDS.launch(device, {
      bindings: { ids: input_ids, out },
      uniforms: { rows, cols, pad: this.#pad },
      workgroups: [Math.ceil(rows / 64)],
    });
    return out;
  }
}
