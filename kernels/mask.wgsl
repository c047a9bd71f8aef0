// HF BERT's extended attention mask (modeling_utils.get_extended_attention_mask):
// additive[i] = (1 − mask[i]) · torch.finfo(float32).min, from an i32 0/1 mask.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mask: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn additive_mask(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  out[i] = (1.0 - f32(mask[i])) * -3.4028234663852886e38;
}

// f32 copy of an i32 tensor (e.g. regression labels given as integers).
@compute @workgroup_size(256)
fn to_float(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  out[i] = f32(mask[i]);
}
