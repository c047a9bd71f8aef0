// VeLoRA (Miles et al., NeurIPS 2024, §3): rank-1 sub-token projection of a linear layer's input.
// A token x[t, :] of size D is zero-padded to G·M and split into G sub-tokens of size M:
//   s[t, g, m] = x[t, g·M + m]  (0 where g·M + m ≥ D).
// Forward keeps only z[t, g] = s[t, g, :]·v (packed f16); backward rebuilds x̂ = z ⊗ v implicitly.
// This prelude (the shared parameters) is prepended to every src/velora/kernels/*.wgsl kernel by
// src/velora/projection.ts.

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
