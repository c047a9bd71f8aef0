import { record } from "../autograd/node.ts";
import { isGradEnabled } from "../autograd/grad_mode.ts";
import { isHalfSaving } from "../autograd/half_saves.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/flash_attention.wgsl" with { type: "text" };
import { checkArgs, seedKey, threshold } from "./dropout.ts";
import { toHalf } from "./half.ts";
import { checkBinding } from "../runtime/launch.ts";
import { defineKernel, type Kernel } from "../runtime/kernel.ts";

/** Options of {@linkcode flashAttention}. */
export interface FlashAttentionOptions {
  /** Additive f32 mask [B, Sk] (0 or very negative, e.g. HF's finfo.min), broadcast over heads and queries. */
  mask?: Tensor | null;
  /** Causal mask, bottom-right aligned: query i sees key j iff j + Sq ≤ i + Sk. Default false. */
  causal?: boolean;
  /** Softmax scale. Default 1/√head_dim. */
  scale?: number;
  /** Dropout probability on the attention probabilities. Default 0. */
  dropout?: number;
  /** Dropout seed (a non-negative safe integer); required when dropout > 0. */
  seed?: number;
  /**
   * Layout of q, k, v: "bshd" = [B, S, H, head_dim] (a linear layer's output viewed per head, HF's
   * flash-attention layout; default) or "bhsd" = [B, H, S, head_dim]. The output is always bshd.
   */
  layout?: "bshd" | "bhsd";
  /**
   * Save q, k, v for backward as packed f16 (half the bytes). Default: on inside `halfSaves`, off
   * outside.
   */
  saveHalf?: boolean;
}

/** Largest head_dim the kernels hold in registers. */
const MAX_HEAD_DIM = 256;
const ROWS_PER_WORKGROUP = 32;

/** @internal The kernel source for `nc` vec4 chunks per head and the saved dtype (see the WGSL header). */
export function flashSource(nc: number, half: boolean): string {
  const out = [`const NC: u32 = ${nc}u;`];
  for (const line of src.split("\n")) {
    if (line.endsWith("// @f16") && !half) continue;
    if (line.endsWith("// @f32") && half) continue;
    if (line.includes("$c") && !line.trimStart().startsWith("//")) {
      for (let c = 0; c < nc; c++) out.push(line.replaceAll("$c", String(c)));
    } else out.push(line);
  }
  return out.join("\n");
}

interface Geometry {
  B: number;
  Hq: number;
  Hkv: number;
  Sq: number;
  Sk: number;
  hd: number;
  /** Strides of q in vec4s: batch, seq, head. */
  qs: [number, number, number];
  ks: [number, number, number];
}

function geometry(q: Tensor, k: Tensor, v: Tensor, layout: "bshd" | "bhsd"): Geometry {
  const name = (t: Tensor) => `[${t.shape}]`;
  for (const [n, t] of [["q", q], ["k", k], ["v", v]] as const) {
    if (t.dtype !== "f32" || t.ndim !== 4) {
      throw new Error(
        `flashAttention: ${n} must be a 4-D f32 tensor (${layout}), got ${t.dtype} ${name(t)}`,
      );
    }
  }
  const [B, a, b, hd] = q.shape;
  const [Sq, Hq] = layout === "bshd" ? [a, b] : [b, a];
  const [kb, ka, kbb, khd] = k.shape;
  const [Sk, Hkv] = layout === "bshd" ? [ka, kbb] : [kbb, ka];
  if (k.shape.join() !== v.shape.join() || kb !== B || khd !== hd) {
    throw new Error(
      `flashAttention: q ${name(q)}, k ${name(k)} and v ${
        name(v)
      } do not fit (${layout}: same batch and head_dim, k and v the same shape)`,
    );
  }
  if (Hkv === 0 || Hq % Hkv !== 0) {
    throw new Error(
      `flashAttention: ${Hq} query heads are not a multiple of ${Hkv} key/value heads`,
    );
  }
  if (hd % 4 !== 0 || hd === 0 || hd > MAX_HEAD_DIM) {
    throw new Error(
      `flashAttention: head_dim ${hd} must be a multiple of 4 in [4, ${MAX_HEAD_DIM}] (use the eager attention)`,
    );
  }
  if (Sk === 0 && Sq > 0) throw new Error(`flashAttention: no keys (k ${name(k)})`);
  const nc = hd / 4;
  const strides = (S: number, H: number): [number, number, number] =>
    layout === "bshd" ? [S * H * nc, H * nc, nc] : [H * S * nc, nc, S * nc];
  return { B, Hq, Hkv, Sq, Sk, hd, qs: strides(Sq, Hq), ks: strides(Sk, Hkv) };
}

