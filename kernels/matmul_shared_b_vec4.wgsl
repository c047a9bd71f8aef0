// B operand of the shared-memory matmul staged as vec4 loads: stageB (contract in
// matmul_shared.wgsl). Requires the contiguous dimension to be a multiple of 4 — N when B is
// [K, N], K when TRANS_B ([N, K]) — and strideB % 4 == 0, so every vec4 is aligned and lies
// wholly inside or outside B's rows. A chunk is 16·KC vec4s: invocations li < 16·KC load one
// each. Binding 2 and ldB4(i) (the i-th group of 4 elements as vec4f) come from the storage part
// src/ops/matmul_kernel.ts appends.

override TRANS_B: bool = false;

fn stageB(ob: u32, n0: u32, k0: u32, li: u32) {
  if (li >= 16u * KC) {
    return;
  }
  if (TRANS_B) {
    // [N, K]: 64 rows (columns of op(B)) of KC / 4 vec4s along K, scattered into the k-major tile.
    let c = li / (KC / 4u);
    let kv = 4u * (li % (KC / 4u));
    let n = n0 + c;
    let ok = n < P.N && k0 + kv < P.K;
    let v = select(vec4f(), ldB4((ob + min(n, P.N - 1u) * P.K + min(k0 + kv, P.K - 4u)) / 4u), ok);
    let slot = c / 4u;
    let lane = c % 4u;
    Bs[kv * 16u + slot][lane] = v.x;
    Bs[(kv + 1u) * 16u + slot][lane] = v.y;
    Bs[(kv + 2u) * 16u + slot][lane] = v.z;
    Bs[(kv + 3u) * 16u + slot][lane] = v.w;
  } else {
    // [K, N]: KC k-rows of 16 vec4s along N.
    let k = k0 + li / 16u;
    let n = n0 + 4u * (li % 16u);
    let ok = k < P.K && n < P.N;
    let v = ldB4((ob + min(k, P.K - 1u) * P.N + min(n, P.N - 4u)) / 4u);
    Bs[li] = select(vec4f(), v, ok);
  }
}
