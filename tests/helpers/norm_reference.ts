/**
 * f64 LayerNorm (PyTorch / HF: biased variance, eps inside the sqrt) or RMSNorm (HF
 * `LlamaRMSNorm`) forward and backward over rows of `cols`. RMSNorm is LayerNorm without the
 * centring and the bias: with mean = 0 the same formulas give it, so one reference serves both.
 * Backward: x̂ = (x − mean)·rstd, ĝ = dy·w, dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) (the mean(ĝ)
 * term only when centring), dw = Σ_rows dy·x̂, db = Σ_rows dy.
 */
export function normReference(
  kind: "layernorm" | "rmsnorm",
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  dy: Float32Array,
  cols: number,
  eps: number,
): { y: Float64Array; dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const center = kind === "layernorm";
  const rows = x.length / cols;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(cols);
  const db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mean = 0;
    if (center) {
      for (let c = 0; c < cols; c++) mean += x[o + c];
      mean /= cols;
    }
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[o + c] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / cols + eps);
    let mg = 0;
    let mgx = 0;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mean) * rstd;
      y[o + c] = xh * w[c] + (b ? b[c] : 0);
      const g = dy[o + c] * w[c];
      if (center) mg += g / cols;
      mgx += g * xh / cols;
      dw[c] += dy[o + c] * xh;
      db[c] += dy[o + c];
    }
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mean) * rstd;
      dx[o + c] = rstd * (dy[o + c] * w[c] - mg - xh * mgx);
    }
  }
  return { y, dx, dw, db };
}
