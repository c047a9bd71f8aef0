// A operand of matmul.wgsl read element by element (any shape, stride and alignment): binding 1
// and prepA / loadA (contract in matmul.wgsl). About half the speed of matmul_a_vec4.wgsl.

override TRANS_A: bool = false;

@group(0) @binding(1) var<storage, read> A: array<f32>;

fn prepA(o: u32, r: u32) -> vec4u {
  let rows = min(vec4u(r) + vec4u(0u, 1u, 2u, 3u), vec4u(P.M - 1u));
  if (TRANS_A) {
    return vec4u(o) + rows; // A(m, k) at o + k·M + m
  }
  return vec4u(o) + rows * P.K; // A(m, k) at o + m·K + k
}

fn loadA(pa: vec4u, k: u32) -> mat4x4f {
  let ks = vec4u(k) + vec4u(0u, 1u, 2u, 3u);
  let kc = min(ks, vec4u(P.K - 1u));
  let ok = ks < vec4u(P.K);
  let ko = select(kc, kc * P.M, TRANS_A);
  return mat4x4f(
    select(vec4f(), vec4f(A[pa.x + ko.x], A[pa.y + ko.x], A[pa.z + ko.x], A[pa.w + ko.x]), ok.x),
    select(vec4f(), vec4f(A[pa.x + ko.y], A[pa.y + ko.y], A[pa.z + ko.y], A[pa.w + ko.y]), ok.y),
    select(vec4f(), vec4f(A[pa.x + ko.z], A[pa.y + ko.z], A[pa.z + ko.z], A[pa.w + ko.z]), ok.z),
    select(vec4f(), vec4f(A[pa.x + ko.w], A[pa.y + ko.w], A[pa.z + ko.w], A[pa.w + ko.w]), ok.w),
  );
}
