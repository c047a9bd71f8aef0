// Recomputed attention (FlashAttention-2, Dao 2023, arXiv 2307.08691, Algorithms 1 and 2):
// O = dropout(softmax(scale · Q·Kᵀ + mask [+ causal])) · V without a [B, H, Sq, Sk] tensor.
// Three entry points: `forward` (O and the row statistics), `backward_q` (dQ and D = rowsum(dO ⊙ O)
// = Σ_j P_ij dP_ij, kept in the statistics) and `backward_kv` (dK, dV; after backward_q, reads D).
//
// Assembled by src/ops/flash_attention.ts, which expands two line markers before compiling:
//   a line containing `$c` is repeated for c = 0 .. NC-1 (NC = head_dim / 4 vec4 chunks), `$c`
//   replaced by c: the head dimension is unrolled by hand because the WGSL → llvmpipe path neither
//   unrolls loops nor keeps indexed arrays in registers (see kernels/matmul.wgsl);
//   a line ending in `// @f16` is kept only when the saved tensors (Q, K, V read by backward) are
//   packed f16, one ending in `// @f32` only when they are f32.
//
// Tiling, the llvmpipe way (each invocation is one SIMD lane and every storage load is a per-lane
// scalar loop, so loads dominate): an invocation owns 4 rows (queries, or keys in backward_kv)
// and holds them, and its accumulators, as 4x4 blocks in registers: X$c is a mat4x4f whose column
// j is element 4c+j of the head dimension for the 4 rows. It streams the other side 4 rows at a
// time: per 4-row step 2·head_dim vec4 loads feed 32·head_dim (forward) to 64·head_dim (backward)
// multiply-adds. A workgroup is 8 lanes = 32 consecutive rows of one (batch, head).
//
// Masking: s = max(scale·q·k + mask[b, key], -FLT_MAX) exactly as kernels/softmax.wgsl (a row whose
// every key carries finfo.min comes out uniform, like PyTorch's eager attention), while keys past
// Sk and keys hidden by the causal mask are excluded (probability exactly 0). Causal is
// bottom-right aligned: query i sees key j iff j + Sq ≤ i + Sk (HF with a KV cache).
// Dropout: keep(b, h, i, j) = pcg(pcg(e) ^ key) ≥ threshold with e = ((b·Hq + h)·Sq + i)·Sk + j, the
// element index of the probabilities [B, Hq, Sq, Sk]: the same mask as kernels/dropout.wgsl on
// eager attention's probabilities with the same seed.
// Statistics per query row: (m, log l, D, 0) with m the running max and l = Σ exp(s - m); backward uses
// P = exp((s - m) - log l), which stays exact for fully masked rows (lse = m + log l would round
// m's log l away when m = -FLT_MAX).

struct Params {
  B: u32,
  Hq: u32,
  Hkv: u32,
  Sq: u32,
  Sk: u32,
  group: u32, // Hq / Hkv
  gridX: u32, // workgroups along x; linear workgroup id = x + y · gridX
  tiles: u32, // 32-row tiles per (batch, head): ceil(Sq / 32) (forward, backward_q) or ceil(Sk / 32)
  qsB: u32, // Q (and dQ) strides in vec4s: batch, sequence, head
  qsS: u32,
  qsH: u32,
  ksB: u32, // K, V (and dK, dV) strides in vec4s
  ksS: u32,
  ksH: u32,
  has_mask: u32, // 1: mask [B, Sk] additive f32 is bound, 0: a dummy is bound
  threshold: u32, // dropout: keep when hash ≥ threshold
  key: u32, // dropout: hash of the seed
  scale: f32, // softmax scale (1/√head_dim by default)
  dscale: f32, // dropout: 1 / (1 - p)
  _pad: u32,
}

override CAUSAL: bool = false;
override DROPOUT: bool = false;

const NEG_MAX: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;

