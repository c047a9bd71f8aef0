import type { Device } from "../../runtime/device.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { additiveMask } from "../../ops/mask.ts";
import { concat, slice } from "../../ops/shape.ts";
import { crossEntropy } from "../../ops/loss.ts";
import { linearCrossEntropy } from "../../ops/linear_cross_entropy.ts";
import { checkpoint } from "../../autograd/checkpoint.ts";
import { isGradEnabled } from "../../autograd/grad_mode.ts";
import type { Module } from "../../nn/module.ts";
import { Embedding } from "../../nn/embedding.ts";
import { Linear } from "../../nn/linear.ts";
import { type ModelOptions, PreTrainedModel, type WeightInit } from "../modeling_utils.ts";
import type { SavePretrainedOptions } from "../pretrained.ts";
import { initStandardWeights } from "../init_weights.ts";
import { LlamaConfig } from "./config.ts";
import {
  type LayerCache,
  LlamaDecoderLayer,
  LlamaRMSNorm,
  LlamaRotaryEmbedding,
  type LlamaStepInputs,
} from "./layers.ts";
import { generate, type GenerateOptions } from "./generate.ts";

/** Inputs of {@linkcode LlamaModel.forward} / {@linkcode LlamaForCausalLM.forward}. */
export interface CausalLMInputs {
  /** Token ids, i32 [batch, seq]. */
  input_ids: Tensor;
  /** 1 for real tokens, 0 for padding, i32 [batch, seq]; default all ones. */
  attention_mask?: Tensor | null;
  /** Next-token targets, i32 [batch, seq] (-100 = ignored); shifted inside, as HF. */
  labels?: Tensor | null;
  /** Position ids, i32 [batch, seq]; default 0..seq−1 in every row (HF's default). */
  position_ids?: Tensor | null;
}

/** Output of {@linkcode LlamaForCausalLM.forward}. */
export interface CausalLMOutput {
  /** [batch, seq, vocab_size]. */
  logits: Tensor;
  /** Mean next-token cross-entropy when labels were given, else null. */
  loss: Tensor | null;
}

/** @internal What the generation loop passes to one model step. */
export interface CachedStep {
  /** Caches, one per layer. */
  caches: LayerCache[];
  /** Where this step's keys/values go. */
  offset: number;
  /** Positions i32 [B, S] (HF generate: cumsum(mask) − 1). */
  positions: Tensor;
  /** Additive mask over the whole cache [B, maxLen]. */
  mask: Tensor;
}

function checkIds(name: string, t: Tensor | null | undefined, ids: Tensor): void {
  if (t && (t.dtype !== "i32" || t.shape.join() !== ids.shape.join())) {
    throw new Error(
      `LlamaForCausalLM: ${name} ${t.dtype} [${t.shape}] must be i32 with the shape of input_ids ` +
        `[${ids.shape}]`,
    );
  }
}

/**
 * The LLaMA-family base (HF `LlamaPreTrainedModel`): config class, `base_model_prefix` "model" and
 * HF's `_init_weights` — Linear and Embedding weights ~ N(0, initializer_range) (the padding_idx
 * row zero), biases 0, RMSNorm weights 1.
 */
export abstract class LlamaPreTrainedModel extends PreTrainedModel<LlamaConfig> {
  /** Reads config.json ("llama", "qwen2", "mistral"). */
  static readonly config_class: typeof LlamaConfig = LlamaConfig;
  /** Weights of the base model sit under `model.`. */
  static override readonly base_model_prefix: string = "model";

  /** HF `_init_weights`. */
  protected _init_weights(module: Module, init: WeightInit): void {
    initStandardWeights(module, init, this.config.initializer_range, [LlamaRMSNorm]);
  }
}

/**
 * HF `LlamaModel` (modeling_llama.py; also the Qwen2 and Mistral layouts): token embedding,
 * decoder layers, final RMSNorm. HF parameter names (`embed_tokens`, `layers.{i}.self_attn.q_proj`,
 * ..., `norm`).
 */
export class LlamaModel extends LlamaPreTrainedModel {
  /** [vocab_size, hidden_size]. */
  embed_tokens: Embedding;
  /** `layers.{i}`. */
  layers: LlamaDecoderLayer[];
  /** Final norm. */
  norm: LlamaRMSNorm;
  /** When true (and training with grad), each layer keeps only its input and recomputes. */
  gradient_checkpointing = false;
  readonly #rotary: LlamaRotaryEmbedding;

