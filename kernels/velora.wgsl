// VeLoRA (Miles et al., NeurIPS 2024, §3): rank-1 sub-token projection of a linear layer's input.
// A token x[t, :] of size D is zero-padded to G·M and split into G sub-tokens of size M:
//   s[t, g, m] = x[t, g·M + m]  (0 where g·M + m ≥ D).
// Forward keeps only z[t, g] = s[t, g, :]·v (packed f16); backward rebuilds x̂ = z ⊗ v implicitly.

struct Params {
  tokens: u32,  // T
  dim: u32,     // D
  groups: u32,  // G
  sub: u32,     // M
  outf: u32,    // output features (weight_grad)
  chunk: u32,   // tokens per partial-sum chunk (mean_partial) / number of chunks (init_v)
  mode: u32,    // init_v: 0 = v ← mean, 1 = v ← decay·v + (1 − decay)·mean
  _pad: u32,
  scale: f32,   // weight_grad: multiplies dW (velora_scale)
  decay: f32,   // init_v: EMA decay
  eps: f32,     // init_v: below this norm, fall back to the seeded random unit vector
  _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

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
