// Batched matrix product C[b] = epilogue(alpha · op(A[b]) · op(B[b]) + bias), common part.
//
// src/ops/matmul_kernel.ts assembles one shader module from five pieces:
//   matmul.wgsl                                 (this file: params, overrides, tiling, gelu)
// + matmul_a_vec4.wgsl | matmul_a_scalar.wgsl   (binding 1 and prepA / loadA)
// + matmul_b_vec4.wgsl | matmul_b_scalar.wgsl   (binding 2 and prepB / loadB)
// + matmul_c_vec4.wgsl | matmul_c_scalar.wgsl   (bindings 3, 4 and storeBlock: the epilogue)
// + matmul_tile_{32x32,16x16,8x8}.wgsl          (the entry point `main`: register tile + k loop)
// Overrides: TRANS_A, TRANS_B (in the A / B files) and HAS_BIAS, GELU, ACCUMULATE (below). The
// epilogue options are overrides, not uniform flags, because llvmpipe executes both sides of
// every branch under a mask: a disabled GELU or accumulate would still cost ~4% of a matmul.
//
// Layouts (row-major, element offsets; batch b starts at b·stride, stride 0 = broadcast):
//   A [M, K], or [K, M] when TRANS_A;  B [K, N], or [N, K] when TRANS_B;  C [M, N].
// Loader contract (all four loader files): for 4 consecutive output rows r..r+3 (r % 4 == 0),
// prepA(o, r) precomputes addressing and loadA(pa, k) returns X with X[kk][i] = op(A)(r + i, k + kk);
// for 4 consecutive output columns c..c+3, loadB(pb, k) returns Y with Y[j][kk] = op(B)(k + kk, c + j).
// Then X * Y accumulates the 4x4 block: (X * Y)[j][i] = Σ_kk op(A)(r+i, k+kk) · op(B)(k+kk, c+j).
// Rows/columns past M/N are clamped (computed but never stored); k past K reads 0.
//
// Why this shape: on llvmpipe (Mesa's CPU driver) each invocation is one SIMD lane and every
// storage-buffer load is a per-lane scalar loop, so loads dominate. A big register tile per
// invocation (up to 32x32 outputs, 64 vec4 loads per 4096 multiply-adds per k-step of 4) and one
// 8-lane workgroup whose lanes share the same A rows are what make it fast there.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  strideA: u32, // elements between batches of A (0 = shared by all batches)
  strideB: u32,
  strideC: u32,
  alpha: f32,
  tilesM: u32, // workgroup tiles along M (ceil(M / rows per workgroup))
  tilesN: u32, // workgroup tiles along N (ceil(N / columns per workgroup))
  gridX: u32, // workgroups dispatched along x; the linear workgroup id is x + y * gridX
  _pad: u32,
}

override HAS_BIAS: bool = false; // add bias[n] (broadcast over rows and batches)
override GELU: bool = false; // apply gelu (erf form) after alpha and bias
override ACCUMULATE: bool = false; // C += result instead of C = result

@group(0) @binding(0) var<uniform> P: MatmulParams;

struct Tile {
  oa: u32, // element offset of this batch's A
  ob: u32,
  oc: u32,
  r0: u32, // first output row of this invocation
  c0: u32, // first output column of this invocation
  valid: bool, // false for the padding workgroups of a split grid
}

// Workgroup → (batch, column tile, row tile), row tile fastest so that consecutive workgroups
// reuse the same columns of B from cache. tm = rows per workgroup (and per invocation),
// tn = columns per invocation; the 8 lanes of a workgroup sit side by side along N.
fn tileOf(wid: vec3u, lane: u32, tm: u32, tn: u32) -> Tile {
  let l = wid.x + wid.y * P.gridX;
  let rest = l / P.tilesM;
  let b = rest / P.tilesN;
  let bb = min(b, P.batch - 1u);
  var t: Tile;
  t.valid = b < P.batch;
  t.r0 = (l % P.tilesM) * tm;
  t.c0 = ((rest % P.tilesN) * 8u + lane) * tn;
  t.oa = bb * P.strideA;
  t.ob = bb * P.strideB;
  t.oc = bb * P.strideC;
  return t;
}

// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), componentwise.
fn erf4(x: vec4f) -> vec4f {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let y = 1.0 - poly * exp(-z * z);
  return select(y, -y, x < vec4f());
}

// gelu(x) = 0.5 · x · (1 + erf(x / √2)), componentwise.
fn gelu4(x: vec4f) -> vec4f {
  return 0.5 * x * (1.0 + erf4(x * 0.7071067811865476));
}

// alpha · acc + bias, then gelu: the epilogue before the optional accumulate.
fn finish4(acc: vec4f, bias4: vec4f) -> vec4f {
  var v = acc * P.alpha;
  if (HAS_BIAS) {
    v += bias4;
  }
  if (GELU) {
    v = gelu4(v);
  }
  return v;
}
