// Inverted dropout with a counter-based keep-mask: element i is kept when
// pcg(pcg(i) ^ key) ≥ threshold (threshold = round(p · 2³²), key = a hash of the seed, computed
// on the CPU by src/ops/dropout.ts, which mirrors this hash exactly). The mask is never stored:
// backward runs this same kernel on dy with the same key, so it applies the identical mask.
// The key changes on every call, so it is a per-launch value (launch_words), not a uniform: a
// uniform is cached by value and a new seed each step would be a new buffer each step.

struct Params {
  n: u32,
  threshold: u32, // keep when hash ≥ threshold
  scale: f32,     // 1 / (1 − p) (0 when p = 1)
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> launch_words: array<u32>; // [0] = key, the seed's hash

// PCG-RXS-M-XS hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", JCGT 2020).
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  let keep = pcg(pcg(i) ^ launch_words[0]) >= p.threshold;
  y[i] = select(0.0, x[i] * p.scale, keep);
}
