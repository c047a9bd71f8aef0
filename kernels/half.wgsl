// Packed-f16 storage for saved activations: `pack` writes two IEEE halves per u32
// (pack2x16float, round to nearest; no `shader-f16` feature needed), `unpack` reads them back as
// f32. n = element count; an odd n leaves the upper half of the last word 0.

struct Params {
  n: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// pack: x f32 [n] → h u32 [ceil(n / 2)]
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<u32>;

// unpack: hi u32 [ceil(n / 2)] → y f32 [n]
@group(0) @binding(1) var<storage, read> hi: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn pack(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let w = grid_index(wid, lid, nwg, 256u);
  let i = 2u * w;
  if (i >= p.n) { return; }
  let b = select(0.0, x[min(i + 1u, p.n - 1u)], i + 1u < p.n);
  h[w] = pack2x16float(vec2f(x[i], b));
}

@compute @workgroup_size(256)
fn unpack(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let w = grid_index(wid, lid, nwg, 256u);
  let i = 2u * w;
  if (i >= p.n) { return; }
  let v = unpack2x16float(hi[w]);
  y[i] = v.x;
  if (i + 1u < p.n) { y[i + 1u] = v.y; }
}
