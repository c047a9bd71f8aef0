// Parameters shared by the row-normalisation kernels (layernorm.wgsl, rmsnorm.wgsl): x is
// [rows, C] row-major, one workgroup of WG threads per row. Prepended by src/ops/layernorm.ts and
// src/ops/rmsnorm.ts.

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,   // forward only
  chunk: u32, // backward_params: rows per workgroup row-chunk
}

override WG: u32 = 256u; // threads per row: a power of two, chosen from C by the op

@group(0) @binding(0) var<uniform> p: Params;
