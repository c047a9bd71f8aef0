// Embedding lookup and its deterministic weight gradient (no float atomics, no atomics at all).
// ids are i32 [T]; weight / dW are [V, D]. Ids are clamped to [0, V) on the GPU (the kernels
// never read or write out of bounds); callers validate ids on the CPU before upload.
//
// Backward, in three dispatches (dW is zero-filled first by the caller):
//  1. `rank`: a stable counting sort of the token positions by id, without atomics: for token t,
//     less = #{s : id[s] < id[t]}, before = #{s < t : id[s] = id[t]}, total = #{s : id[s] = id[t]};
//     its sorted position is less + before (distinct for every t, so the scatter never races).
//     Each workgroup streams all ids through shared memory in tiles: O(T²) compares, one dispatch.
//     seg[t] = (less, total) for the first occurrence of an id (before = 0), (less, 0) otherwise.
//  2. `pieces`: the sorted positions are cut into chunks of K; one invocation per (chunk, column)
//     walks its chunk in order and writes, for every run of equal ids inside the chunk (a piece),
//     the sum of those tokens' dy rows at part[sorted position where the piece starts].
//  3. `gather`: one invocation per (token t, column d); only first occurrences work: they add the
//     pieces of their id's segment [less, less + total) in order (the piece at `less`, then one
//     at every multiple of K inside the segment) and write dW[id, d].
// So every sum has a fixed order (bit-identical runs) and the longest sequential loop is
// K + T/K, even when one id fills the batch (token types, padding).

struct Params {
  n: u32,      // invocations: forward T·D; rank T; pieces ⌈T/K⌉·D; gather T·D
  dim: u32,    // D
  vocab: u32,  // V
  pad: u32,    // gather: padding id whose row gets no gradient (0xffffffff = none)
  tokens: u32, // T
}

const WG: u32 = 256u;
const K: u32 = 64u; // sorted positions per chunk (EMBEDDING_GRAD_CHUNK in src/ops/embedding.ts)

@group(0) @binding(0) var<uniform> p: Params;

// forward: ids, weight → out
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// rank: ids → perm [T], seg [T] (vec2: start, count)
@group(0) @binding(2) var<storage, read_write> perm: array<u32>;
@group(0) @binding(3) var<storage, read_write> seg: array<vec2u>;

// pieces: ids, perm, dy → part [T, D]
@group(0) @binding(2) var<storage, read> qperm: array<u32>;
@group(0) @binding(3) var<storage, read> qdy: array<f32>;
@group(0) @binding(4) var<storage, read_write> qpart: array<f32>;

// gather: ids, seg, part → dW
@group(0) @binding(2) var<storage, read> gseg: array<vec2u>;
@group(0) @binding(3) var<storage, read> gpart: array<f32>;
@group(0) @binding(4) var<storage, read_write> gdw: array<f32>;

var<workgroup> tile: array<u32, WG>;

fn clamp_id(v: i32) -> u32 {
  return u32(clamp(v, 0, i32(p.vocab) - 1));
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  let t = i / p.dim;
  let d = i - t * p.dim;
  out[i] = weight[clamp_id(ids[t]) * p.dim + d];
}

@compute @workgroup_size(WG)
fn rank(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let t = grid_index(wid, lid, nwg, WG);
  let valid = t < p.tokens;
  var mine = 0u;
  if (valid) { mine = clamp_id(ids[t]); }
  var less = 0u;
  var before = 0u;
  var total = 0u;
  for (var start = 0u; start < p.tokens; start += WG) {
    if (start + lid.x < p.tokens) { tile[lid.x] = clamp_id(ids[start + lid.x]); }
    workgroupBarrier();
    let m = min(WG, p.tokens - start);
    for (var k = 0u; k < m; k++) {
      let v = tile[k];
      let eq = v == mine;
      less += select(0u, 1u, v < mine);
      total += select(0u, 1u, eq);
      before += select(0u, 1u, eq && start + k < t);
    }
    workgroupBarrier();
  }
  if (!valid) { return; }
  perm[less + before] = t;
  seg[t] = vec2u(less, select(0u, total, before == 0u));
}

@compute @workgroup_size(WG)
fn pieces(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  let chunk = i / p.dim;
  let d = i - chunk * p.dim;
  let j0 = chunk * K;
  let j1 = min(j0 + K, p.tokens);
  var cur = clamp_id(ids[qperm[j0]]);
  var start = j0;
  var acc = 0.0;
  for (var j = j0; j < j1; j++) {
    let t = qperm[j];
    let id = clamp_id(ids[t]);
    if (id != cur) {
      qpart[start * p.dim + d] = acc;
      acc = 0.0;
      start = j;
      cur = id;
    }
    acc += qdy[t * p.dim + d];
  }
  qpart[start * p.dim + d] = acc;
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, WG);
  if (i >= p.n) { return; }
  let t = i / p.dim;
  let d = i - t * p.dim;
  let s = gseg[t];
  if (s.y == 0u) { return; }
  let id = clamp_id(ids[t]);
  if (id == p.pad) { return; }
  var acc = gpart[s.x * p.dim + d];
  for (var j = (s.x / K + 1u) * K; j < s.x + s.y; j += K) { acc += gpart[j * p.dim + d]; }
  gdw[id * p.dim + d] = acc;
}
