// A operand of matmul.wgsl read as vec4: binding 1 and prepA / loadA (contract in matmul.wgsl).
// Requires the contiguous dimension to be a multiple of 4 — K when A is [M, K], M when TRANS_A
// ([K, M]) — and strideA % 4 == 0, so every vec4 is aligned.

override TRANS_A: bool = false;

@group(0) @binding(1) var<storage, read> A: array<vec4f>;

fn prepA(o: u32, r: u32) -> vec4u {
  if (TRANS_A) {
    // Rows r..r+3 are one vec4 of each k-row; past M, reuse the last vec4 (M ≥ 4 here).
    return vec4u((o + min(r, P.M - 4u)) / 4u);
  }
  let rows = min(vec4u(r) + vec4u(0u, 1u, 2u, 3u), vec4u(P.M - 1u));
  return (vec4u(o) + rows * P.K) / 4u;
}

fn loadA(pa: vec4u, k: u32) -> mat4x4f {
  if (TRANS_A) {
    let mv = P.M / 4u;
    let kl = P.K - 1u;
    return mat4x4f(
      select(vec4f(), A[pa.x + min(k, kl) * mv], k < P.K),
      select(vec4f(), A[pa.x + min(k + 1u, kl) * mv], k + 1u < P.K),
      select(vec4f(), A[pa.x + min(k + 2u, kl) * mv], k + 2u < P.K),
      select(vec4f(), A[pa.x + min(k + 3u, kl) * mv], k + 3u < P.K),
    );
  }
  let kv = k / 4u;
  return transpose(mat4x4f(A[pa.x + kv], A[pa.y + kv], A[pa.z + kv], A[pa.w + kv]));
}
