// B operand of the shared-memory matmul staged element by element (any shape, stride and
// alignment): stageB (contract in matmul_shared.wgsl). A chunk is 64·KC elements: KC / 4 per
// invocation; consecutive invocations read consecutive addresses. Binding 2 and ldB(i) come from
// the storage part src/ops/matmul_kernel.ts appends (f32, packed f16 or native f16).

override TRANS_B: bool = false;

fn stageB(ob: u32, n0: u32, k0: u32, li: u32) {
  for (var q = 0u; q < KC / 4u; q++) {
    let e = li + 256u * q;
    var c: u32;
    var kk: u32;
    if (TRANS_B) {
      c = e / KC; // [N, K]: contiguous along K
      kk = e % KC;
    } else {
      kk = e / 64u; // [K, N]: contiguous along N
      c = e % 64u;
    }
    let n = min(n0 + c, P.N - 1u);
    let k = min(k0 + kk, P.K - 1u);
    let idx = select(ob + k * P.N + n, ob + n * P.K + k, TRANS_B);
    Bs[kk * 16u + c / 4u][c % 4u] = select(0.0, ldB(idx), n0 + c < P.N && k0 + kk < P.K);
  }
}
