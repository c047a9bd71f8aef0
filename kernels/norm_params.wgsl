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

// backward_params: workgroup (cx, k) owns columns [64·cx, 64·cx + 64) and sums row-chunk k,
// rows [k·chunk, min((k+1)·chunk, rows)), in order (src/ops/column_chunks.ts launches it and
// reduces the chunks). Returns vec2u(first row, end row).
fn chunk_rows(k: u32) -> vec2u {
  let r0 = k * p.chunk;
  return vec2u(r0, min(r0 + p.chunk, p.rows));
}
