// LayerNorm over the last axis, PyTorch / HF semantics: biased variance, eps inside the sqrt.
// x is [rows, C] row-major. `forward` and `backward_input` run one workgroup per row (a 2-D grid of
// workgroups for > 65535 rows) with a shared-memory tree reduction; C of any size (strided loops).
// `backward_params` sums dweight/dbias partials over fixed row chunks (reduced afterwards by
// reduce.wgsl `sum_rows`): fixed order, no atomics, so results are deterministic.

// Params, WG and the uniform p come from norm_params.wgsl.

// forward: x, weight, bias → y, stats ([rows, 2]: mean, rstd)
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

// backward_input: x, weight, stats, dy → dx. x is binding 1 `bx`, read as ldBX(i), and in
// backward_params binding 1 `px`, read as ldPX(i): both declared by src/ops/layernorm.ts in front
// of this file (f32, or an f16 saved input read as halves without an f32 copy).
@group(0) @binding(2) var<storage, read> bweight: array<f32>;
@group(0) @binding(3) var<storage, read> bstats: array<f32>;
@group(0) @binding(4) var<storage, read> bdy: array<f32>;
@group(0) @binding(5) var<storage, read_write> bdx: array<f32>;

// backward_params: x, stats, dy → partial dweight, partial dbias ([chunks, C] each)
@group(0) @binding(2) var<storage, read> pstats: array<f32>;
@group(0) @binding(3) var<storage, read> pdy: array<f32>;
@group(0) @binding(4) var<storage, read_write> pdw: array<f32>;
@group(0) @binding(5) var<storage, read_write> pdb: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = workgroup_index(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  let n = f32(p.cols);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) { s += x[base + c]; }
  let mean = reduce_sum2(lid, vec2f(s, 0.0)).x / n;
  // Two-pass variance (no cancellation for rows with a large mean).
  var q = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let d = x[base + c] - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(reduce_sum2(lid, vec2f(q, 0.0)).x / n + p.eps);
  for (var c = lid; c < p.cols; c += WG) {
    y[base + c] = (x[base + c] - mean) * rstd * weight[c] + bias[c];
  }
  if (lid == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}

// dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)), with x̂ = (x − mean) · rstd and ĝ = dy · weight.
@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let row = workgroup_index(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  let mean = bstats[2u * row];
  let rstd = bstats[2u * row + 1u];
  var acc = vec2f(0.0);
  for (var c = lid; c < p.cols; c += WG) {
    let g = bdy[base + c] * bweight[c];
    let xh = (ldBX(base + c) - mean) * rstd;
    acc += vec2f(g, g * xh);
  }
  let sums = reduce_sum2(lid, acc) / f32(p.cols);
  for (var c = lid; c < p.cols; c += WG) {
    let g = bdy[base + c] * bweight[c];
    let xh = (ldBX(base + c) - mean) * rstd;
    bdx[base + c] = rstd * (g - sums.x - xh * sums.y);
  }
}

// Workgroup (cx, k): columns [64·cx, 64·cx + 64), row-chunk k (chunk_rows, norm_params.wgsl).
// pdw[k, c] = Σ dy · x̂, pdb[k, c] = Σ dy.
@compute @workgroup_size(64)
fn backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = wid.x * 64u + lid.x;
  if (c >= p.cols) { return; }
  let rows = chunk_rows(wid.y);
  var dw = 0.0;
  var db = 0.0;
  for (var r = rows.x; r < rows.y; r++) {
    let g = pdy[r * p.cols + c];
    let xh = (ldPX(r * p.cols + c) - pstats[2u * r]) * pstats[2u * r + 1u];
    dw += g * xh;
    db += g;
  }
  pdw[wid.y * p.cols + c] = dw;
  pdb[wid.y * p.cols + c] = db;
}