// Bindings 1..4 are shared by all entry points (Q, K, V as f32 in forward, as saved in backward).
@group(0) @binding(1) var<storage, read> Qf: array<vec4f>;
@group(0) @binding(2) var<storage, read> Kf: array<vec4f>;
@group(0) @binding(3) var<storage, read> Vf: array<vec4f>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
// forward outputs
@group(0) @binding(5) var<storage, read_write> O: array<vec4f>; // [B, Sq, Hq, head_dim]
@group(0) @binding(6) var<storage, read_write> stats: array<vec4f>; // [B, Hq, Sq] (m, log l, D, 0)
// backward inputs
@group(0) @binding(1) var<storage, read> Qs: array<vec4f>; // @f32
@group(0) @binding(2) var<storage, read> Ks: array<vec4f>; // @f32
@group(0) @binding(3) var<storage, read> Vs: array<vec4f>; // @f32
@group(0) @binding(1) var<storage, read> Qs: array<vec2u>; // @f16
@group(0) @binding(2) var<storage, read> Ks: array<vec2u>; // @f16
@group(0) @binding(3) var<storage, read> Vs: array<vec2u>; // @f16
@group(0) @binding(5) var<storage, read> dO: array<vec4f>; // [B, Sq, Hq, head_dim]
// backward_q: reads (m, log l) of the statistics and writes D into their third component
@group(0) @binding(6) var<storage, read_write> qstats: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dQ: array<vec4f>;
// backward_kv (8 storage buffers per entry point at most: WebGPU's default limit)
@group(0) @binding(6) var<storage, read> kstats: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dK: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> dV: array<vec4f>;

fn ldQ(i: u32) -> vec4f { return Qs[i]; } // @f32
fn ldK(i: u32) -> vec4f { return Ks[i]; } // @f32
fn ldV(i: u32) -> vec4f { return Vs[i]; } // @f32
fn unpack4(w: vec2u) -> vec4f { return vec4f(unpack2x16float(w.x), unpack2x16float(w.y)); } // @f16
fn ldQ(i: u32) -> vec4f { return unpack4(Qs[i]); } // @f16
fn ldK(i: u32) -> vec4f { return unpack4(Ks[i]); } // @f16
fn ldV(i: u32) -> vec4f { return unpack4(Vs[i]); } // @f16

// PCG-RXS-M-XS hash, as kernels/dropout.wgsl.
fn pcg(v: vec4u) -> vec4u {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> vec4u(28u)) + 4u)) ^ state) * 277803737u;
  return (word >> vec4u(22u)) ^ word;
}

// Keep-mask of 4 queries (element indices e) for one key.
fn keep(e: vec4u) -> vec4<bool> {
  return pcg(pcg(e) ^ vec4u(p.key)) >= vec4u(p.threshold);
}

struct Tile {
  valid: bool,
  b: u32,
  h: u32, // query head (forward, backward_q) or KV head (backward_kv)
  r0: u32, // first of the invocation's 4 rows
  w0: u32, // first row of the workgroup
}

fn tileOf(wid: vec3u, lane: u32, heads: u32) -> Tile {
  let l = wid.x + wid.y * p.gridX;
  let bh = l / p.tiles;
  var t: Tile;
  t.valid = bh < p.B * heads;
  let c = min(bh, p.B * heads - 1u);
  t.b = c / heads;
  t.h = c % heads;
  t.w0 = (l % p.tiles) * 32u;
  t.r0 = t.w0 + lane * 4u;
  return t;
}

// Additive mask of keys j..j+3 (0 without a mask).
fn maskOf(b: u32, j: u32) -> vec4f {
  if (p.has_mask == 0u) { return vec4f(); }
  let last = p.Sk - 1u;
  let o = b * p.Sk;
  return vec4f(mask[o + min(j, last)], mask[o + min(j + 1u, last)], mask[o + min(j + 2u, last)],
               mask[o + min(j + 3u, last)]);
}

// Excluded (query rows q4) × key j: past Sk, or hidden by the causal mask.
fn excluded(q4: vec4u, j: u32) -> vec4<bool> {
  var e = vec4<bool>(j >= p.Sk);
  if (CAUSAL) { e = e | (vec4u(j + p.Sq) > q4 + p.Sk); }
  return e;
}

// Scores of one key column: clamp as softmax.wgsl; excluded entries become NEG_MAX (they never
// raise the row max; their probability is forced to 0 by the caller).
fn scoreCol(s: vec4f, m: f32, ex: vec4<bool>) -> vec4f {
  return select(max(s + m, vec4f(NEG_MAX)), vec4f(NEG_MAX), ex);
}

fn expCol(s: vec4f, mx: vec4f, ex: vec4<bool>) -> vec4f {
  return select(exp(max(s - mx, vec4f(-104.0))), vec4f(), ex);
}

