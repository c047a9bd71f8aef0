// B operand of matmul.wgsl read element by element (any shape, stride and alignment): prepB /
// loadB (contract in matmul.wgsl). About half the speed of matmul_b_vec4.wgsl. Binding 2 and
// ldB(i) (element i of B as f32) come from the storage part src/ops/matmul_kernel.ts appends
// (f32, packed f16 or native f16).

override TRANS_B: bool = false;

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
    select(z, vec4f(ldB(pb.x + ko.x), ldB(pb.x + ko.y), ldB(pb.x + ko.z), ldB(pb.x + ko.w)), ok),
    select(z, vec4f(ldB(pb.y + ko.x), ldB(pb.y + ko.y), ldB(pb.y + ko.z), ldB(pb.y + ko.w)), ok),
    select(z, vec4f(ldB(pb.z + ko.x), ldB(pb.z + ko.y), ldB(pb.z + ko.z), ldB(pb.z + ko.w)), ok),
    select(z, vec4f(ldB(pb.w + ko.x), ldB(pb.w + ko.y), ldB(pb.w + ko.z), ldB(pb.w + ko.w)), ok),
  );
}
