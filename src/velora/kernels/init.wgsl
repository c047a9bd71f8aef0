// VeLoRA v initialisation (official implementation's init_embed_): v = normalize(mean of all
// sub-tokens), or for EMA v = normalize(decay·v + (1 − decay)·mean). A mean whose norm is below
// eps is replaced by a seeded random unit vector and `flag` is 1 (else 0), so the host can warn once.

@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> fallback: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> flag: array<u32>;

var<workgroup> sq: array<f32, 256>;

@compute @workgroup_size(256)
fn init_v(@builtin(local_invocation_id) lid: vec3u) {
  let count = f32(p.tokens) * f32(p.groups);
  var acc = 0.0;
  for (var m = lid.x; m < p.sub; m += 256u) {
    var s = 0.0;
    for (var c = 0u; c < p.chunk; c++) { s += partial[c * p.sub + m]; }
    var e = s / count;
    if (p.mode == 1u) { e = p.decay * v[m] + (1.0 - p.decay) * e; }
    v[m] = e;
    acc += e * e;
  }
  sq[lid.x] = acc;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (lid.x < k) { sq[lid.x] += sq[lid.x + k]; }
    workgroupBarrier();
  }
  let norm = sqrt(sq[0]);
  let use_fallback = norm < p.eps;
  for (var m = lid.x; m < p.sub; m += 256u) {
    v[m] = select(v[m] / norm, fallback[m], use_fallback);
  }
  if (lid.x == 0u) { flag[0] = select(0u, 1u, use_fallback); }
}

// mean_partial: x [T, D] → partial [chunks, M]
fn sub_value(t: u32, g: u32, m: u32) -> f32 {
  let c = g * p.sub + m;
  if (c >= p.dim) { return 0.0; }
  return xin[t * p.dim + c];
}

@group(0) @binding(1) var<storage, read> xin: array<f32>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;

// partial[c, m] = Σ over tokens t of chunk c, Σ_g s[t, g, m].
@compute @workgroup_size(64)
fn mean_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t0 = wid.x * p.chunk;
  let t1 = min(t0 + p.chunk, p.tokens);
  for (var m = lid.x; m < p.sub; m += 64u) {
    var acc = 0.0;
    for (var t = t0; t < t1; t++) {
      for (var g = 0u; g < p.groups; g++) { acc += sub_value(t, g, m); }
    }
    outp[wid.x * p.sub + m] = acc;
  }
}
