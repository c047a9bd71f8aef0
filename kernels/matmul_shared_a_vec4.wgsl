// A operand of the shared-memory matmul staged as vec4 loads: binding 1 and stageA (contract in
// matmul_shared.wgsl). Requires the contiguous dimension to be a multiple of 4 — K when A is
// [M, K], M when TRANS_A ([K, M]) — and strideA % 4 == 0, so every vec4 is aligned and lies
// wholly inside or outside A's rows. A chunk is 16·KC vec4s: invocations li < 16·KC load one each.

override TRANS_A: bool = false;

@group(0) @binding(1) var<storage, read> A: array<vec4f>;

fn stageA(oa: u32, m0: u32, k0: u32, li: u32) {
  if (li >= 16u * KC) {
    return;
  }
  if (TRANS_A) {
    // [K, M]: KC k-rows of 16 vec4s along M; neighbours read neighbouring vec4s.
    let k = k0 + li / 16u;
    let m = m0 + 4u * (li % 16u);
    let ok = k < P.K && m < P.M;
    let v = A[(oa + min(k, P.K - 1u) * P.M + min(m, P.M - 4u)) / 4u];
    As[li] = select(vec4f(), v, ok);
  } else {
    // [M, K]: 64 rows of KC / 4 vec4s along K, scattered into the k-major tile.
    let r = li / (KC / 4u);
    let kv = 4u * (li % (KC / 4u));
    let m = m0 + r;
    let ok = m < P.M && k0 + kv < P.K;
    let v = select(vec4f(), A[(oa + min(m, P.M - 1u) * P.K + min(k0 + kv, P.K - 4u)) / 4u], ok);
    let slot = r / 4u;
    let lane = r % 4u;
    As[kv * 16u + slot][lane] = v.x;
    As[(kv + 1u) * 16u + slot][lane] = v.y;
    As[(kv + 2u) * 16u + slot][lane] = v.z;
    As[(kv + 3u) * 16u + slot][lane] = v.w;
  }
}
