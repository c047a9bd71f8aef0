// B operand of matmul.wgsl read element by element (any shape, stride and alignment): binding 2
// and prepB / loadB (contract in matmul.wgsl). About half the speed of matmul_b_vec4.wgsl.

override TRANS_B: bool = false;

@group(0) @binding(2) var<storage, read> B: array<f32>;

fn prepB(o: u32, c: u32) -> vec4u {
  let cols = min(vec4u(c) + vec4u(0u, 1u, 2u, 3u), vec4u(P.N - 1u));
  if (TRANS_B) {
    return vec4u(o) + cols * P.K; // B(k, n) at o + n·K + k
  }
  return vec4u(o) + cols; // B(k, n) at o + k·N + n
}

fn loadB(pb: vec4u, k: u32) -> mat4x4f {
  let ks = vec4u(k) + vec4u(0u, 1u, 2u, 3u);
  let kc = min(ks, vec4u(P.K - 1u));
  let ko = select(kc * P.N, kc, TRANS_B);
  let z = vec4f();
  let ok = ks < vec4u(P.K);
  return mat4x4f(
    select(z, vec4f(B[pb.x + ko.x], B[pb.x + ko.y], B[pb.x + ko.z], B[pb.x + ko.w]), ok),
    select(z, vec4f(B[pb.y + ko.x], B[pb.y + ko.y], B[pb.y + ko.z], B[pb.y + ko.w]), ok),
    select(z, vec4f(B[pb.z + ko.x], B[pb.z + ko.y], B[pb.z + ko.z], B[pb.z + ko.w]), ok),
    select(z, vec4f(B[pb.w + ko.x], B[pb.w + ko.y], B[pb.w + ko.z], B[pb.w + ko.w]), ok),
  );
}
