// Factored VeLoRA weight gradient (never materialises x̂ = z ⊗ v):
//   P[o, g] = Σ_t dY[t, o] · z[t, g]            ([out × G], T·out·G multiply-adds)
//   dW[o, g·M + m] = scale · P[o, g] · v[m]      (for g·M + m < D)
// which is M× fewer FLOPs than dYᵀ·x̂. Each workgroup computes a 16 × 16 tile of P through
// workgroup memory, then expands its tile into dW.

struct Params {
  tokens: u32,
  dim: u32,
  groups: u32,
  sub: u32,
  outf: u32,
  chunk: u32,
  mode: u32,
  _pad: u32,
  scale: f32,
  decay: f32,
  eps: f32,
  _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<u32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

const TILE = 16u;
var<workgroup> tile_dy: array<array<f32, 16>, 16>; // [t][o]
var<workgroup> tile_z: array<array<f32, 16>, 16>;  // [t][g]

fn z_at(t: u32, g: u32) -> f32 {
  let i = t * p.groups + g;
  let pair = unpack2x16float(z[i / 2u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}

@compute @workgroup_size(16, 16)
fn weight_grad(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o = wid.x * TILE + lid.x;
  let g = wid.y * TILE + lid.y;
  var acc = 0.0;
  for (var t0 = 0u; t0 < p.tokens; t0 += TILE) {
    // Thread (x, y) loads dY[t0 + y, o-tile + x] and z[t0 + y, g-tile + x].
    let t = t0 + lid.y;
    let lo = wid.x * TILE + lid.x;
    let lg = wid.y * TILE + lid.x;
    tile_dy[lid.y][lid.x] = select(0.0, dy[t * p.outf + lo], t < p.tokens && lo < p.outf);
    tile_z[lid.y][lid.x] = select(0.0, z_at(t, lg), t < p.tokens && lg < p.groups);
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) { acc += tile_dy[k][lid.x] * tile_z[k][lid.y]; }
    workgroupBarrier();
  }
  if (o >= p.outf || g >= p.groups) { return; }
  let pv = p.scale * acc;
  let c0 = g * p.sub;
  let c1 = min(c0 + p.sub, p.dim);
  for (var c = c0; c < c1; c++) { dw[o * p.dim + c] = pv * v[c - c0]; }
}
