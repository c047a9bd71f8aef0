// The Trainer's divergence monitor and on-GPU loss sum, read back once per logging interval.
// Buffer `flags` (2 words): flags[0] = sticky flags (1: non-finite gradient norm, 2: non-finite
// parameter after the update, 4: non-finite loss), flags[1] = Σ of the losses since the last
// reset (f32 bits). Non-finite is tested on the bits (exponent all ones), because WGSL lets a
// compiler assume floats are finite, so `x != x` or `isinf`-style comparisons may be folded away.
//   check_finite: flags |= bit if any of data[0..n) is Inf or NaN (grid-stride over a 2-D grid)
//   add_loss:     flags[1] += data[0]; flags |= bit if data[0] is not finite (one thread)
//   reset_loss:   flags[1] = 0 (one thread)

struct Params {
  n: u32,
  bit: u32,
  pad0: u32,
  pad1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> data: array<f32>;
@group(0) @binding(2) var<storage, read_write> flags: array<atomic<u32>>;

fn nonfinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

@compute @workgroup_size(WG)
fn check_finite(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  if (nonfinite(data[i])) { atomicOr(&flags[0], p.bit); }
}

@compute @workgroup_size(1)
fn add_loss() {
  let loss = data[0];
  if (nonfinite(loss)) { atomicOr(&flags[0], p.bit); }
  let sum = bitcast<f32>(atomicLoad(&flags[1])) + loss;
  atomicStore(&flags[1], bitcast<u32>(sum));
}

@compute @workgroup_size(1)
fn reset_loss() {
  atomicStore(&flags[1], 0u);
}
