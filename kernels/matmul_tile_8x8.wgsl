// velora matmul register tile 8x8: each invocation computes a 8x8 block of C held in
// 4 mat4x4f accumulators (c<i><j>[col][row] = C(r0 + 4i + row, c0 + 4j + col)); a workgroup is
// 8 invocations side by side along N, i.e. a 8x64 tile of C. Appended to matmul.wgsl and one A, one B
// and one C file by src/ops/matmul_kernel.ts. The k loop body is unrolled by hand on purpose: the
// WGSL->GLSL->llvmpipe path neither unrolls loops nor keeps indexed arrays in registers. All tile
// files follow the same mechanical pattern (a0, a1 rows, b.. columns, c<i><j> blocks).
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tileOf(wid, lid.x, 8u, 8u);
  let a0 = prepA(t.oa, t.r0);
  let a1 = prepA(t.oa, t.r0 + 4u);
  let b0 = prepB(t.ob, t.c0);
  let b1 = prepB(t.ob, t.c0 + 4u);
  var c00 = mat4x4f(); var c01 = mat4x4f();
  var c10 = mat4x4f(); var c11 = mat4x4f();
  for (var k = 0u; k < P.K; k += 4u) {
    let y0 = loadB(b0, k); let y1 = loadB(b1, k);
    let x0 = loadA(a0, k);
    c00 += x0 * y0; c01 += x0 * y1;
    let x1 = loadA(a1, k);
    c10 += x1 * y0; c11 += x1 * y1;
  }
  // Epilogue: store one row of blocks per iteration, then move the rows up. A runtime loop on
  // purpose: with all 4 storeBlock calls unrolled, LLVM compile time grows several-fold.
  for (var i = 0u; i < 2u && t.r0 + 4u * i < P.M; i++) {
    storeBlock(t, 4u * i, 0u, c00); storeBlock(t, 4u * i, 4u, c01);
    c00 = c10; c01 = c11;
  }
}
