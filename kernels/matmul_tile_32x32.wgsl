// velora matmul register tile 32x32: each invocation computes a 32x32 block of C held in
// 64 mat4x4f accumulators (c<i><j>[col][row] = C(r0 + 4i + row, c0 + 4j + col)); a workgroup is
// 8 invocations side by side along N, i.e. a 32x256 tile of C. Appended to matmul.wgsl and one A, one B
// and one C file by src/ops/matmul_kernel.ts. The k loop body is unrolled by hand on purpose: the
// WGSL->GLSL->llvmpipe path neither unrolls loops nor keeps indexed arrays in registers. All tile
// files follow the same mechanical pattern (a0..a7 rows, b.. columns, c<i><j> blocks).
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tileOf(wid, lid.x, 32u, 32u);
  let a0 = prepA(t.oa, t.r0);
  let a1 = prepA(t.oa, t.r0 + 4u);
  let a2 = prepA(t.oa, t.r0 + 8u);
  let a3 = prepA(t.oa, t.r0 + 12u);
  let a4 = prepA(t.oa, t.r0 + 16u);
  let a5 = prepA(t.oa, t.r0 + 20u);
  let a6 = prepA(t.oa, t.r0 + 24u);
  let a7 = prepA(t.oa, t.r0 + 28u);
  let b0 = prepB(t.ob, t.c0);
  let b1 = prepB(t.ob, t.c0 + 4u);
  let b2 = prepB(t.ob, t.c0 + 8u);
  let b3 = prepB(t.ob, t.c0 + 12u);
  let b4 = prepB(t.ob, t.c0 + 16u);
  let b5 = prepB(t.ob, t.c0 + 20u);
  let b6 = prepB(t.ob, t.c0 + 24u);
  let b7 = prepB(t.ob, t.c0 + 28u);
  var c00 = mat4x4f(); var c01 = mat4x4f(); var c02 = mat4x4f(); var c03 = mat4x4f(); var c04 = mat4x4f(); var c05 = mat4x4f(); var c06 = mat4x4f(); var c07 = mat4x4f();
  var c10 = mat4x4f(); var c11 = mat4x4f(); var c12 = mat4x4f(); var c13 = mat4x4f(); var c14 = mat4x4f(); var c15 = mat4x4f(); var c16 = mat4x4f(); var c17 = mat4x4f();
  var c20 = mat4x4f(); var c21 = mat4x4f(); var c22 = mat4x4f(); var c23 = mat4x4f(); var c24 = mat4x4f(); var c25 = mat4x4f(); var c26 = mat4x4f(); var c27 = mat4x4f();
  var c30 = mat4x4f(); var c31 = mat4x4f(); var c32 = mat4x4f(); var c33 = mat4x4f(); var c34 = mat4x4f(); var c35 = mat4x4f(); var c36 = mat4x4f(); var c37 = mat4x4f();
  var c40 = mat4x4f(); var c41 = mat4x4f(); var c42 = mat4x4f(); var c43 = mat4x4f(); var c44 = mat4x4f(); var c45 = mat4x4f(); var c46 = mat4x4f(); var c47 = mat4x4f();
  var c50 = mat4x4f(); var c51 = mat4x4f(); var c52 = mat4x4f(); var c53 = mat4x4f(); var c54 = mat4x4f(); var c55 = mat4x4f(); var c56 = mat4x4f(); var c57 = mat4x4f();
  var c60 = mat4x4f(); var c61 = mat4x4f(); var c62 = mat4x4f(); var c63 = mat4x4f(); var c64 = mat4x4f(); var c65 = mat4x4f(); var c66 = mat4x4f(); var c67 = mat4x4f();
  var c70 = mat4x4f(); var c71 = mat4x4f(); var c72 = mat4x4f(); var c73 = mat4x4f(); var c74 = mat4x4f(); var c75 = mat4x4f(); var c76 = mat4x4f(); var c77 = mat4x4f();
  for (var k = 0u; k < P.K; k += 4u) {
    let y0 = loadB(b0, k); let y1 = loadB(b1, k); let y2 = loadB(b2, k); let y3 = loadB(b3, k); let y4 = loadB(b4, k); let y5 = loadB(b5, k); let y6 = loadB(b6, k); let y7 = loadB(b7, k);
    let x0 = loadA(a0, k);
    c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3; c04 += x0 * y4; c05 += x0 * y5; c06 += x0 * y6; c07 += x0 * y7;
    let x1 = loadA(a1, k);
    c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3; c14 += x1 * y4; c15 += x1 * y5; c16 += x1 * y6; c17 += x1 * y7;
    let x2 = loadA(a2, k);
    c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3; c24 += x2 * y4; c25 += x2 * y5; c26 += x2 * y6; c27 += x2 * y7;
    let x3 = loadA(a3, k);
    c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3; c34 += x3 * y4; c35 += x3 * y5; c36 += x3 * y6; c37 += x3 * y7;
    let x4 = loadA(a4, k);
    c40 += x4 * y0; c41 += x4 * y1; c42 += x4 * y2; c43 += x4 * y3; c44 += x4 * y4; c45 += x4 * y5; c46 += x4 * y6; c47 += x4 * y7;
    let x5 = loadA(a5, k);
    c50 += x5 * y0; c51 += x5 * y1; c52 += x5 * y2; c53 += x5 * y3; c54 += x5 * y4; c55 += x5 * y5; c56 += x5 * y6; c57 += x5 * y7;
    let x6 = loadA(a6, k);
    c60 += x6 * y0; c61 += x6 * y1; c62 += x6 * y2; c63 += x6 * y3; c64 += x6 * y4; c65 += x6 * y5; c66 += x6 * y6; c67 += x6 * y7;
    let x7 = loadA(a7, k);
    c70 += x7 * y0; c71 += x7 * y1; c72 += x7 * y2; c73 += x7 * y3; c74 += x7 * y4; c75 += x7 * y5; c76 += x7 * y6; c77 += x7 * y7;
  }
  // Epilogue: store one row of blocks per iteration, then move the rows up. A runtime loop on
  // purpose: with all 64 storeBlock calls unrolled, LLVM compile time grows several-fold.
  for (var i = 0u; i < 8u && t.r0 + 4u * i < P.M; i++) {
    storeBlock(t, 4u * i, 0u, c00); storeBlock(t, 4u * i, 4u, c01); storeBlock(t, 4u * i, 8u, c02); storeBlock(t, 4u * i, 12u, c03); storeBlock(t, 4u * i, 16u, c04); storeBlock(t, 4u * i, 20u, c05); storeBlock(t, 4u * i, 24u, c06); storeBlock(t, 4u * i, 28u, c07);
    c00 = c10; c01 = c11; c02 = c12; c03 = c13; c04 = c14; c05 = c15; c06 = c16; c07 = c17;
    c10 = c20; c11 = c21; c12 = c22; c13 = c23; c14 = c24; c15 = c25; c16 = c26; c17 = c27;
    c20 = c30; c21 = c31; c22 = c32; c23 = c33; c24 = c34; c25 = c35; c26 = c36; c27 = c37;
    c30 = c40; c31 = c41; c32 = c42; c33 = c43; c34 = c44; c35 = c45; c36 = c46; c37 = c47;
    c40 = c50; c41 = c51; c42 = c52; c43 = c53; c44 = c54; c45 = c55; c46 = c56; c47 = c57;
    c50 = c60; c51 = c61; c52 = c62; c53 = c63; c54 = c64; c55 = c65; c56 = c66; c57 = c67;
    c60 = c70; c61 = c71; c62 = c72; c63 = c73; c64 = c74; c65 = c75; c66 = c76; c67 = c77;
  }
}
