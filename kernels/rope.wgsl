// Rotary position embedding (Su et al. 2021, "RoFormer"), HF Llama's rotate-half convention:
//   out = x · cos + rotate_half(x) · sin,  rotate_half(x) = [−x[half:], x[:half]],
// fused with the head split: x [B, S, H·D] (a q/k projection output) → out [B, H, S, D].
// cos/sin come from a table [P, D] per position p: cos(p·θ_i) at [p·D + i], sin at [p·D + half + i]
// (i < half), computed by the op on the CPU. Positions are per token, i32 [B, S], clamped to P − 1.
// `backward` applies the transposed rotation (sin → −sin) and the inverse permute:
// g [B, H, S, D] → dx [B, S, H·D]. One invocation per element, 2-D grid of workgroups.

struct Params {
  n: u32,     // elements
  seq: u32,   // S
  heads: u32, // H
  dim: u32,   // D (even)
  npos: u32,  // P, rows of the table
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<i32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

fn table_row(token: u32) -> u32 {
  return u32(clamp(pos[token], 0, i32(p.npos) - 1)) * p.dim;
}

// Feature d of the src row at `base` (token `token`) rotated: x·cos + r·sin with r the
// rotate-half partner, −x[d + D/2] for d < D/2 and x[d − D/2] above (sign −1, forward), or the
// transpose's +x[d + D/2] / −x[d − D/2] (sign +1, backward).
fn rotate(token: u32, base: u32, d: u32, sign: f32) -> f32 {
  let half = p.dim / 2u;
  let t = table_row(token);
  let k = d % half;
  var rot: f32;
  if (d < half) { rot = sign * src[base + d + half]; } else { rot = -sign * src[base + d - half]; }
  return src[base + d] * table[t + k] + rot * table[t + half + k];
}

// dst index = ((b·H + h)·S + s)·D + d, reading src ((b·S + s)·H + h)·D + d.
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  let d = i % p.dim;
  let s = (i / p.dim) % p.seq;
  let bh = i / (p.dim * p.seq);
  let h = bh % p.heads;
  let b = bh / p.heads;
  let token = b * p.seq + s;
  dst[i] = rotate(token, (token * p.heads + h) * p.dim, d, -1.0);
}

// dst index = ((b·S + s)·H + h)·D + d, reading src ((b·H + h)·S + s)·D + d.
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  let d = i % p.dim;
  let h = (i / p.dim) % p.heads;
  let token = i / (p.dim * p.heads);
  let s = token % p.seq;
  let b = token / p.seq;
  dst[i] = rotate(token, ((b * p.heads + h) * p.seq + s) * p.dim, d, 1.0);
}
