// Elementwise kernels over flat f32 arrays. One pipeline per OP (an override), so each compiled
// variant is a straight-line loop body.
// Index layout: a 2-D grid of 1-D workgroups, so more than 65535 × WG elements can be covered.

struct Params {
  n: u32,      // elements of the output
  period: u32, // elements of `b` (b is broadcast over leading dims: b[i % period])
  alpha: f32,
  beta: f32,
}

override OP: u32 = 0u;
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// OP: 0 add, 1 sub, 2 mul, 3 alpha*a + beta*b
@compute @workgroup_size(WG)
fn binary(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  let x = a[i];
  let y = b[i % p.period];
  var r: f32;
  switch OP {
    case 0u: { r = x + y; }
    case 1u: { r = x - y; }
    case 2u: { r = x * y; }
    default: { r = p.alpha * x + p.beta * y; }
  }
  out[i] = r;
}

// In-place: out[i] = out[i] + alpha * a[i]  (gradient accumulation). `b` is unused but bound.
@compute @workgroup_size(WG)
fn accumulate(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = out[i] + p.alpha * a[i];
  touch(i);
}

// OP: 0 copy, 1 scale (alpha*a + beta), 2 fill (alpha), 3 tanh, 4 exact-erf GELU, 5 relu
@compute @workgroup_size(WG)
fn unary(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  var r: f32;
  switch OP {
    case 0u: { r = a[i]; }
    case 1u: { r = p.alpha * a[i] + p.beta; }
    case 2u: { r = p.alpha; }
    case 3u: { r = tanh(a[i]); }
    case 4u: { r = gelu(a[i]); }
    default: { r = max(a[i], 0.0); }
  }
  out[i] = r;
  touch(i);
}

// Backward of unary activations: out = dY * f'(x), with a = x and b = dY.
// OP: 3 tanh, 4 GELU, 5 relu
@compute @workgroup_size(WG)
fn unary_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = b[i] * activation_grad(a[i]);
}

// f'(x) of the activation OP (3 tanh, 4 GELU, 5 relu); also used by the packed-f16 variant of
// unary_backward (kernels/activation_half.wgsl).
fn activation_grad(x: f32) -> f32 {
  switch OP {
    case 3u: { let t = tanh(x); return 1.0 - t * t; }
    case 4u: { return gelu_grad(x); }
    default: { return select(0.0, 1.0, x > 0.0); }
  }
}

// Keeps binding `b` statically used (pipelines use layout "auto") without changing any result.
fn touch(i: u32) {
  if (p.n == 0xffffffffu) { out[i] = b[0]; }
}

// erf with |error| < 1.2e-7: Numerical Recipes' erfc Chebyshev fit (Press et al., §6.2).
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let y = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return select(y - 1.0, 1.0 - y, x >= 0.0);
}

// HF "gelu" (modeling_bert ACT2FN): x * 0.5 * (1 + erf(x / sqrt(2))).
fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
}

fn gelu_grad(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_approx(x * 0.7071067811865476));
  let pdf = 0.3989422804014327 * exp(-0.5 * x * x);
  return cdf + x * pdf;
}