// Causal: the last key any query of rows [w0, w0 + 32) sees, plus one (capped at Sk).
fn keyEnd(w0: u32) -> u32 {
  if (!CAUSAL) { return p.Sk; }
  let a = min(w0 + 32u, p.Sq) + p.Sk;
  return select(0u, min(p.Sk, a - p.Sq), a > p.Sq);
}

@compute @workgroup_size(8)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tileOf(wid, lid.x, p.Hq);
  if (!t.valid) { return; }
  let hk = t.h / p.group;
  let lastQ = p.Sq - 1u;
  let qb = t.b * p.qsB + t.h * p.qsH;
  let qr = vec4u(min(t.r0, lastQ), min(t.r0 + 1u, lastQ), min(t.r0 + 2u, lastQ), min(t.r0 + 3u, lastQ)) * p.qsS + qb;
  let q4 = vec4u(t.r0) + vec4u(0u, 1u, 2u, 3u);
  // Q$c[j] = scale · Q(rows, 4c + j)
  let Q$c = transpose(mat4x4f(Qf[qr.x + $cu], Qf[qr.y + $cu], Qf[qr.z + $cu], Qf[qr.w + $cu])) * p.scale;
  var O$c = mat4x4f();
  var m = vec4f(NEG_MAX);
  var l = vec4f();
  let kb = t.b * p.ksB + hk * p.ksH;
  let kend = keyEnd(t.w0);
  let lastK = p.Sk - 1u;
  let erow = ((t.b * p.Hq + t.h) * p.Sq + q4) * p.Sk;
  for (var j = 0u; j < kend; j += 4u) {
    let kr = vec4u(min(j, lastK), min(j + 1u, lastK), min(j + 2u, lastK), min(j + 3u, lastK)) * p.ksS + kb;
    var S = mat4x4f();
    S += Q$c * mat4x4f(Kf[kr.x + $cu], Kf[kr.y + $cu], Kf[kr.z + $cu], Kf[kr.w + $cu]);
    let mk = maskOf(t.b, j);
    let e0 = excluded(q4, j);
    let e1 = excluded(q4, j + 1u);
    let e2 = excluded(q4, j + 2u);
    let e3 = excluded(q4, j + 3u);
    let s0 = scoreCol(S[0], mk.x, e0);
    let s1 = scoreCol(S[1], mk.y, e1);
    let s2 = scoreCol(S[2], mk.z, e2);
    let s3 = scoreCol(S[3], mk.w, e3);
    let mn = max(m, max(max(s0, s1), max(s2, s3)));
    let alpha = exp(max(m - mn, vec4f(-104.0)));
    var p0 = expCol(s0, mn, e0);
    var p1 = expCol(s1, mn, e1);
    var p2 = expCol(s2, mn, e2);
    var p3 = expCol(s3, mn, e3);
    l = l * alpha + (p0 + p1) + (p2 + p3);
    m = mn;
    if (DROPOUT) {
      p0 = select(vec4f(), p0 * p.dscale, keep(erow + j));
      p1 = select(vec4f(), p1 * p.dscale, keep(erow + j + 1u));
      p2 = select(vec4f(), p2 * p.dscale, keep(erow + j + 2u));
      p3 = select(vec4f(), p3 * p.dscale, keep(erow + j + 3u));
    }
    let P = mat4x4f(p0, p1, p2, p3);
    O$c = mat4x4f(O$c[0] * alpha, O$c[1] * alpha, O$c[2] * alpha, O$c[3] * alpha) + P * transpose(mat4x4f(Vf[kr.x + $cu], Vf[kr.y + $cu], Vf[kr.z + $cu], Vf[kr.w + $cu]));
  }
  // l ≥ 1 for every row with a key in range (the max term is exp(0)); a row with none (causal with
  // Sq > Sk) gets O = 0.
  let inv = select(1.0 / l, vec4f(), l == vec4f());
  let logl = log(max(l, vec4f(1e-30)));
  // Rows one by one with constant indices: a dynamic index into the blocks costs seconds of
  // shader compile time on llvmpipe.
  let T$c = transpose(O$c);
  let ob = (t.b * p.Sq * p.Hq + t.h) * NC;
  let rs = p.Hq * NC;
  let sr = (t.b * p.Hq + t.h) * p.Sq + t.r0;
  if (t.r0 < p.Sq) {
    O[ob + t.r0 * rs + $cu] = T$c[0] * inv.x;
    stats[sr] = vec4f(m.x, logl.x, 0.0, 0.0);
  }
  if (t.r0 + 1u < p.Sq) {
    O[ob + (t.r0 + 1u) * rs + $cu] = T$c[1] * inv.y;
    stats[sr + 1u] = vec4f(m.y, logl.y, 0.0, 0.0);
  }
  if (t.r0 + 2u < p.Sq) {
    O[ob + (t.r0 + 2u) * rs + $cu] = T$c[2] * inv.z;
    stats[sr + 2u] = vec4f(m.z, logl.z, 0.0, 0.0);
  }
  if (t.r0 + 3u < p.Sq) {
    O[ob + (t.r0 + 3u) * rs + $cu] = T$c[3] * inv.w;
    stats[sr + 3u] = vec4f(m.w, logl.w, 0.0, 0.0);
  }
}

