import type { Device } from "../runtime/device.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { linear } from "../ops/matmul.ts";
import { type Generator, generator, kaiming_uniform_, uniform_ } from "./init.ts";
import { emptyParameter, type InitOptions, Module, parameter } from "./module.ts";

/** Options of {@linkcode Linear}. */
export interface LinearOptions extends InitOptions {
  /** Add a learnable bias (default true). */
  bias?: boolean;
  /** Seed (or generator) of the initialisation; default: the global stream (`manual_seed`). */
  seed?: number | Generator;
}

/**
 * PyTorch `nn.Linear`: y = x·Wᵀ + b, with `weight` [out_features, in_features] and `bias`
 * [out_features]. Initialisation as PyTorch: weight kaiming-uniform(a = √5), i.e.
 * U(−1/√in, 1/√in), then bias U(−1/√in, 1/√in), drawn in that order from one seeded stream.
 */
export class Linear extends Module {
  /** Weight [out_features, in_features]. */
  weight: Tensor;
  /** Bias [out_features], or null with `bias: false`. */
  bias: Tensor | null;
  /** Input size. */
  readonly in_features: number;
  /** Output size. */
  readonly out_features: number;

  /** A layer with seeded PyTorch-default initialisation. @throws {Error} for non-positive sizes. */
  constructor(
    device: Device,
    in_features: number,
    out_features: number,
    options: LinearOptions = {},
  ) {
    super();
    if (
      !Number.isInteger(in_features) || in_features <= 0 || !Number.isInteger(out_features) ||
      out_features <= 0
    ) {
      throw new Error(
        `Linear: features must be positive integers, got ${in_features} → ${out_features}`,
      );
    }
    this.in_features = in_features;
    this.out_features = out_features;
    const shape = [out_features, in_features];
    if (options.init === false) {
      this.weight = emptyParameter(device, shape, { label: "linear.weight" });
      this.bias = (options.bias ?? true)
        ? emptyParameter(device, [out_features], { label: "linear.bias" })
        : null;
      return;
    }
    const gen = generator(options.seed);
    const w = kaiming_uniform_(
      new Float32Array(out_features * in_features),
      shape,
      Math.sqrt(5),
      gen,
    );
    this.weight = parameter(device, w, shape, { label: "linear.weight" });
    if (options.bias ?? true) {
      const bound = 1 / Math.sqrt(in_features);
      const b = uniform_(new Float32Array(out_features), -bound, bound, gen);
      this.bias = parameter(device, b, [out_features], { label: "linear.bias" });
    } else this.bias = null;
  }

  /** x [..., in_features] → [..., out_features]. Saves x for the weight gradient. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /** `in_features=…, out_features=…, bias=…`, as PyTorch prints it. */
  extra_repr(): string {
    return `in_features=${this.in_features}, out_features=${this.out_features}, bias=${
      this.bias !== null
    }`;
  }
}
