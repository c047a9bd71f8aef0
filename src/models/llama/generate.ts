import { noGrad } from "../../autograd/grad_mode.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { free, tidy } from "../../tensor/scope.ts";
import { selectIndex } from "../../ops/shape.ts";
import { zeros } from "../../ops/basic.ts";
import { mulberry32 } from "../../util/rng.ts";
import type { LayerCache } from "./layers.ts";
import type { LlamaForCausalLM } from "./modeling_llama.ts";

/** Options of `generate` (HF `GenerationConfig` names). */
export interface GenerateOptions {
  /** 1 for real tokens, 0 for (left) padding, [batch, seq]; default all ones. */
  attention_mask?: Tensor | number[][] | null;
  /** New tokens per row at most. Default 20. */
  max_new_tokens?: number;
  /** Sample instead of greedy argmax. Default false. */
  do_sample?: boolean;
  /** Logits are divided by it before sampling (> 0). Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = all). Default 0 (HF's default 50 applies in HF only). */
  top_k?: number;
  /** Keep the smallest set of tokens whose probability reaches top_p. Default 1. */
  top_p?: number;
  /** Stop a row at this token (or any of these); default the config's eos_token_id. */
  eos_token_id?: number | number[] | null;
  /** Written after a row stopped, while others continue; default pad_token_id ?? eos. */
  pad_token_id?: number | null;
  /** Seed of the sampler (deterministic given the seed). Default 0. */
  seed?: number;
  /** Called once per step with the token chosen for every row (streaming). */
  callback?: (tokens: number[], step: number) => void;
}

async function toRows(x: Tensor | number[][], what: string): Promise<number[][]> {
  if (Array.isArray(x)) return x.map((r) => [...r]);
  if (x.dtype !== "i32" || x.ndim !== 2) {
    throw new Error(`generate: ${what} must be i32 [batch, seq], got ${x.dtype} [${x.shape}]`);
  }
  const data = await x.toArray();
  const [b, s] = x.shape;
  return Array.from({ length: b }, (_, i) => Array.from(data.subarray(i * s, (i + 1) * s)));
}

/**
 * HF's logits processing for sampling: temperature, then top-k, then top-p (nucleus; the most
 * likely token is always kept), then a draw from the renormalised distribution with `rand()`.
 * Greedy (do_sample false) is the argmax (first index on ties, as torch.argmax).
 */
export function pickToken(
  logits: Float32Array,
  options: { do_sample: boolean; temperature: number; top_k: number; top_p: number },
  rand: () => number,
): number {
  if (!options.do_sample) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  let keep = options.top_k > 0 ? Math.min(options.top_k, order.length) : order.length;
  const max = logits[order[0]];
  const w = order.slice(0, keep).map((i) => Math.exp((logits[i] - max) / options.temperature));
  let total = w.reduce((a, b) => a + b, 0);
  if (options.top_p < 1) {
    let acc = 0;
    let n = 0;
    while (n < keep) {
      acc += w[n] / total;
      n++;
      if (acc >= options.top_p) break;
    }
    keep = n;
    total = w.slice(0, keep).reduce((a, b) => a + b, 0);
  }
  let r = rand() * total;
  for (let i = 0; i < keep; i++) {
    r -= w[i];
    if (r < 0) return order[i];
  }
  return order[keep - 1];
}

/**
 * Autoregressive generation with a key/value cache allocated once per call ([B, Hkv, maxLen,
 * head_dim] per layer, maxLen = prompt + max_new_tokens): one prefill forward over the prompt,
 * then one single-token forward per step that writes its K/V into the cache and attends over it.
 * Left-padded batches follow HF: positions are cumsum(attention_mask) − 1 and padded keys are
 * masked. Rows stop at eos (the eos token is kept); returns every row's prompt (as given,
 * padding included) followed by its new tokens.
 * @throws {Error} for bad shapes or options (the message names them).
 */
