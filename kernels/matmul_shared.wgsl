// velora matmul, shared-memory family (for hardware GPUs): entry point `main`. Appended to
// matmul.wgsl, one C file (matmul_c_*.wgsl) and one staging file per operand
// (matmul_shared_{a,b}_{vec4,scalar}.wgsl) by src/ops/matmul_kernel.ts.
//
// A workgroup of 16x16 invocations computes a 64x64 tile of C; invocation (x, y) owns the 4x4
// block at rows m0 + 4y.., columns n0 + 4x... K is walked in chunks of KC = 8: each chunk of op(A)
// (64 rows x 8) and op(B) (8 x 64 columns) is staged in workgroup memory by the workgroup's
// invocations with coalesced loads (one vec4 or two elements each), then every invocation reads
// 8 pairs of vec4s from workgroup memory per chunk instead of 64 values from storage: 16-fold
// fewer global loads than an unshared loop. On llvmpipe (no real shared memory, one thread runs a
// whole workgroup between barriers) the register-tile family is faster, hence two families.
// KC is 8, not 16, partly for GL: naga zero-initialises workgroup memory with one array
// constructor, which Mesa's GL compiler takes time quadratic in the array's size to build
// (2 x 4 KiB: ~6 s per pipeline on llvmpipe/GL; 2 x 2 KiB: a quarter of that).
//
// Staging contract (both staging files): stageA(oa, m0, k0, li) writes, for i < 16 and kk < KC,
// As[kk * 16 + i] = op(A)(m0 + 4i .. m0 + 4i + 3, k0 + kk) (a vec4 over 4 rows); stageB(ob, n0,
// k0, li) writes Bs[kk * 16 + j] = op(B)(k0 + kk, n0 + 4j .. n0 + 4j + 3). Entries past M, N or K
// are 0, so the tail of the last chunk adds nothing. li = local_invocation_index (0..255).

const KC = 8u;
var<workgroup> As: array<vec4f, 128>; // 16 * KC
var<workgroup> Bs: array<vec4f, 128>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  // Workgroup → (batch, column tile, row tile), row tile fastest (as tileOf in matmul.wgsl).
  let l = wid.x + wid.y * P.gridX;
  let rest = l / P.tilesM;
  let b = rest / P.tilesN;
  let bb = min(b, P.batch - 1u);
  let m0 = (l % P.tilesM) * 64u;
  let n0 = (rest % P.tilesN) * 64u;
  var t: Tile;
  t.valid = b < P.batch; // false only for the padding workgroups of a split grid
  t.r0 = m0 + 4u * lid.y;
  t.c0 = n0 + 4u * lid.x;
  t.oa = bb * P.strideA;
  t.ob = bb * P.strideB;
  t.oc = bb * P.strideC;
  // acc[j][i] = C(t.r0 + i, t.c0 + j), the layout storeBlock takes.
  var acc = mat4x4f();
  // No early return: every invocation must reach every barrier.
  for (var k0 = 0u; k0 < P.K; k0 += KC) {
    stageA(t.oa, m0, k0, li);
    stageB(t.ob, n0, k0, li);
    workgroupBarrier();
    for (var kk = 0u; kk < KC; kk++) {
      let a = As[kk * 16u + lid.y];
      let y = Bs[kk * 16u + lid.x];
      acc += mat4x4f(a * y.x, a * y.y, a * y.z, a * y.w);
    }
    workgroupBarrier();
  }
  storeBlock(t, 0u, 0u, acc);
}
