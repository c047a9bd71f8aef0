// Backward of the unary activations (tanh, GELU, relu) reading the saved input x as packed f16
// (an f16 saved activation) instead of an f32 copy of it: out[i] = dY[i] · f'(x[i]), b = dY.
// Appended to elementwise.wgsl (Params p, b, out, OP, WG, activation_grad) and a storage part
// from src/ops/activation_half.ts that declares binding 1 `xh` and ldX(i) (element i as f32):
// packed u32 words read with unpack2x16float, or `array<f16>` under `enable f16;`.

@compute @workgroup_size(WG)
fn unary_backward_half(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                       @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = b[i] * activation_grad(ldX(i));
}
