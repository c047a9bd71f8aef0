// Workgroup tree reductions shared by the row kernels (layernorm, softmax, loss). This file is
// prepended to those kernels by their ops; the including kernel defines WG (threads per
// workgroup, a power of two). Every invocation gets the result; the trailing barrier lets the
// next reduction reuse `red` safely.

var<workgroup> red: array<vec2f, WG>;

// Σ over the workgroup of both lanes of `v`.
fn reduce_sum2(lid: u32, v: vec2f) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// max over the workgroup of `v`.
fn reduce_max(lid: u32, v: f32) -> f32 {
  red[lid] = vec2f(v, 0.0);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid].x = max(red[lid].x, red[lid + s].x); }
    workgroupBarrier();
  }
  let r = red[0].x;
  workgroupBarrier();
  return r;
}

// Σ over the workgroup of `v`.
fn reduce_sum(lid: u32, v: f32) -> f32 {
  return reduce_sum2(lid, vec2f(v, 0.0)).x;
}