@compute @workgroup_size(8)
fn backward_q(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tileOf(wid, lid.x, p.Hq);
  if (!t.valid) { return; }
  let hk = t.h / p.group;
  let lastQ = p.Sq - 1u;
  let qb = t.b * p.qsB + t.h * p.qsH;
  let qc = vec4u(min(t.r0, lastQ), min(t.r0 + 1u, lastQ), min(t.r0 + 2u, lastQ), min(t.r0 + 3u, lastQ));
  let qr = qc * p.qsS + qb;
  let orow = (t.b * p.Sq + qc) * p.Hq * NC + t.h * NC;
  let q4 = vec4u(t.r0) + vec4u(0u, 1u, 2u, 3u);
  let Q$c = transpose(mat4x4f(ldQ(qr.x + $cu), ldQ(qr.y + $cu), ldQ(qr.z + $cu), ldQ(qr.w + $cu))) * p.scale;
  let G$c = transpose(mat4x4f(dO[orow.x + $cu], dO[orow.y + $cu], dO[orow.z + $cu], dO[orow.w + $cu]));
  // FA2's D_i = rowsum(dO ⊙ O) = Σ_j P_ij dP_ij, accumulated here from the recomputed blocks
  // instead of read from a saved O (which then need not be kept, and which in f16 would make
  // Σ_j dS_ij ≠ 0). dQ = scale · Σ_j P_ij (dP_ij − D_i) k_j = scale · (A − D ⊙ B) with
  // A = Σ_j P_ij dP_ij k_j and B = Σ_j P_ij k_j.
  var D = vec4f();
  var B$c = mat4x4f();
  let sr = (t.b * p.Hq + t.h) * p.Sq;
  let st0 = qstats[sr + qc.x];
  let st1 = qstats[sr + qc.y];
  let st2 = qstats[sr + qc.z];
  let st3 = qstats[sr + qc.w];
  let m = vec4f(st0.x, st1.x, st2.x, st3.x);
  let logl = vec4f(st0.y, st1.y, st2.y, st3.y);
  var dQ$c = mat4x4f();
  let kb = t.b * p.ksB + hk * p.ksH;
  let kend = keyEnd(t.w0);
  let lastK = p.Sk - 1u;
  let erow = ((t.b * p.Hq + t.h) * p.Sq + q4) * p.Sk;
  for (var j = 0u; j < kend; j += 4u) {
    let kr = vec4u(min(j, lastK), min(j + 1u, lastK), min(j + 2u, lastK), min(j + 3u, lastK)) * p.ksS + kb;
    let K$c = mat4x4f(ldK(kr.x + $cu), ldK(kr.y + $cu), ldK(kr.z + $cu), ldK(kr.w + $cu));
    var S = mat4x4f();
    S += Q$c * K$c;
    var dP = mat4x4f();
    dP += G$c * mat4x4f(ldV(kr.x + $cu), ldV(kr.y + $cu), ldV(kr.z + $cu), ldV(kr.w + $cu));
    let mk = maskOf(t.b, j);
    let e0 = excluded(q4, j);
    let e1 = excluded(q4, j + 1u);
    let e2 = excluded(q4, j + 2u);
    let e3 = excluded(q4, j + 3u);
    let p0 = expCol(scoreCol(S[0], mk.x, e0) - m, logl, e0);
    let p1 = expCol(scoreCol(S[1], mk.y, e1) - m, logl, e1);
    let p2 = expCol(scoreCol(S[2], mk.z, e2) - m, logl, e2);
    let p3 = expCol(scoreCol(S[3], mk.w, e3) - m, logl, e3);
    var g0 = dP[0];
    var g1 = dP[1];
    var g2 = dP[2];
    var g3 = dP[3];
    if (DROPOUT) {
      g0 = select(vec4f(), g0 * p.dscale, keep(erow + j));
      g1 = select(vec4f(), g1 * p.dscale, keep(erow + j + 1u));
      g2 = select(vec4f(), g2 * p.dscale, keep(erow + j + 2u));
      g3 = select(vec4f(), g3 * p.dscale, keep(erow + j + 3u));
    }
    let pg0 = p0 * g0;
    let pg1 = p1 * g1;
    let pg2 = p2 * g2;
    let pg3 = p3 * g3;
    D += (pg0 + pg1) + (pg2 + pg3);
    let PG = mat4x4f(pg0, pg1, pg2, pg3);
    let Pm = mat4x4f(p0, p1, p2, p3);
    let Kt$c = transpose(K$c);
    dQ$c += PG * Kt$c;
    B$c += Pm * Kt$c;
  }
  let T$c = transpose(mat4x4f(dQ$c[0] - D * B$c[0], dQ$c[1] - D * B$c[1], dQ$c[2] - D * B$c[2], dQ$c[3] - D * B$c[3])) * p.scale;
  let r1 = qb + t.r0 * p.qsS;
  if (t.r0 < p.Sq) {
    dQ[r1 + $cu] = T$c[0];
    qstats[sr + t.r0] = vec4f(m.x, logl.x, D.x, 0.0);
  }
  if (t.r0 + 1u < p.Sq) {
    dQ[r1 + p.qsS + $cu] = T$c[1];
    qstats[sr + t.r0 + 1u] = vec4f(m.y, logl.y, D.y, 0.0);
  }
  if (t.r0 + 2u < p.Sq) {
    dQ[r1 + 2u * p.qsS + $cu] = T$c[2];
    qstats[sr + t.r0 + 2u] = vec4f(m.z, logl.z, D.z, 0.0);
  }
  if (t.r0 + 3u < p.Sq) {
    dQ[r1 + 3u * p.qsS + $cu] = T$c[3];
    qstats[sr + t.r0 + 3u] = vec4f(m.w, logl.w, D.w, 0.0);
  }
}