export async function generate(
  model: LlamaForCausalLM,
  input_ids: Tensor | number[][],
  options: GenerateOptions = {},
): Promise<number[][]> {
  const config = model.config;
  const device = model.model.embed_tokens.weight.device;
  const prompts = await toRows(input_ids, "input_ids");
  const batch = prompts.length;
  const plen = prompts[0]?.length ?? 0;
  if (!batch || !plen || prompts.some((r) => r.length !== plen)) {
    throw new Error(
      "generate: input_ids must be a non-empty [batch, seq] batch of equal-length rows " +
        "(left-pad shorter prompts and pass attention_mask)",
    );
  }
  const maskRows = options.attention_mask
    ? await toRows(options.attention_mask, "attention_mask")
    : prompts.map((r) => r.map(() => 1));
  if (maskRows.length !== batch || maskRows.some((r) => r.length !== plen)) {
    throw new Error(`generate: attention_mask must be [${batch}, ${plen}] like input_ids`);
  }
  const maxNew = options.max_new_tokens ?? 20;
  const temperature = options.temperature ?? 1;
  const top_k = options.top_k ?? 0;
  const top_p = options.top_p ?? 1;
  if (!Number.isInteger(maxNew) || maxNew < 0) {
    throw new Error(`generate: max_new_tokens must be a non-negative integer, got ${maxNew}`);
  }
  if (!(temperature > 0)) throw new Error(`generate: temperature must be > 0, got ${temperature}`);
  if (!(top_p > 0 && top_p <= 1)) {
    throw new Error(`generate: top_p must be in (0, 1], got ${top_p}`);
  }
  if (!Number.isInteger(top_k) || top_k < 0) {
    throw new Error(`generate: top_k must be a non-negative integer, got ${top_k}`);
  }
  const eosOpt = options.eos_token_id === undefined ? config.eos_token_ids : options.eos_token_id;
  const eos = new Set(eosOpt === null ? [] : Array.isArray(eosOpt) ? eosOpt : [eosOpt]);
  const pad = options.pad_token_id ?? config.pad_token_id ?? [...eos][0] ?? 0;
  const pick = { do_sample: options.do_sample ?? false, temperature, top_k, top_p };
  const rand = mulberry32(options.seed ?? 0);
  const out = prompts.map((r) => [...r]);
  if (maxNew === 0) return out;

  const maxLen = plen + maxNew;
  const kv = config.num_key_value_heads;
  const hd = config.head_dim;
  const caches: LayerCache[] = model.model.layers.map(() => ({
    k: zeros(device, [batch, kv, maxLen, hd]).keep(),
    v: zeros(device, [batch, kv, maxLen, hd]).keep(),
  }));
  const mask = maskRows.map((r) => [...r]);
  const lengths = mask.map((r) => r.reduce((a, b) => a + b, 0));
  const done = new Array<boolean>(batch).fill(false);
  const min = -3.4028234663852886e38;
  const wasTraining = model.training;
  model.eval();
  try {
    let ids = prompts;
    for (let step = 0; step < maxNew; step++) {
      const offset = step === 0 ? 0 : plen + step - 1;
      const seq = ids[0].length;
      // HF generate: position = number of real tokens before this one (padding gets 1).
      const pos = new Int32Array(batch * seq);
      for (let b = 0; b < batch; b++) {
        let c = step === 0 ? 0 : lengths[b] - 1;
        for (let s = 0; s < seq; s++) {
          const real = mask[b][offset + s] === 1;
          pos[b * seq + s] = real ? c : 1;
          if (real) c++;
        }
      }
      const keys = step === 0 ? plen : maxLen;
      const add = new Float32Array(batch * keys);
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < keys; j++) {
          add[b * keys + j] = j < mask[b].length && mask[b][j] === 1 ? 0 : min;
        }
      }
      const logits = noGrad(() =>
        tidy(() => {
          const idT = Tensor.from(device, Int32Array.from(ids.flat()), [batch, seq], {
            dtype: "i32",
          });
          const posT = Tensor.from(device, pos, [batch, seq], { dtype: "i32" });
          const maskT = Tensor.from(device, add, [batch, keys]);
          const h = model.model.forward({ input_ids: idT }, {
            caches,
            offset,
            positions: posT,
            mask: maskT,
          });
          const last = selectIndex(h, 1, seq - 1);
          return model.lmHead(last).keep();
        })
      );
      const data = (await logits.toArray()) as Float32Array;
      logits.dispose();
      const vocab = data.length / batch;
      const chosen: number[] = [];
      for (let b = 0; b < batch; b++) {
        const t = done[b] ? pad : pickToken(data.subarray(b * vocab, (b + 1) * vocab), pick, rand);
        chosen.push(t);
        if (!done[b]) {
          out[b].push(t);
          if (eos.has(t)) done[b] = true;
        }
        mask[b].push(1);
        lengths[b]++;
      }
      options.callback?.(chosen, step);
      if (done.every(Boolean)) break;
      ids = chosen.map((t) => [t]);
    }
  } finally {
    for (const c of caches) free(c.k, c.v);
    model.train(wasTraining);
  }
  return out;
}
