// C and bias of matmul.wgsl element by element (any N and strideC): bindings 3, 4 and storeBlock
// (the epilogue).

@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// m[j][i] belongs to C(t.r0 + dr + i, t.c0 + dc + j).
fn storeBlock(t: Tile, dr: u32, dc: u32, m: mat4x4f) {
  for (var j = 0u; j < 4u; j++) {
    let col = t.c0 + dc + j;
    var bv = 0.0;
    if (HAS_BIAS) {
      bv = bias[min(col, P.N - 1u)];
    }
    let v = finish4(m[j], vec4f(bv)); // 4 rows of column col
    for (var i = 0u; i < 4u; i++) {
      let row = t.r0 + dr + i;
      if (t.valid && col < P.N && row < P.M) {
        let idx = t.oc + row * P.N + col;
        if (ACCUMULATE) {
          C[idx] += v[i];
        } else {
          C[idx] = v[i];
        }
      }
    }
  }
}
