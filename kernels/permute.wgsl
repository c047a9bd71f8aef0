// Layout copies, dtype-agnostic (32-bit words: f32 or i32). One invocation per written element,
// a 2-D grid of 1-D workgroups.
//  permute:  out (up to 4-D, padded in front with 1s) [i0, i1, i2, i3] = x at
//            Σ ik · stride_k, where stride_k is x's stride of the axis that becomes out axis k.
//  narrow:   out [O, small, I] = x [O, big, I] at [o, start + j, i]        (slice / select)
//  pad:      out [O, big, I]   = x [O, small, I] at [o, s − start, i] inside the window, else 0
//            (backward of narrow: writes every element, no separate zero fill)
//  place:    out [O, big, I] at [o, start + j, i] = x [O, small, I]      (one part of a concat)

struct Params {
  n: u32,      // invocations (elements written; for place: elements of x)
  inner: u32,  // narrow / pad / place: I
  big: u32,    // narrow / pad / place: size of the axis in the larger tensor
  small: u32,  // narrow / pad / place: size of the axis in the smaller tensor (the window)
  start: u32,  // narrow / pad / place: window offset
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  dims: vec4u,    // permute: out dims
  strides: vec4u, // permute: x strides, in out-axis order
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn permute(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  var rest = i;
  let i3 = rest % p.dims.w;
  rest /= p.dims.w;
  let i2 = rest % p.dims.z;
  rest /= p.dims.z;
  let i1 = rest % p.dims.y;
  let i0 = rest / p.dims.y;
  out[i] = x[dot(vec4u(i0, i1, i2, i3), p.strides)];
}

// Element k of the small array [outer, small, inner] → its index in the big one [outer, big,
// inner], where the small axis sits at offset `start` (narrow reads there, place writes there).
fn big_index(k: u32) -> u32 {
  let i = k % p.inner;
  let r = k / p.inner;
  let j = r % p.small;
  let o = r / p.small;
  return (o * p.big + p.start + j) * p.inner + i;
}

@compute @workgroup_size(WG)
fn narrow(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let k = grid_index(wid, lid, nwg, WG);
  if (k >= p.n) { return; }
  out[k] = x[big_index(k)];
}

@compute @workgroup_size(WG)
fn pad(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  let k = grid_index(wid, lid, nwg, WG);
  if (k >= p.n) { return; }
  let i = k % p.inner;
  let r = k / p.inner;
  let s = r % p.big;
  let o = r / p.big;
  var v = 0u;
  if (s >= p.start && s < p.start + p.small) { v = x[(o * p.small + s - p.start) * p.inner + i]; }
  out[k] = v;
}

@compute @workgroup_size(WG)
fn place(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  let k = grid_index(wid, lid, nwg, WG);
  if (k >= p.n) { return; }
  out[big_index(k)] = x[k];
}
