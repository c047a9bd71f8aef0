// z[t, g] = s[t, g, :]·v for every sub-token, stored as packed f16 (two values per u32 word,
// pack2x16float), so the saved activation is 2·T·G bytes instead of 4·T·D.

@group(0) @binding(1) var<storage, read> xin: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<u32>;

fn project_one(i: u32) -> f32 {
  if (i >= p.tokens * p.groups) { return 0.0; }
  let t = i / p.groups;
  let g = i % p.groups;
  let c0 = g * p.sub;
  let c1 = min(c0 + p.sub, p.dim);
  var acc = 0.0;
  for (var c = c0; c < c1; c++) { acc += xin[t * p.dim + c] * v[c - c0]; }
  return acc;
}

@compute @workgroup_size(256)
fn project(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let w = grid_index(wid, lid, nwg, 256u);
  if (w * 2u >= p.tokens * p.groups) { return; }
  z[w] = pack2x16float(vec2f(project_one(2u * w), project_one(2u * w + 1u)));
}
