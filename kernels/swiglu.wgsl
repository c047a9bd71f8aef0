// SwiGLU, HF LlamaMLP's act_fn(gate_proj(x)) * up_proj(x) with act_fn = SiLU (x·σ(x)):
//   forward:  out = silu(gate) · up
//   backward: dgate = dy · up · σ(g)·(1 + g·(1 − σ(g))),  dup = dy · silu(gate)
// Flat f32 arrays of n elements; one invocation per element, 2-D grid of 256-wide workgroups.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// forward: gate, up → out
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// backward: gate, up, dy → dgate, dup
// bgate (binding 1) and bup (binding 2), read as ldG(i) / ldU(i), are declared by
// src/ops/swiglu.ts in front of this file: f32, or f16 saves read as halves (no f32 copies).
@group(0) @binding(3) var<storage, read> bdy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;

// σ(x) = 1 / (1 + e^−x): for x → −∞ the exp overflows to +inf and σ is 0, as it should be.
fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  let g = gate[i];
  out[i] = g * sigmoid(g) * up[i];
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  let g = ldG(i);
  let s = sigmoid(g);
  let dy = bdy[i];
  dgate[i] = dy * ldU(i) * s * (1.0 + g * (1.0 - s));
  dup[i] = dy * g * s;
}