  /** Layers for `config`, initialised as HF (seeded) unless `init` is false. */
  constructor(device: Device, config: LlamaConfig, options: ModelOptions = {}) {
    super(device, config);
    const init = { init: false };
    this.embed_tokens = new Embedding(device, config.vocab_size, config.hidden_size, {
      padding_idx: config.pad_token_id,
      ...init,
    });
    this.layers = Array.from(
      { length: config.num_hidden_layers },
      () => new LlamaDecoderLayer(device, config, init),
    );
    this.norm = new LlamaRMSNorm(device, config.hidden_size, config.rms_norm_eps);
    this.#rotary = new LlamaRotaryEmbedding(config);
    this.post_init(options);
  }

  /** The rotary embedding (frequencies and cos/sin table). */
  get rotary_emb(): LlamaRotaryEmbedding {
    return this.#rotary;
  }

  #checkWindow(keys: number): void {
    const w = this.config.effective_sliding_window;
    if (w !== null && keys > w) {
      throw new Error(
        `LlamaModel (${this.config.model_type}): sequence of ${keys} tokens exceeds sliding_window ` +
          `${w}; sliding-window attention is not implemented, so sequences must fit the window`,
      );
    }
  }

  /**
   * Token ids [B, S] → last hidden state [B, S, D] (after the final norm). Positions default to
   * 0..S−1 per row; the mask is causal plus `attention_mask` padding.
   * @throws {Error} for inputs that are not i32 [batch, seq] or a sequence longer than a Mistral
   * sliding window.
   */
  forward(inputs: CausalLMInputs, cached?: CachedStep): Tensor {
    const { input_ids, attention_mask, position_ids } = inputs;
    if (input_ids.dtype !== "i32" || input_ids.ndim !== 2) {
      throw new Error(
        `LlamaModel: input_ids must be i32 [batch, seq], got ${input_ids.dtype} [${input_ids.shape}]`,
      );
    }
    checkIds("attention_mask", attention_mask, input_ids);
    checkIds("position_ids", position_ids, input_ids);
    const [batch, seq] = input_ids.shape;
    const device = input_ids.device;
    let positions = cached?.positions ?? position_ids ?? null;
    let maxPos = (cached ? cached.offset : 0) + seq;
    if (!positions) {
      const data = Int32Array.from({ length: batch * seq }, (_, i) => i % seq);
      positions = Tensor.from(device, data, [batch, seq], { dtype: "i32" });
    } else if (position_ids) maxPos = this.config.max_position_embeddings + seq;
    this.#checkWindow(cached ? cached.offset + seq : seq);
    let mask = cached?.mask ?? null;
    if (!cached && attention_mask) mask = additiveMask(attention_mask);
    const step: LlamaStepInputs = {
      positions,
      table: this.#rotary.table(device, maxPos),
      mask,
      cacheOffset: cached?.offset,
    };
    let h = this.embed_tokens.call(input_ids);
    for (const [i, layer] of this.layers.entries()) {
      const next = this.gradient_checkpointing && this.training && !cached
        ? checkpoint(
          (x, p, m) => layer.call(x!, { ...step, positions: p!, mask: m }),
          [h, positions, mask],
          layer,
        )
        : layer.call(h, step, cached?.caches[i]);
      h.dispose();
      h = next;
    }
    return this.norm.call(h);
  }

  /** HF name: recompute each decoder layer in backward, keeping only layer inputs. */
  gradient_checkpointing_enable(): void {
    this.gradient_checkpointing = true;
  }

  /** Frees the parameters and the rotary table. */
  override dispose(): void {
    this.#rotary.dispose();
    super.dispose();
  }
}

/**
 * HF `LlamaForCausalLM` (also Qwen2ForCausalLM, MistralForCausalLM layouts): LlamaModel plus the
 * `lm_head` projection to the vocabulary, tied to `embed_tokens` when `tie_word_embeddings` (then
 * `lm_head.weight` is the same tensor, written once by `save_pretrained`, as HF).
 * Loss: HF `ForCausalLMLoss`, mean cross-entropy of logits[:, :−1] against labels[:, 1:], ignoring
 * −100.
 */
export class LlamaForCausalLM extends LlamaPreTrainedModel {
  /** `model.*`. */
  model: LlamaModel;
  /** [vocab_size, hidden_size]; its weight is `model.embed_tokens.weight` when tied. */
  lm_head: Linear;
  /**
   * With labels, compute the loss by `linearCrossEntropy`: lm_head fused with the loss, chunk by
   * chunk of rows; when training, the forward computes the lm_head's gradients from each chunk of
   * logits and keeps those instead of the logits (LLaMA 60M × 256 tokens: 31 MiB fewer saved
   * bytes, no product recomputed). Same loss and gradients. In training with grad the logits are
   * never materialised (as Liger-Kernel's fused loss): `logits` is then an empty
   * [batch, 0, vocab_size] tensor; in eval or under `noGrad` they are returned in full (without
   * gradient). A forward with labels while grad is on pays for those gradient products even if
   * backward never runs: evaluate under `noGrad`. Only while `lm_head` is a plain `Linear` (a
   * LoRA- or VeLoRA-wrapped head takes the usual path). Default false; the `lean` setting turns
   * it on.
   */
  fusedLinearCrossEntropy = false;

