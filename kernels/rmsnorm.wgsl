// RMSNorm over the last axis, HF LlamaRMSNorm semantics (computed in f32):
//   y = x · rsqrt(mean(x²) + eps) · weight.
// x is [rows, C] row-major. `forward` and `backward_input` run one workgroup per row (a 2-D grid of
// workgroups for > 65535 rows) with a shared-memory tree reduction (row_reduce.wgsl, prepended by
// the op); C of any size (strided loops). `backward_params` sums dweight partials over fixed row
// chunks (reduced afterwards by reduce.wgsl `sum_rows`): fixed order, deterministic.

// Params, WG and the uniform p come from norm_params.wgsl.

// forward: x, weight → y, rstd [rows]
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;

// backward_input: x, weight, rstd, dy → dx. x is binding 1 `bx`, read as ldBX(i), and in
// backward_params binding 1 `px`, read as ldPX(i): both declared by src/ops/rmsnorm.ts in front
// of this file (f32, or an f16 saved input read as halves without an f32 copy).
@group(0) @binding(2) var<storage, read> bweight: array<f32>;
@group(0) @binding(3) var<storage, read> brstd: array<f32>;
@group(0) @binding(4) var<storage, read> bdy: array<f32>;
@group(0) @binding(5) var<storage, read_write> bdx: array<f32>;

// backward_params: x, rstd, dy → partial dweight [chunks, C]
@group(0) @binding(2) var<storage, read> prstd: array<f32>;
@group(0) @binding(3) var<storage, read> pdy: array<f32>;
@group(0) @binding(4) var<storage, read_write> pdw: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = workgroup_index(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  var q = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let v = x[base + c];
    q += v * v;
  }
  let r = inverseSqrt(reduce_sum(lid, q) / f32(p.cols) + p.eps);
  for (var c = lid; c < p.cols; c += WG) {
    // HF order: (x · rstd) first, then · weight.
    y[base + c] = weight[c] * (x[base + c] * r);
  }
  if (lid == 0u) { rstd[row] = r; }
}

// dx = rstd · (ĝ − x̂ · mean(ĝ · x̂)), with x̂ = x · rstd and ĝ = dy · weight.
@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let row = workgroup_index(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  let r = brstd[row];
  var acc = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    acc += bdy[base + c] * bweight[c] * ldBX(base + c) * r;
  }
  let m = reduce_sum(lid, acc) / f32(p.cols);
  for (var c = lid; c < p.cols; c += WG) {
    let xh = ldBX(base + c) * r;
    bdx[base + c] = r * (bdy[base + c] * bweight[c] - xh * m);
  }
}

// Workgroup (cx, k): columns [64·cx, 64·cx + 64), row-chunk k (chunk_rows, norm_params.wgsl).
@compute @workgroup_size(64)
fn backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = wid.x * 64u + lid.x;
  if (c >= p.cols) { return; }
  let rows = chunk_rows(wid.y);
  var dw = 0.0;
  for (var r = rows.x; r < rows.y; r++) {
    dw += pdy[r * p.cols + c] * ldPX(r * p.cols + c) * prstd[r];
  }
  pdw[wid.y * p.cols + c] = dw;
}
