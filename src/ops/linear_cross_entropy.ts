import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import { linearBackward, matmulInto } from "./matmul.ts";
import { crossEntropyBackward, crossEntropyForward } from "./loss.ts";

/** Options of {@linkcode linearCrossEntropy}. */
export interface LinearCrossEntropyOptions {
  /** Rows with this label add nothing to the loss or the count (PyTorch default -100). */
  ignoreIndex?: number;
}

/** What {@linkcode linearCrossEntropy} returns. */
export interface LinearCrossEntropyOutput {
  /** The logits [..., V] (no gradient: the loss's graph does not go through them). */
  logits: Tensor;
  /** Mean cross-entropy, a scalar that records the fused backward. */
  loss: Tensor;
}

/**
 * A linear layer followed by cross-entropy, `F.cross_entropy(F.linear(x, weight, bias), labels,
 * ignore_index)`, that keeps the inputs of the linear layer instead of the logits: backward
 * recomputes the logits from x and the weight (the "fused linear cross-entropy" of Liger-Kernel
 * and Apple's Cut Cross-Entropy, Wijmans et al. 2024, arXiv 2411.09009). For a language-model
 * head the logits [tokens, vocab] are the largest tensor a step saves (LLaMA 60M at 256 tokens:
 * 31 MiB against 0.5 MiB for x); the price is one more x·Wᵀ product in backward.
 *
 * Shapes: x f32 [..., D], weight f32 [V, D], bias f32 [V] or null, labels i32 [...] (x's leading
 * dims) → logits [..., V] (returned as a plain tensor the caller disposes) and the scalar loss.
 * Loss and gradients are those of `crossEntropy(linear(x, weight, bias), labels)`; the recomputed
 * logits are bit-identical to the forward's (same kernel, same inputs).
 *
 * Saves (when recording): x (f32: the logits are recomputed from it, so it is never rounded),
 * labels, per-row logsumexp and the count [N + 1]; the weight (a parameter) is referenced.
 * Backward: logits = x·Wᵀ + b again, dlogits = g · (softmax − onehot) / count, then dx = dlogits·W,
 * dW = dlogitsᵀ·x, db = Σ dlogits.
 *
 * @throws {Error} when a tensor is not f32 (labels i32), weight is not [V, D] for x [..., D],
 * bias is not [V], or labels' shape is not x's leading dims (the message names the shapes).
 */
export function linearCrossEntropy(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  labels: Tensor,
  options: LinearCrossEntropyOptions = {},
): LinearCrossEntropyOutput {
  const ignore = options.ignoreIndex ?? -100;
  const what = `x ${x.dtype} [${x.shape}], weight ${weight.dtype} [${weight.shape}]`;
  if (x.dtype !== "f32" || weight.dtype !== "f32" || x.ndim < 1 || weight.ndim !== 2) {
    throw new Error(`linearCrossEntropy: ${what} must be f32 [..., D] and [V, D]`);
  }
  const [vocab, inF] = weight.shape;
  if (x.shape[x.ndim - 1] !== inF || vocab === 0) {
    throw new Error(`linearCrossEntropy: ${what} do not match (need [..., D] and [V ≥ 1, D])`);
  }
  if (bias && (bias.dtype !== "f32" || bias.shape.join() !== `${vocab}`)) {
    throw new Error(
      `linearCrossEntropy: bias ${bias.dtype} [${bias.shape}] must be f32 [${vocab}]`,
    );
  }
  if (
    labels.dtype !== "i32" || labels.ndim !== x.ndim - 1 ||
    labels.shape.join() !== x.shape.slice(0, -1).join()
  ) {
    throw new Error(
      `linearCrossEntropy: labels ${labels.dtype} [${labels.shape}] must be i32 with x's ` +
        `leading dims (x [${x.shape}])`,
    );
  }
  if (!Number.isInteger(ignore) || ignore < -(2 ** 31) || ignore >= 2 ** 31) {
    throw new Error(`linearCrossEntropy: ignoreIndex must be a 32-bit integer, got ${ignore}`);
  }
  const device = x.device;
  const d = { batch: 1, m: labels.numel, n: vocab, k: inF };
  const project = (input: Tensor, w: Tensor) =>
    matmulInto(Tensor.empty(device, [...x.shape.slice(0, -1), vocab]), input, w, d, {
      transB: true,
      bias: bias ?? undefined,
    });
  const logits = project(x, weight);
  const { loss, stats } = crossEntropyForward(logits, labels, ignore);
  const out = record(loss, [x, weight, bias, labels], "LinearCrossEntropyBackward", (save) => {
    const sx = save(x);
    const sw = save(weight);
    const sy = save(labels);
    const ss = save(stats);
    return (g) => {
      const again = project(sx.tensor, sw.tensor);
      const dlogits = crossEntropyBackward(again, sy.tensor, ss.tensor, g, ignore);
      again.dispose();
      const [gx, gw, gb] = linearBackward(
        dlogits,
        weight.requiresGrad ? sx.tensor : null,
        x.requiresGrad ? sw.tensor : null,
        bias,
        d,
      );
      return [gx, gw, gb, null];
    };
  });
  stats.dispose();
  return { logits, loss: out };
}
