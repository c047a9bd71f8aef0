// C and bias of matmul.wgsl as vec4: bindings 3, 4 and storeBlock (the epilogue). Requires
// N % 4 == 0 and strideC % 4 == 0; a 4-column group is then entirely inside or outside C.

@group(0) @binding(3) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(4) var<storage, read> bias: array<vec4f>;

// m[j][i] belongs to C(t.r0 + dr + i, t.c0 + dc + j).
fn storeBlock(t: Tile, dr: u32, dc: u32, m: mat4x4f) {
  let col = t.c0 + dc;
  let rows = transpose(m); // rows[i] = C(row i, 4 columns)
  var bv = vec4f();
  if (HAS_BIAS) {
    bv = bias[min(col, P.N - 4u) / 4u];
  }
  let base = (t.oc + col) / 4u;
  let nv = P.N / 4u;
  for (var i = 0u; i < 4u; i++) {
    let row = t.r0 + dr + i;
    if (t.valid && col < P.N && row < P.M) {
      var v = finish4(rows[i], bv);
      let idx = base + row * nv;
      if (ACCUMULATE) {
        v += C[idx];
      }
      C[idx] = v;
    }
  }
}