@compute @workgroup_size(8)
fn backward_kv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tileOf(wid, lid.x, p.Hkv);
  if (!t.valid) { return; }
  let lastK = p.Sk - 1u;
  let kb = t.b * p.ksB + t.h * p.ksH;
  let kr = vec4u(min(t.r0, lastK), min(t.r0 + 1u, lastK), min(t.r0 + 2u, lastK), min(t.r0 + 3u, lastK)) * p.ksS + kb;
  // K$c, V$c: rows = head_dim chunk, columns = this invocation's 4 keys.
  let K$c = mat4x4f(ldK(kr.x + $cu), ldK(kr.y + $cu), ldK(kr.z + $cu), ldK(kr.w + $cu));
  let V$c = mat4x4f(ldV(kr.x + $cu), ldV(kr.y + $cu), ldV(kr.z + $cu), ldV(kr.w + $cu));
  var dK$c = mat4x4f();
  var dV$c = mat4x4f();
  let lastQ = p.Sq - 1u;
  let mk = maskOf(t.b, t.r0);
  // Causal: queries before the first one that sees key w0 contribute nothing.
  var qstart = 0u;
  if (CAUSAL && t.w0 + p.Sq > p.Sk) { qstart = ((t.w0 + p.Sq - p.Sk) / 4u) * 4u; }
  for (var g = 0u; g < p.group; g++) {
    let h = t.h * p.group + g;
    let qb = t.b * p.qsB + h * p.qsH;
    let sr = (t.b * p.Hq + h) * p.Sq;
    for (var i = qstart; i < p.Sq; i += 4u) {
      let qc = vec4u(min(i, lastQ), min(i + 1u, lastQ), min(i + 2u, lastQ), min(i + 3u, lastQ));
      let qr = qc * p.qsS + qb;
      let orow = (t.b * p.Sq + qc) * p.Hq * NC + h * NC;
      let q4 = vec4u(i) + vec4u(0u, 1u, 2u, 3u);
      let Q$c = transpose(mat4x4f(ldQ(qr.x + $cu), ldQ(qr.y + $cu), ldQ(qr.z + $cu), ldQ(qr.w + $cu))) * p.scale;
      let G$c = transpose(mat4x4f(dO[orow.x + $cu], dO[orow.y + $cu], dO[orow.z + $cu], dO[orow.w + $cu]));
      var S = mat4x4f();
      S += Q$c * K$c;
      var dP = mat4x4f();
      dP += G$c * V$c;
      let st0 = kstats[sr + qc.x];
      let st1 = kstats[sr + qc.y];
      let st2 = kstats[sr + qc.z];
      let st3 = kstats[sr + qc.w];
      let m = vec4f(st0.x, st1.x, st2.x, st3.x);
      let logl = vec4f(st0.y, st1.y, st2.y, st3.y);
      let D = vec4f(st0.z, st1.z, st2.z, st3.z);
      let rowOut = q4 >= vec4u(p.Sq);
      let e0 = excluded(q4, t.r0) | rowOut;
      let e1 = excluded(q4, t.r0 + 1u) | rowOut;
      let e2 = excluded(q4, t.r0 + 2u) | rowOut;
      let e3 = excluded(q4, t.r0 + 3u) | rowOut;
      let p0 = expCol(scoreCol(S[0], mk.x, e0) - m, logl, e0);
      let p1 = expCol(scoreCol(S[1], mk.y, e1) - m, logl, e1);
      let p2 = expCol(scoreCol(S[2], mk.z, e2) - m, logl, e2);
      let p3 = expCol(scoreCol(S[3], mk.w, e3) - m, logl, e3);
      var d0 = p0;
      var d1 = p1;
      var d2 = p2;
      var d3 = p3;
      var g0 = dP[0];
      var g1 = dP[1];
      var g2 = dP[2];
      var g3 = dP[3];
      if (DROPOUT) {
        let erow = ((t.b * p.Hq + h) * p.Sq + q4) * p.Sk + t.r0;
        let k0 = keep(erow);
        let k1 = keep(erow + 1u);
        let k2 = keep(erow + 2u);
        let k3 = keep(erow + 3u);
        d0 = select(vec4f(), d0 * p.dscale, k0);
        d1 = select(vec4f(), d1 * p.dscale, k1);
        d2 = select(vec4f(), d2 * p.dscale, k2);
        d3 = select(vec4f(), d3 * p.dscale, k3);
        g0 = select(vec4f(), g0 * p.dscale, k0);
        g1 = select(vec4f(), g1 * p.dscale, k1);
        g2 = select(vec4f(), g2 * p.dscale, k2);
        g3 = select(vec4f(), g3 * p.dscale, k3);
      }
      // Pd: rows = queries, columns = keys; dVᵀ chunk (rows d, cols keys) += dOᵀ · Pd.
      let Pd = mat4x4f(d0, d1, d2, d3);
      let dS = mat4x4f(p0 * (g0 - D), p1 * (g1 - D), p2 * (g2 - D), p3 * (g3 - D));
      dV$c += transpose(G$c) * Pd;
      dK$c += transpose(Q$c) * dS;
    }
  }
  // dK$c, dV$c: rows = head_dim chunk, columns = keys: column j is key r0 + j's chunk.
  let r1 = kb + t.r0 * p.ksS;
  if (t.r0 < p.Sk) {
    dK[r1 + $cu] = dK$c[0];
    dV[r1 + $cu] = dV$c[0];
  }
  if (t.r0 + 1u < p.Sk) {
    dK[r1 + p.ksS + $cu] = dK$c[1];
    dV[r1 + p.ksS + $cu] = dV$c[1];
  }
  if (t.r0 + 2u < p.Sk) {
    dK[r1 + 2u * p.ksS + $cu] = dK$c[2];
    dV[r1 + 2u * p.ksS + $cu] = dV$c[2];
  }
  if (t.r0 + 3u < p.Sk) {
    dK[r1 + 3u * p.ksS + $cu] = dK$c[3];
    dV[r1 + 3u * p.ksS + $cu] = dV$c[3];
  }
}
