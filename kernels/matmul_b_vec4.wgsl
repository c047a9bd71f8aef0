// B operand of matmul.wgsl read as vec4: prepB / loadB (contract in matmul.wgsl). Requires the
// contiguous dimension to be a multiple of 4 — N when B is [K, N], K when TRANS_B ([N, K]) — and
// strideB % 4 == 0, so every vec4 is aligned. Binding 2 and ldB4(i) (the i-th group of 4
// elements of B as vec4f) come from the storage part src/ops/matmul_kernel.ts appends.

override TRANS_B: bool = false;

fn prepB(o: u32, c: u32) -> vec4u {
  if (TRANS_B) {
    let cols = min(vec4u(c) + vec4u(0u, 1u, 2u, 3u), vec4u(P.N - 1u));
    return (vec4u(o) + cols * P.K) / 4u;
  }
  // Columns c..c+3 are one vec4 of each k-row; past N, reuse the last vec4 (N ≥ 4 here).
  return vec4u((o + min(c, P.N - 4u)) / 4u);
}

fn loadB(pb: vec4u, k: u32) -> mat4x4f {
  if (TRANS_B) {
    let kv = k / 4u;
    return mat4x4f(ldB4(pb.x + kv), ldB4(pb.y + kv), ldB4(pb.z + kv), ldB4(pb.w + kv));
  }
  let nv = P.N / 4u;
  let kl = P.K - 1u;
  return transpose(mat4x4f(
    select(vec4f(), ldB4(pb.x + min(k, kl) * nv), k < P.K),
    select(vec4f(), ldB4(pb.x + min(k + 1u, kl) * nv), k + 1u < P.K),
    select(vec4f(), ldB4(pb.x + min(k + 2u, kl) * nv), k + 2u < P.K),
    select(vec4f(), ldB4(pb.x + min(k + 3u, kl) * nv), k + 3u < P.K),
  ));
}
