// Softmax over the last axis of x [rows, S], of z = scale · x + mask (+ an optional causal mask,
// see Params), where the additive mask
// [M, S] is broadcast over rows: row r uses mask row r / rows_per_mask (HF BERT's extended
// attention mask [B, 1, 1, Sk] over scores [B, H, Sq, Sk]: rows_per_mask = H · Sq).
// One workgroup per row (2-D grid of workgroups for > 65535 rows), shared-memory reductions.
//
// Masks hold 0 or a very negative value (torch.finfo(float32).min, or -inf). z is clamped to
// ≥ -FLT_MAX, so an overflowing sum (x + finfo.min → -inf) or a -inf mask stays finite: the row
// max is finite and a fully masked row becomes uniform (what PyTorch gives for finfo.min masks)
// instead of NaN. exp arguments are clamped at -104 (exp(-104) underflows to 0).

struct Params {
  rows: u32,
  cols: u32,
  rows_per_mask: u32, // 0 = no mask (the mask binding then holds a dummy buffer)
  scale: f32,
  // Causal masking (decoders): 0 = off; else row r is query (r % queries) + offset, and keys
  // c > that index get -FLT_MAX (HF's causal mask; offset = keys − queries with a KV cache).
  queries: u32,
  offset: u32,
}

override WG: u32 = 128u; // threads per row: a power of two, chosen from S by the op

@group(0) @binding(0) var<uniform> p: Params;

// forward: x, mask → y
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// backward: y, dy → dx
@group(0) @binding(1) var<storage, read> by: array<f32>;
@group(0) @binding(2) var<storage, read> bdy: array<f32>;
@group(0) @binding(3) var<storage, read_write> bdx: array<f32>;

fn neg_max() -> f32 {
  return bitcast<f32>(0xff7fffffu); // -FLT_MAX = torch.finfo(torch.float32).min
}

fn z_at(i: u32, m: u32) -> f32 {
  if (p.queries != 0u && i % p.cols > (i / p.cols) % p.queries + p.offset) { return neg_max(); }
  var v = p.scale * x[i];
  if (p.rows_per_mask != 0u) { v += mask[m]; }
  return max(v, neg_max());
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = workgroup_index(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  let mbase = select(0u, (row / max(p.rows_per_mask, 1u)) * p.cols, p.rows_per_mask != 0u);
  var m = neg_max();
  for (var c = lid; c < p.cols; c += WG) { m = max(m, z_at(base + c, mbase + c)); }
  let rmax = reduce_max(lid, m);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    s += exp(max(z_at(base + c, mbase + c) - rmax, -104.0));
  }
  let inv = 1.0 / reduce_sum(lid, s); // the sum is ≥ 1: the max term is exp(0)
  for (var c = lid; c < p.cols; c += WG) {
    y[base + c] = exp(max(z_at(base + c, mbase + c) - rmax, -104.0)) * inv;
  }
}

// dx = scale · y ⊙ (dy − Σ dy ⊙ y)
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let row = workgroup_index(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) { s += bdy[base + c] * by[base + c]; }
  let dsum = reduce_sum(lid, s);
  for (var c = lid; c < p.cols; c += WG) {
    let yv = by[base + c];
    bdx[base + c] = p.scale * yv * (bdy[base + c] - dsum);
  }
}
