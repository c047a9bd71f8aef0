// velora matmul register tile 16x16: each invocation computes a 16x16 block of C held in
// 16 mat4x4f accumulators (c<i><j>[col][row] = C(r0 + 4i + row, c0 + 4j + col)); a workgroup is
// 8 invocations side by side along N, i.e. a 16x128 tile of C. Appended to matmul.wgsl and one A, one B
// and one C file by src/ops/matmul_kernel.ts. The k loop body is unrolled by hand on purpose: the
// WGSL->GLSL->llvmpipe path neither unrolls loops nor keeps indexed arrays in registers. All tile
// files follow the same mechanical pattern (a0..a3 rows, b.. columns, c<i><j> blocks).
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tileOf(wid, lid.x, 16u, 16u);
  let a0 = prepA(t.oa, t.r0);
  let a1 = prepA(t.oa, t.r0 + 4u);
  let a2 = prepA(t.oa, t.r0 + 8u);
  let a3 = prepA(t.oa, t.r0 + 12u);
  let b0 = prepB(t.ob, t.c0);
  let b1 = prepB(t.ob, t.c0 + 4u);
  let b2 = prepB(t.ob, t.c0 + 8u);
  let b3 = prepB(t.ob, t.c0 + 12u);
  var c00 = mat4x4f(); var c01 = mat4x4f(); var c02 = mat4x4f(); var c03 = mat4x4f();
  var c10 = mat4x4f(); var c11 = mat4x4f(); var c12 = mat4x4f(); var c13 = mat4x4f();
  var c20 = mat4x4f(); var c21 = mat4x4f(); var c22 = mat4x4f(); var c23 = mat4x4f();
  var c30 = mat4x4f(); var c31 = mat4x4f(); var c32 = mat4x4f(); var c33 = mat4x4f();
  for (var k = 0u; k < P.K; k += 4u) {
    let y0 = loadB(b0, k); let y1 = loadB(b1, k); let y2 = loadB(b2, k); let y3 = loadB(b3, k);
    let x0 = loadA(a0, k);
    c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
    let x1 = loadA(a1, k);
    c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
    let x2 = loadA(a2, k);
    c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
    let x3 = loadA(a3, k);
    c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
  }
  // Epilogue: store one row of blocks per iteration, then move the rows up. A runtime loop on
  // purpose: with all 16 storeBlock calls unrolled, LLVM compile time grows several-fold.
  for (var i = 0u; i < 4u && t.r0 + 4u * i < P.M; i++) {
    storeBlock(t, 4u * i, 0u, c00); storeBlock(t, 4u * i, 4u, c01); storeBlock(t, 4u * i, 8u, c02); storeBlock(t, 4u * i, 12u, c03);
    c00 = c10; c01 = c11; c02 = c12; c03 = c13;
    c10 = c20; c11 = c21; c12 = c22; c13 = c23;
    c20 = c30; c21 = c31; c22 = c32; c23 = c33;
  }
}
