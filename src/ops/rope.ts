import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/rope.wgsl" with { type: "text" };
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";

const S = {
  bindings: ["src", "pos", "table", "dst"],
  uniforms: ["n", "seq", "heads", "dim", "npos"],
} as const;
const KERNELS = defineKernels("rope.wgsl", GRID_WGSL + src, { forward: S, backward: S });

/** HF `rope_scaling` of type "llama3" (Llama 3.1's long-context frequency rescaling). */
export interface Llama3RopeScaling {
  /** "llama3" (HF also accepts the older key `type`). */
  rope_type: "llama3";
  /** Divides the low frequencies. */
  factor: number;
  /** Wavelengths above original_max_position_embeddings / low_freq_factor are divided by factor. */
  low_freq_factor: number;
  /** Wavelengths below original_max_position_embeddings / high_freq_factor are kept. */
  high_freq_factor: number;
  /** The context length the model was pre-trained with. */
  original_max_position_embeddings: number;
}

/**
 * The rotary inverse frequencies θ_i = base^(−2i/dim), i < dim/2, as HF
 * `_compute_default_rope_parameters` computes them in f32; with `scaling` (rope_type "llama3") as
 * HF `_compute_llama3_parameters`: low frequencies divided by `factor`, medium ones smoothly
 * interpolated. Returns f32 values in a Float64Array (so the table is built from the same numbers).
 * @throws {Error} for an odd or non-positive dim, a non-positive base, or a bad scaling object.
 */
export function ropeInvFreq(
  dim: number,
  base: number,
  scaling: Llama3RopeScaling | null = null,
): Float64Array {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) {
    throw new Error(`rope: head_dim must be a positive even integer, got ${dim}`);
  }
  if (!(base > 0)) throw new Error(`rope: rope_theta must be positive, got ${base}`);
  const f = Math.fround;
  const inv = Float64Array.from(
    { length: dim / 2 },
    (_, i) => f(1 / f(base ** f((2 * i) / dim))),
  );
  if (!scaling) return inv;
  const { factor, low_freq_factor: lo, high_freq_factor: hi } = scaling;
  const old = scaling.original_max_position_embeddings;
  for (const [k, v] of Object.entries({ factor, low_freq_factor: lo, high_freq_factor: hi, old })) {
    if (!(typeof v === "number" && v > 0)) {
      throw new Error(`rope_scaling (llama3): ${k} must be a positive number, got ${v}`);
    }
  }
  if (hi <= lo) {
    throw new Error(
      `rope_scaling (llama3): high_freq_factor ${hi} must exceed low_freq_factor ${lo}`,
    );
  }
  const lowWavelen = old / lo;
  const highWavelen = old / hi;
  return inv.map((x) => {
    const wavelen = (2 * Math.PI) / x;
    const scaled = wavelen > lowWavelen ? x / factor : x;
    if (wavelen < highWavelen || wavelen > lowWavelen) return f(scaled);
    const smooth = (old / wavelen - lo) / (hi - lo);
    return f((1 - smooth) * scaled / factor + smooth * scaled);
  });
}

/**
 * The cos/sin table of {@linkcode rope} for positions 0..positions−1: row p holds cos(p·θ_i) for
 * i < half, then sin(p·θ_i), with the angle rounded to f32 as HF computes it (`inv_freq @
 * position_ids` in f32) and the cosine taken in f64. Shape [positions, dim] (dim = 2·invFreq.length).
 */
export function ropeTable(invFreq: Float64Array, positions: number): Float32Array {
  const half = invFreq.length;
  const out = new Float32Array(positions * 2 * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(p * invFreq[i]);
      out[p * 2 * half + i] = Math.cos(a);
      out[p * 2 * half + half + i] = Math.sin(a);
    }
  }
  return out;
}

/**
 * Rotary position embedding fused with the attention head split, HF Llama's `apply_rotary_pos_emb`
 * (rotate-half convention; Su et al. 2021) after `view(B, S, H, D).transpose(1, 2)`:
 * `out[b, h, s] = x[b, s, h] · cos(pos) + rotate_half(x[b, s, h]) · sin(pos)`.
 *
 * Shapes: x f32 [B, S, H·D] (a q or k projection), positions i32 [B, S], table f32 [P, D] (from
 * {@linkcode ropeTable}; positions ≥ P read row P − 1, so size it to cover them) → [B, H, S, D].
 *
 * Saves (when recording): positions (i32 [B, S]) and the table (not an activation unless it is a
 * workspace buffer). Backward: the transposed rotation (sin → −sin) fused with the inverse permute.
 *
 * @throws {Error} for non-f32 x or table, non-i32 positions, or shapes that do not fit (the
 * message names them).
 */
export function rope(x: Tensor, positions: Tensor, table: Tensor, heads: number): Tensor {
  if (x.dtype !== "f32" || x.ndim !== 3) {
    throw new Error(`rope: x must be f32 [B, S, H·D], got ${x.dtype} [${x.shape}]`);
  }
  const [batch, seq, width] = x.shape;
  const dim = width / heads;
  if (!Number.isInteger(dim) || dim % 2 !== 0) {
    throw new Error(`rope: x [${x.shape}] does not split into ${heads} heads of even size`);
  }
  if (positions.dtype !== "i32" || positions.shape.join() !== `${batch},${seq}`) {
    throw new Error(
      `rope: positions must be i32 [${batch}, ${seq}], got ${positions.dtype} [${positions.shape}]`,
    );
  }
  if (table.dtype !== "f32" || table.ndim !== 2 || table.shape[1] !== dim || table.shape[0] < 1) {
    throw new Error(`rope: table must be f32 [P, ${dim}], got ${table.dtype} [${table.shape}]`);
  }
  const device = x.device;
  const run = (
    entry: "forward" | "backward",
    from: Tensor,
    pos: Tensor,
    tab: Tensor,
    to: Tensor,
  ) => {
    if (to.numel === 0) return to;
    KERNELS[entry].launch(device, {
      bindings: { src: from, pos, table: tab, dst: to },
      uniforms: { n: to.numel, seq, heads, dim, npos: table.shape[0] },
      workgroups: grid1d(to.numel),
    });
    return to;
  };
  const out = run("forward", x, positions, table, Tensor.empty(device, [batch, heads, seq, dim]));
  return record(out, [x], "RopeBackward", (save) => {
    const sp = save(positions);
    const st = save(table);
    return (g) => [run("backward", g, sp.tensor, st.tensor, Tensor.empty(device, x.shape))];
  });
}
