/**
 * Instruction tuning of a causal LM with LoRA adapters (the VeLoRA paper's Alpaca setting):
 * Alpaca rows (`{instruction, input, output}`) or chat rows (`{messages: [{role, content}]}`)
 * become prompt + answer token ids whose prompt positions are masked (label -100), so the loss is
 * the answer's only (as Stanford Alpaca's `train.py` and TRL's completion-only collator).
 *
 * @module
 */

import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { PreTrainedTokenizer } from "../data/auto_tokenizer.ts";
import type { ChatMessage } from "../data/chat_template.ts";
import { AutoTokenizer } from "../data/auto_tokenizer.ts";
import { mulberry32 } from "../util/rng.ts";
import { LlamaForCausalLM } from "../models/llama/modeling_llama.ts";
import { AdamW } from "../optim/adamw.ts";
import { getLinearScheduleWithWarmup, LambdaLR } from "../optim/schedule.ts";
import { get_peft_model, LoraConfig, type PeftModel } from "../peft/mod.ts";
import { trainStep } from "./step.ts";

/** One training example: the prompt (masked) and the answer (learned). */
export interface InstructionExample {
  /** Text the model conditions on (its tokens get label -100). */
  prompt: string;
  /** Text the model learns to produce. */
  answer: string;
  /** Chat rows: the conversation (rendered with the tokenizer's chat template). */
  messages?: ChatMessage[];
}

/** Stanford Alpaca's prompt templates (with and without an input). */
export const ALPACA_PROMPT = {
  input: "Below is an instruction that describes a task, paired with an input that provides " +
    "further context. Write a response that appropriately completes the request.\n\n" +
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
  noInput: "Below is an instruction that describes a task. Write a response that appropriately " +
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n",
} as const;

/** The Alpaca prompt of an instruction (and optional input). */
export function alpacaPrompt(instruction: string, input = ""): string {
  const t = input.trim() ? ALPACA_PROMPT.input : ALPACA_PROMPT.noInput;
  return t.replace("{instruction}", instruction).replace("{input}", input);
}

/**
 * Reads a JSONL file of Alpaca rows or chat rows (a chat row's last message is the assistant's
 * answer). @throws {Error} naming the file and line of a malformed row.
 */
export async function loadInstructionData(path: string): Promise<InstructionExample[]> {
  const text = await Deno.readTextFile(path);
  const out: InstructionExample[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const at = `${path}:${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(`${at}: not valid JSON: ${(e as Error).message}`);
    }
    if (Array.isArray(row.messages)) {
      const msgs = row.messages as ChatMessage[];
      const last = msgs[msgs.length - 1];
      if (
        msgs.length < 2 || !msgs.every((m) =>
          typeof m?.role === "string" &&
          typeof m?.content === "string"
        ) || last.role !== "assistant"
      ) {
        throw new Error(
          `${at}: "messages" must be ≥ 2 {role, content} entries ending with the assistant's`,
        );
      }
      out.push({ prompt: "", answer: last.content, messages: msgs });
    } else if (typeof row.instruction === "string" && typeof row.output === "string") {
      const input = typeof row.input === "string" ? row.input : "";
      out.push({ prompt: alpacaPrompt(row.instruction, input), answer: row.output });
    } else {
      throw new Error(
        `${at}: expected {"instruction", "input"?, "output"} (Alpaca) or {"messages": [...]}`,
      );
    }
  });
  if (!out.length) throw new Error(`${path}: no rows`);
  return out;
}

/** Token ids and labels of one example: prompt labels -100, answer (and eos) labels = ids. */
export interface EncodedExample {
  /** Token ids (prompt then answer then eos), at most max_length. */
  ids: number[];
  /** -100 on the prompt, the id elsewhere. */
  labels: number[];
}

/** Fallback chat rendering when the tokenizer has no chat template. */
function plainChat(messages: readonly ChatMessage[], generationPrompt: boolean): string {
  const body = messages.map((m) => `### ${m.role}:\n${m.content}\n\n`).join("");
  return generationPrompt ? `${body}### assistant:\n` : body;
}

/** The prompt text of an example (chat: every message but the answer, with a generation prompt). */
export function promptText(tok: PreTrainedTokenizer, ex: InstructionExample): string {
  if (!ex.messages) return ex.prompt;
  const context = ex.messages.slice(0, -1);
  return tok.chat_template
    ? tok.apply_chat_template(context, { add_generation_prompt: true, tokenize: false }) as string
    : plainChat(context, true);
}