function grid(total: number): [number, number] {
  const x = Math.max(1, Math.min(total, 65535));
  return [x, Math.ceil(total / x)];
}

const UNIFORMS = [
  "B",
  "Hq",
  "Hkv",
  "Sq",
  "Sk",
  "group",
  "gridX",
  "tiles",
  "qsB",
  "qsS",
  "qsH",
  "ksB",
  "ksS",
  "ksH",
  "has_mask",
  "threshold",
  "key",
  "scale",
  "dscale",
] as const;
type Uniform = typeof UNIFORMS[number];
type Entry = "forward" | "backward_q" | "backward_kv";
type FlashKernel = Kernel<string, Uniform, "CAUSAL" | "DROPOUT">;

const BINDINGS: Record<Entry, string[]> = {
  forward: ["Qf", "Kf", "Vf", "mask", "O", "stats"],
  backward_q: ["Qs", "Ks", "Vs", "mask", "dO", "qstats", "dQ"],
  backward_kv: ["Qs", "Ks", "Vs", "mask", "dO", "kstats", "dK", "dV"],
};

// A memo of immutable kernel declarations, one per (head_dim, saved dtype, entry point): the
// source is generated per head_dim, and parsing it again on every call would cost each step.
const kernels = new Map<string, FlashKernel>();

function kernel(hd: number, half: boolean, entry: Entry): FlashKernel {
  const id = `${hd}:${half}:${entry}`;
  let k = kernels.get(id);
  if (!k) {
    k = defineKernel({
      name: `flash_attention.wgsl[head_dim ${hd}, ${half ? "f16" : "f32"} saved]`,
      code: flashSource(hd / 4, half),
      entryPoint: entry,
      bindings: BINDINGS[entry],
      uniforms: UNIFORMS,
      constants: ["CAUSAL", "DROPOUT"],
    }) as FlashKernel;
    kernels.set(id, k);
  }
  return k;
}

function uniforms(
  g: Geometry,
  gridX: number,
  tiles: number,
  hasMask: boolean,
  scale: number,
  p: number,
  seed: number,
): Record<Uniform, number> {
  return {
    B: g.B,
    Hq: g.Hq,
    Hkv: g.Hkv,
    Sq: g.Sq,
    Sk: g.Sk,
    group: g.Hq / g.Hkv,
    gridX,
    tiles,
    qsB: g.qs[0],
    qsS: g.qs[1],
    qsH: g.qs[2],
    ksB: g.ks[0],
    ksS: g.ks[1],
    ksH: g.ks[2],
    has_mask: hasMask ? 1 : 0,
    threshold: p > 0 ? threshold(p) : 0,
    key: p > 0 ? seedKey(seed) : 0,
    scale,
    dscale: p > 0 && p < 1 ? 1 / (1 - p) : p >= 1 ? 0 : 1,
  };
}

/**
 * Attention without the [B, H, Sq, Sk] probabilities: FlashAttention-2 (Dao 2023, arXiv
 * 2307.08691), forward by an online softmax over 4-key steps, backward recomputing the
 * probabilities from the saved row statistics. Computes, per batch b and query head h (key/value
 * head h / (Hq / Hkv): grouped-query attention),
 * `O = dropout(softmax(scale · Q·Kᵀ + mask [+ causal]), p, seed) · V`, as HF's eager attention
 * (`softmax(QKᵀ/√d + extended mask)`, dropout on the probabilities, then ·V).
 *
 * Shapes (layout "bshd"): q [B, Sq, Hq, d], k and v [B, Sk, Hkv, d] → O [B, Sq, Hq, d]
 * (layout "bhsd": q [B, Hq, Sq, d], k, v [B, Hkv, Sk, d]; O is still [B, Sq, Hq, d], so
 * `reshape(O, [B, Sq, Hq·d])` is free). d must be a multiple of 4, at most 256.
 *
 * Masks: `mask` [B, Sk] is added to the scaled scores and the sum clamped at -3.4028e38, exactly as
 * `softmax` does (a row whose keys all carry finfo.min is uniform, as in PyTorch); keys hidden by
 * `causal` get probability exactly 0. Dropout uses the mask of `dropout(probs, p, seed)` on the
 * eager probabilities [B, Hq, Sq, Sk] (same seed, same kept entries).
 *
 * Saves (when recording): q, k, v (packed f16 copies with `saveHalf`), f32 row statistics
 * [B, Hq, Sq, 4] (running max, log-sum; backward writes D into the third) and the mask:
 * O(B·S·H·d) in all, never O(S²), and not the output (which the next layer usually keeps anyway).
 * Backward: dQ, dK, dV by FlashAttention-2's Algorithm 2, P recomputed per 4×4 block, with
 * D_i = rowsum(dO ⊙ O)_i accumulated as Σ_j P_ij dP_ij during the dQ pass instead of read from a
 * saved O; the mask gets no gradient.
 *
 * @throws {Error} naming the tensors and shapes when they do not fit, when d is not a multiple of
 * 4 or exceeds 256, when the mask is not f32 [B, Sk], or for a bad dropout p or seed.
 */
