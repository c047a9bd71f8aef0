// velora matmul register tile 32x32: each invocation computes a 32x32 block of C held in
// 64 mat4x4f accumulators (c<i><j>[col][row] = C(r0 + 4i + row, c0 + 4j + col)); a workgroup is
// 8 invocations side by side along N, i.e. a 32x256 tile of C. Appended to matmul.wgsl plus one A and
// one B loader file by src/ops/matmul_kernel.ts. The unrolling is deliberate: the WGSL->GLSL->llvmpipe
// path neither unrolls loops nor keeps dynamically indexed arrays in registers.
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
  storeBlock(t, 0u, 0u, c00); storeBlock(t, 0u, 4u, c01); storeBlock(t, 0u, 8u, c02); storeBlock(t, 0u, 12u, c03); storeBlock(t, 0u, 16u, c04); storeBlock(t, 0u, 20u, c05); storeBlock(t, 0u, 24u, c06); storeBlock(t, 0u, 28u, c07);
  storeBlock(t, 4u, 0u, c10); storeBlock(t, 4u, 4u, c11); storeBlock(t, 4u, 8u, c12); storeBlock(t, 4u, 12u, c13); storeBlock(t, 4u, 16u, c14); storeBlock(t, 4u, 20u, c15); storeBlock(t, 4u, 24u, c16); storeBlock(t, 4u, 28u, c17);
  storeBlock(t, 8u, 0u, c20); storeBlock(t, 8u, 4u, c21); storeBlock(t, 8u, 8u, c22); storeBlock(t, 8u, 12u, c23); storeBlock(t, 8u, 16u, c24); storeBlock(t, 8u, 20u, c25); storeBlock(t, 8u, 24u, c26); storeBlock(t, 8u, 28u, c27);
  storeBlock(t, 12u, 0u, c30); storeBlock(t, 12u, 4u, c31); storeBlock(t, 12u, 8u, c32); storeBlock(t, 12u, 12u, c33); storeBlock(t, 12u, 16u, c34); storeBlock(t, 12u, 20u, c35); storeBlock(t, 12u, 24u, c36); storeBlock(t, 12u, 28u, c37);
  storeBlock(t, 16u, 0u, c40); storeBlock(t, 16u, 4u, c41); storeBlock(t, 16u, 8u, c42); storeBlock(t, 16u, 12u, c43); storeBlock(t, 16u, 16u, c44); storeBlock(t, 16u, 20u, c45); storeBlock(t, 16u, 24u, c46); storeBlock(t, 16u, 28u, c47);
  storeBlock(t, 20u, 0u, c50); storeBlock(t, 20u, 4u, c51); storeBlock(t, 20u, 8u, c52); storeBlock(t, 20u, 12u, c53); storeBlock(t, 20u, 16u, c54); storeBlock(t, 20u, 20u, c55); storeBlock(t, 20u, 24u, c56); storeBlock(t, 20u, 28u, c57);
  storeBlock(t, 24u, 0u, c60); storeBlock(t, 24u, 4u, c61); storeBlock(t, 24u, 8u, c62); storeBlock(t, 24u, 12u, c63); storeBlock(t, 24u, 16u, c64); storeBlock(t, 24u, 20u, c65); storeBlock(t, 24u, 24u, c66); storeBlock(t, 24u, 28u, c67);
  storeBlock(t, 28u, 0u, c70); storeBlock(t, 28u, 4u, c71); storeBlock(t, 28u, 8u, c72); storeBlock(t, 28u, 12u, c73); storeBlock(t, 28u, 16u, c74); storeBlock(t, 28u, 20u, c75); storeBlock(t, 28u, 24u, c76); storeBlock(t, 28u, 28u, c77);
}