/**
 * Encodes `ex`: [bos] + prompt + answer + [eos], truncated to `maxLength`, labels -100 on bos
 * and the prompt. @throws {Error} when the prompt alone fills `maxLength` (nothing to learn).
 */
export function encodeExample(
  tok: PreTrainedTokenizer,
  ex: InstructionExample,
  maxLength: number,
): EncodedExample {
  const bos = tok.bos_token_id;
  const eos = tok.eos_token_id;
  const prompt = [
    ...(bos !== null && bos !== eos ? [bos] : []),
    ...tok.encode(promptText(tok, ex), { add_special_tokens: false }),
  ];
  const answer = [
    ...tok.encode(ex.answer, { add_special_tokens: false }),
    ...(eos !== null ? [eos] : []),
  ];
  if (prompt.length >= maxLength) {
    throw new Error(
      `a prompt has ${prompt.length} tokens, at least --max-length ${maxLength}: no answer token ` +
        `would be trained; raise --max-length`,
    );
  }
  const ids = [...prompt, ...answer].slice(0, maxLength);
  const labels = ids.map((id, i) => (i < prompt.length ? -100 : id));
  return { ids, labels };
}

/** A right-padded batch on the GPU (pad labels -100, attention mask 0). */
export function collate(
  device: Device,
  rows: readonly EncodedExample[],
  padId: number,
): { input_ids: Tensor; attention_mask: Tensor; labels: Tensor; dispose(): void } {
  const seq = Math.max(...rows.map((r) => r.ids.length));
  const n = rows.length * seq;
  const ids = new Int32Array(n).fill(padId);
  const mask = new Int32Array(n);
  const labels = new Int32Array(n).fill(-100);
  rows.forEach((r, b) => {
    r.ids.forEach((id, s) => {
      ids[b * seq + s] = id;
      mask[b * seq + s] = 1;
      labels[b * seq + s] = r.labels[s];
    });
  });
  const shape = [rows.length, seq];
  const t = {
    input_ids: Tensor.from(device, ids, shape, { dtype: "i32" }),
    attention_mask: Tensor.from(device, mask, shape, { dtype: "i32" }),
    labels: Tensor.from(device, labels, shape, { dtype: "i32" }),
    dispose() {
      t.input_ids.dispose();
      t.attention_mask.dispose();
      t.labels.dispose();
    },
  };
  return t;
}

/** Options of {@linkcode runInstructionTuning} (the CLI flags of `examples/finetune_llama.ts`). */
export interface InstructOptions {
  /** Causal LM folder or hub id (config.json, weights, tokenizer). */
  model: string;
  /** JSONL file. */
  data: string;
  /** "lora" or "lora-velora". */
  mode: "lora" | "lora-velora";
  /** LoRA rank, alpha, dropout, targets (comma-separated or "all-linear"). */
  loraR: number;
  /** LoRA alpha. */
  loraAlpha: number;
  /** LoRA dropout. */
  loraDropout: number;
  /** LoRA targets. */
  loraTargetModules: string;
  /** VeLoRA sub-tokens per token (lora-velora). */
  numGroups: number;
  /** Passes over the data. */
  epochs: number;
  /** Optimizer steps cap (-1: none). */
  maxSteps: number;
  /** Rows per step. */
  batchSize: number;
  /** Tokens per row. */
  maxLength: number;
  /** Peak learning rate (linear warm-up 3%, linear decay). */
  lr: number;
  /** Data order, adapter init and dropout seed. */
  seed: number;
  /** Adapter folder written at the end. */
  outputDir: string;
  /** New tokens of the sample answer. */
  maxNewTokens: number;
}

/** What {@linkcode runInstructionTuning} returns (also written as metrics.json by the example). */
export interface InstructResult {
  /** Mode. */
  mode: string;
  /** Optimizer steps. */
  steps: number;
  /** Mean loss of the first and the last step (answer tokens only). */
  first_loss: number;
  /** Mean loss of the last step. */
  final_loss: number;
  /** Trainable / all parameters. */
  trainable_params: number;
  /** All parameters. */
  all_params: number;
  /** Highest live bytes and activation bytes. */
  peak_bytes: number;
  /** Highest activation bytes after a forward. */
  activation_bytes: number;
  /** The first example's prompt and the tuned model's greedy answer. */
  sample: { prompt: string; answer: string };
  /** Training seconds. */
  seconds: number;
}

