// A operand of the shared-memory matmul staged element by element (any shape, stride and
// alignment): binding 1 and stageA (contract in matmul_shared.wgsl). A chunk is 64·KC elements:
// KC / 4 per invocation; consecutive invocations read consecutive addresses.

override TRANS_A: bool = false;

@group(0) @binding(1) var<storage, read> A: array<f32>;

fn stageA(oa: u32, m0: u32, k0: u32, li: u32) {
  for (var q = 0u; q < KC / 4u; q++) {
    let e = li + 256u * q;
    var r: u32;
    var kk: u32;
    if (TRANS_A) {
      kk = e / 64u; // [K, M]: contiguous along M
      r = e % 64u;
    } else {
      r = e / KC; // [M, K]: contiguous along K
      kk = e % KC;
    }
    let m = min(m0 + r, P.M - 1u);
    let k = min(k0 + kk, P.K - 1u);
    let idx = select(oa + m * P.K + k, oa + k * P.M + m, TRANS_A);
    As[kk * 16u + r / 4u][r % 4u] = select(0.0, A[idx], m0 + r < P.M && k0 + kk < P.K);
  }
}
