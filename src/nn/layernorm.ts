import type { Device } from "../runtime/device.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { layerNorm } from "../ops/layernorm.ts";
import { full } from "../ops/basic.ts";
import { Module, parameter } from "./module.ts";

/** Options of {@linkcode LayerNorm}. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5, PyTorch's; HF BERT passes `layer_norm_eps` = 1e-12). */
  eps?: number;
  /** Learnable weight and bias (default true); otherwise fixed ones and zeros (not parameters). */
  elementwise_affine?: boolean;
}

/**
 * PyTorch `nn.LayerNorm` over the last dimension: y = (x − mean) / √(var + eps) · weight + bias,
 * biased variance. `weight` starts at ones and `bias` at zeros, both [normalized_shape].
 */
export class LayerNorm extends Module {
  /** Scale [C] (ones at init). */
  weight: Tensor;
  /** Shift [C] (zeros at init). */
  bias: Tensor;
  /** [C]. */
  readonly normalized_shape: readonly [number];
  /** Variance epsilon. */
  readonly eps: number;
  /** Whether weight and bias are parameters. */
  readonly elementwise_affine: boolean;

  /** Weight ones and bias zeros of [normalized_shape]. @throws {Error} unless 1-D. */
  constructor(
    device: Device,
    normalized_shape: number | readonly number[],
    options: LayerNormOptions = {},
  ) {
    super();
    const shape = typeof normalized_shape === "number" ? [normalized_shape] : [...normalized_shape];
    if (shape.length !== 1 || !Number.isInteger(shape[0]) || shape[0] <= 0) {
      throw new Error(
        `LayerNorm: normalized_shape must be one positive integer (the last dimension), got [${shape}]`,
      );
    }
    const c = shape[0];
    this.normalized_shape = [c];
    this.eps = options.eps ?? 1e-5;
    this.elementwise_affine = options.elementwise_affine ?? true;
    if (this.elementwise_affine) {
      this.weight = parameter(device, new Float32Array(c).fill(1), [c], {
        label: "layernorm.weight",
      });
      this.bias = parameter(device, new Float32Array(c), [c], { label: "layernorm.bias" });
    } else {
      this.weight = this.registerBuffer("weight", full(device, [c], 1), { persistent: false });
      this.bias = this.registerBuffer("bias", full(device, [c], 0), { persistent: false });
    }
  }

  /** x [..., C] → [..., C]. Saves x and per-row statistics. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }

  /** As PyTorch prints it. */
  extra_repr(): string {
    return `(${
      this.normalized_shape[0]
    },), eps=${this.eps}, elementwise_affine=${this.elementwise_affine}`;
  }
}
