// Factored VeLoRA weight gradient (never materialises x̂ = z ⊗ v):
//   P[o, g] = Σ_t dY[t, o] · z[t, g]            ([out × G]: T·out·G multiply-adds, run by the
//                                               tuned matmul reading z's packed halves directly)
//   dW[o, g·M + m] = scale · P[o, g] · v[m]      (for g·M + m < D)
// This file holds the expansion, one invocation per four consecutive dW elements so that stores
// are contiguous.

// expand: P [out, G], v [M] → dW [out, D]
@group(0) @binding(1) var<storage, read> pmat: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(256)
fn expand(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let i0 = 4u * grid_index(wid, lid, nwg, 256u);
  let n = p.outf * p.dim;
  for (var i = i0; i < min(i0 + 4u, n); i++) {
    let o = i / p.dim;
    let c = i % p.dim;
    let g = c / p.sub;
    dw[i] = p.scale * pmat[o * p.groups + g] * v[c - g * p.sub];
  }
}