/**
 * Tunes LoRA (or LoRA + VeLoRA) adapters of a causal LM on instruction data and saves the
 * adapter folder (PEFT files + tokenizer) into `o.outputDir`.
 * @throws {Error} for unreadable data or model, or a prompt longer than `maxLength`.
 */
export async function runInstructionTuning(
  device: Device,
  o: InstructOptions,
  log: (m: string) => void = console.log,
): Promise<InstructResult> {
  const tokenizer = await AutoTokenizer.from_pretrained(o.model);
  const rows = await loadInstructionData(o.data);
  const encoded = rows.map((r) => encodeExample(tokenizer, r, o.maxLength));
  const base = await LlamaForCausalLM.from_pretrained(o.model, { device });
  const spec = o.loraTargetModules.trim();
  const peft: PeftModel = get_peft_model(
    base,
    new LoraConfig({
      r: o.loraR,
      lora_alpha: o.loraAlpha,
      lora_dropout: o.loraDropout,
      target_modules: spec === "all-linear" ? spec : spec.split(",").map((s) => s.trim()),
      task_type: "CAUSAL_LM",
      base_model_name_or_path: o.model,
      seed: o.seed,
      velora_config: o.mode === "lora-velora" ? { num_groups: o.numGroups } : null,
    }),
  );
  log(peft.print_trainable_parameters(() => {}));
  const named = [...peft.named_parameters()].filter(([, p]) => p.requiresGrad);
  const params = named.map(([, p]) => p);
  const optimizer = new AdamW(named, { lr: o.lr, weight_decay: 0 });
  const perEpoch = Math.ceil(encoded.length / o.batchSize);
  const total = o.maxSteps > 0 ? o.maxSteps : Math.ceil(perEpoch * o.epochs);
  const scheduler = new LambdaLR(
    optimizer,
    getLinearScheduleWithWarmup(Math.round(total * 0.03), total),
  );
  const padId = tokenizer.pad_token_id ?? tokenizer.eos_token_id ?? 0;
  const rng = mulberry32(o.seed);
  let order: number[] = [];
  const losses: number[] = [];
  let activation = 0;
  device.memory.resetPeak();
  const t0 = performance.now();
  peft.train();
  try {
    for (let step = 0; step < total; step++) {
      if (order.length < o.batchSize) {
        const perm = encoded.map((_, i) => i);
        for (let i = perm.length - 1; i > 0; i--) {
          const j = Math.floor(rng() * (i + 1));
          [perm[i], perm[j]] = [perm[j], perm[i]];
        }
        order = [...order, ...perm];
      }
      const batch = collate(device, order.splice(0, o.batchSize).map((i) => encoded[i]), padId);
      const r = await trainStep({ model: peft, optimizer, params, max_grad_norm: 1 }, [batch]);
      activation = Math.max(activation, r.activationBytes);
      scheduler.step();
      r.gradNorm.dispose();
      if (step === 0 || step === total - 1 || (step + 1) % 10 === 0) {
        const loss = await r.losses[0].item();
        losses.push(loss);
        log(`step ${step + 1}/${total}: loss ${loss.toFixed(4)}`);
      }
      r.losses.forEach((l) => l.dispose());
    }
    const seconds = (performance.now() - t0) / 1000;
    await peft.save_pretrained(o.outputDir);
    await tokenizer.save_pretrained(o.outputDir);
    // A sample answer from the tuned model (adapters active, greedy).
    peft.eval();
    const prompt = promptText(tokenizer, rows[0]);
    const first = encoded[0];
    const promptIds = first.ids.slice(0, first.labels.findIndex((l) => l !== -100));
    const eos = tokenizer.eos_token_id;
    const out = await (peft.get_base_model() as LlamaForCausalLM).generate([promptIds], {
      max_new_tokens: o.maxNewTokens,
      do_sample: false,
      ...(eos !== null ? { eos_token_id: eos } : {}),
    });
    const answer = tokenizer.decode(out[0].slice(promptIds.length), { skip_special_tokens: true });
    const [trainable, all] = peft.get_nb_trainable_parameters();
    return {
      mode: o.mode,
      steps: total,
      first_loss: losses[0],
      final_loss: losses[losses.length - 1],
      trainable_params: trainable,
      all_params: all,
      peak_bytes: device.memory.peakBytes,
      activation_bytes: activation,
      sample: { prompt, answer },
      seconds,
    };
  } finally {
    optimizer.dispose();
    peft.dispose();
  }
}