export function flashAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: FlashAttentionOptions = {},
): Tensor {
  const layout = options.layout ?? "bshd";
  const g = geometry(q, k, v, layout);
  const mask = options.mask ?? null;
  if (mask && (mask.dtype !== "f32" || mask.shape.join() !== `${g.B},${g.Sk}`)) {
    throw new Error(
      `flashAttention: mask must be f32 [${g.B}, ${g.Sk}], got ${mask.dtype} [${mask.shape}]`,
    );
  }
  const p = options.dropout ?? 0;
  const seed = options.seed ?? 0;
  if (p > 0 && options.seed === undefined) {
    throw new Error("flashAttention: dropout > 0 needs a seed");
  }
  checkArgs(p, seed);
  const scale = options.scale ?? 1 / Math.sqrt(g.hd);
  const causal = options.causal ?? false;
  const device = q.device;
  const out = Tensor.empty(device, [g.B, g.Sq, g.Hq, g.hd]);
  const rows = g.B * g.Hq * g.Sq;
  if (rows === 0) return out;
  const stats = Tensor.empty(device, [g.B, g.Hq, g.Sq, 4]);
  for (const [n, t] of [["q", q], ["k", k], ["v", v]] as const) {
    checkBinding(device, t.numel * 4, `flashAttention ${n} [${t.shape}]`);
  }
  const grads = isGradEnabled() && [q, k, v].some((t) => t.requiresGrad);
  const half = (options.saveHalf ?? isHalfSaving()) && grads;
  const tilesQ = Math.ceil(g.Sq / ROWS_PER_WORKGROUP);
  const [gx, gy] = grid(tilesQ * g.B * g.Hq);
  const constants = { CAUSAL: causal, DROPOUT: p > 0 };
  // The forward reads f32 inputs: one kernel whatever the saved dtype.
  kernel(g.hd, false, "forward").launch(device, {
    bindings: { Qf: q, Kf: k, Vf: v, mask, O: out, stats },
    uniforms: uniforms(g, gx, tilesQ, !!mask, scale, p, seed),
    constants,
    workgroups: [gx, gy],
  });
  const result = record(out, [q, k, v, mask], "FlashAttentionBackward", (save) => {
    const keep = (t: Tensor) => {
      if (!half) return save(t);
      const h = toHalf(t);
      const s = save(h);
      h.dispose();
      return s;
    };
    const sq = keep(q);
    const sk = keep(k);
    const sv = keep(v);
    const ss = save(stats);
    // The mask [B, Sk] is tiny; callers free theirs after the forward.
    const sm = mask ? save(mask) : null;
    return (grad) => {
      const dq = Tensor.empty(device, q.shape);
      const dk = Tensor.empty(device, k.shape);
      const dv = Tensor.empty(device, v.shape);
      const [qx, qy] = grid(tilesQ * g.B * g.Hq);
      const saved = {
        Qs: sq.tensor,
        Ks: sk.tensor,
        Vs: sv.tensor,
        mask: sm?.tensor ?? null,
        dO: grad,
      };
      kernel(g.hd, half, "backward_q").launch(device, {
        bindings: { ...saved, qstats: ss.tensor, dQ: dq },
        uniforms: uniforms(g, qx, tilesQ, !!mask, scale, p, seed),
        constants,
        workgroups: [qx, qy],
      });
      const tilesK = Math.ceil(g.Sk / ROWS_PER_WORKGROUP);
      const [kx, ky] = grid(tilesK * g.B * g.Hkv);
      kernel(g.hd, half, "backward_kv").launch(device, {
        bindings: { ...saved, kstats: ss.tensor, dK: dk, dV: dv },
        uniforms: uniforms(g, kx, tilesK, !!mask, scale, p, seed),
        constants,
        workgroups: [kx, ky],
      });
      return [
        q.requiresGrad ? dq : (dq.dispose(), null),
        k.requiresGrad ? dk : (dk.dispose(), null),
        v.requiresGrad ? dv : (dv.dispose(), null),
        null,
      ];
    };
  });
  // The saved references (if any) keep these alive for backward.
  stats.dispose();
  return result;
}
