// Gradient-norm clipping (torch.nn.utils.clip_grad_norm_, norm_type 2) without a readback:
//   sumsq_partial: Σ g² per chunk of one gradient into a shared partials buffer,
//   clip_coef:     total_norm = √(Σ partials), coef = min(1, max_norm / (total_norm + 1e-6)),
//   scale_grad:    g ← g · coef, in place.
// All sums run in a fixed order (no atomics), so results are deterministic.
// Buffers a, b, c are bound at 1, 2, 3; each entry point documents what they hold.

struct Params {
  n: u32,         // sumsq_partial, scale_grad: elements of g; clip_coef: number of partials
  chunk: u32,     // sumsq_partial: elements per workgroup
  offset: u32,    // sumsq_partial: first partial slot written
  pad0: u32,
  max_norm: f32,  // clip_coef
  pad1: f32,
  pad2: f32,
  pad3: f32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> acc: array<f32, 256>;

fn tree_sum(lid: u32) {
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (lid < k) { acc[lid] += acc[lid + k]; }
    workgroupBarrier();
  }
}

// a = g, b = partials: b[offset + w] = Σ g² over chunk w = [w·chunk, (w+1)·chunk).
@compute @workgroup_size(WG)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let start = wid.x * p.chunk;
  let end = min(start + p.chunk, p.n);
  var s = 0.0;
  for (var i = start + lid.x; i < end; i += WG) {
    let v = a[i];
    s += v * v;
  }
  acc[lid.x] = s;
  tree_sum(lid.x);
  if (lid.x == 0u) { b[p.offset + wid.x] = acc[0]; }
}

// a = partials [n], b = total norm [1], c = clip coefficient [1]; one workgroup.
@compute @workgroup_size(WG)
fn clip_coef(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var i = lid.x; i < p.n; i += WG) { s += a[i]; }
  acc[lid.x] = s;
  tree_sum(lid.x);
  if (lid.x == 0u) {
    let total = sqrt(acc[0]);
    b[0] = total;
    c[0] = min(1.0, p.max_norm / (total + 1e-6));
  }
}

// a = g (in place), b = coefficient [1]: a[i] ← a[i] · b[0].
@compute @workgroup_size(WG)
fn scale_grad(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  a[i] = a[i] * b[0];
}
