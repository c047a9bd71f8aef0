// VeLoRA v initialisation (official implementation's init_embed_): v = normalize(mean of all
// sub-tokens), or for EMA v = normalize(decay·v + (1 − decay)·mean). A mean whose norm is below
// eps is replaced by a seeded random unit vector and `flag` is 1 (else 0), so the host can warn once.

struct Params {
  tokens: u32,
  dim: u32,
  groups: u32,
  sub: u32,
  outf: u32,
  chunk: u32,   // number of partial-sum rows
  mode: u32,
  _pad: u32,
  scale: f32,
  decay: f32,
  eps: f32,
  _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
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
