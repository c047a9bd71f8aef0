/**
 * f64 eager attention as HF's `eager_attention_forward` with `repeat_kv` (grouped-query heads):
 * q [b, h, sq, d], k/v [b, kvh, sk, d], keep [b, sk] 0/1 (padding), an optional causal mask with
 * the KV-cache offset (query i sees keys ≤ i + sk − sq) → [b, sq, h, d] (the seam's layout).
 * Masked scores are float32's min, as HF's, so a fully masked row is uniform rather than NaN.
 */
export function attentionReference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  keep: Int32Array,
  [b, h, kvh, sq, sk, d]: readonly number[],
  { causal, scale = 1 / Math.sqrt(d) }: { causal: boolean; scale?: number },
): Float64Array {
  const out = new Float64Array(b * sq * h * d);
  const min = -3.4028234663852886e38;
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const kh = Math.floor(hi / (h / kvh));
      for (let i = 0; i < sq; i++) {
        const z: number[] = [];
        for (let j = 0; j < sk; j++) {
          let dot = 0;
          for (let c = 0; c < d; c++) {
            dot += q[((bi * h + hi) * sq + i) * d + c] * k[((bi * kvh + kh) * sk + j) * d + c];
          }
          const masked = keep[bi * sk + j] === 0 || (causal && j > i + sk - sq);
          z.push(masked ? min : dot * scale);
        }
        const m = Math.max(...z);
        const e = z.map((x) => Math.exp(x - m));
        const s = e.reduce((a, x) => a + x, 0);
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j < sk; j++) acc += e[j] / s * v[((bi * kvh + kh) * sk + j) * d + c];
          out[((bi * sq + i) * h + hi) * d + c] = acc;
        }
      }
    }
  }
  return out;
}