  /** A model for `config`, initialised as HF (seeded) unless `init` is false. */
  constructor(device: Device, config: LlamaConfig, options: ModelOptions = {}) {
    super(device, config);
    this.model = new LlamaModel(device, config, { ...options, init: false });
    this.lm_head = new Linear(device, config.hidden_size, config.vocab_size, {
      bias: false,
      init: false,
    });
    this.post_init(options);
  }

  /** HF `tie_weights`: with `tie_word_embeddings`, lm_head shares the embedding matrix. */
  override tie_weights(): void {
    const emb = this.model.embed_tokens.weight;
    if (!this.config.tie_word_embeddings || this.lm_head.weight === emb) return;
    this.lm_head.weight.dispose();
    this.lm_head.weight = emb;
  }

  /** hidden [..., D] → logits [..., vocab_size]. */
  lmHead(hidden: Tensor): Tensor {
    return this.lm_head.call(hidden);
  }

  /**
   * Logits [B, S, vocab] and, with labels, the shifted mean cross-entropy (HF semantics).
   * @throws {Error} for badly shaped inputs or labels.
   */
  forward(inputs: CausalLMInputs): CausalLMOutput {
    checkIds("labels", inputs.labels, inputs.input_ids);
    const labels = inputs.labels;
    const head = this.lm_head;
    if (
      labels && this.fusedLinearCrossEntropy && Object.getPrototypeOf(head) === Linear.prototype
    ) {
      const hidden = this.model.call(inputs);
      const shifted = shiftLabels(labels);
      const returnLogits = !(this.training && isGradEnabled());
      const out = linearCrossEntropy(hidden, head.weight, head.bias, shifted, { returnLogits });
      shifted.dispose();
      hidden.dispose();
      const logits = out.logits ??
        Tensor.empty(labels.device, [labels.shape[0], 0, this.config.vocab_size]);
      return { logits, loss: out.loss };
    }
    const logits = this.lm_head.call(this.model.call(inputs));
    if (!labels) return { logits, loss: null };
    return { logits, loss: causalLMLoss(logits, labels) };
  }

  /**
   * Generates continuations with a KV cache allocated once per call (see {@linkcode generate}).
   * Returns each row's prompt followed by its new tokens (stopping at eos).
   */
  generate(
    input_ids: Tensor | number[][],
    options: GenerateOptions = {},
  ): Promise<number[][]> {
    return generate(this, input_ids, options);
  }

  /**
   * Writes config.json and the weights (HF layout, sharded past `max_shard_size` as
   * {@linkcode PreTrainedModel.save_pretrained}; a tied lm_head is written once).
   */
  override async save_pretrained(dir: string, options: SavePretrainedOptions = {}): Promise<void> {
    await super.save_pretrained(dir, options);
    // HF names the class after the family (Qwen2ForCausalLM loads qwen2 checkpoints).
    const name = {
      llama: "LlamaForCausalLM",
      qwen2: "Qwen2ForCausalLM",
      mistral: "MistralForCausalLM",
    };
    this.config.architectures = [name[this.config.model_type]];
    await this.config.save_pretrained(dir);
  }

  /** HF name: recompute each decoder layer in backward, keeping only layer inputs. */
  gradient_checkpointing_enable(): void {
    this.model.gradient_checkpointing = true;
  }

  /** Turns gradient checkpointing off. */
  gradient_checkpointing_disable(): void {
    this.model.gradient_checkpointing = false;
  }

  /** Whether gradient checkpointing is on (HF `is_gradient_checkpointing`). */
  get is_gradient_checkpointing(): boolean {
    return this.model.gradient_checkpointing;
  }
}

/**
 * HF `ForCausalLMLoss`: labels are shifted left by one (the last position of each row gets −100)
 * and the mean cross-entropy over non-ignored positions is taken, without copying the logits.
 * Shapes: logits [B, S, V], labels i32 [B, S] → scalar.
 */
export function causalLMLoss(logits: Tensor, labels: Tensor): Tensor {
  const shifted = shiftLabels(labels);
  const loss = crossEntropy(logits, shifted);
  shifted.dispose();
  return loss;
}

/** HF's label shift: i32 [B, S] → [B, S], row r = labels[r, 1:] followed by −100. */
function shiftLabels(labels: Tensor): Tensor {
  const [batch, seq] = labels.shape;
  const tail = Tensor.from(labels.device, new Int32Array(batch).fill(-100), [batch, 1], {
    dtype: "i32",
  });
  const next = slice(labels, 1, 1, seq);
  const shifted = concat([next, tail], 1);
  tail.dispose();
  next.dispose();
  return shifted;
}
