// Losses. Cross-entropy (PyTorch `F.cross_entropy`, mean over rows whose label ≠ ignore_index):
//  ce_rows:     one workgroup per row of logits [N, C]: lse = max + log Σ exp(x − max) into
//               stats[r], row loss lse − x[label] (0 when ignored, NaN for an out-of-range label).
//  ce_mean:     one workgroup: loss = Σ row losses / count (rows in a fixed order), count into
//               stats[N]; NaN when every row is ignored (PyTorch's 0/0).
//  ce_backward: one invocation per logit: dx = g · (exp(x − lse) − onehot) / count, 0 for ignored
//               rows, NaN for rows with an out-of-range label.
//  ce_delta:    the same without the factor g / count (fused linear cross-entropy computes its
//               gradients in the forward, before g and the count of all chunks are known).
//  ce_scale:    in place, buf ·= g / count (0 when count is 0: every row ignored), applying that
//               factor in backward.
// MSE: mse_diff d = pred − target; the mean of d² comes from reduce.wgsl; mse_backward
// out = alpha · g · d.

struct Params {
  n: u32,      // ce_rows / ce_mean: rows N; ce_backward / ce_delta / ce_scale / mse_*: elements
  cols: u32,   // C
  ignore: u32, // ignore_index as i32 bits
  alpha: f32,  // mse_backward: ±2/n
}

const WG: u32 = 128u;

@group(0) @binding(0) var<uniform> p: Params;

// ce_rows: logits, labels → stats [N + 1], rowloss [N]
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowloss: array<f32>;

// ce_mean: labels, rowloss, → stats (count at N), out [1]
@group(0) @binding(1) var<storage, read> mlabels: array<i32>;
@group(0) @binding(2) var<storage, read> mrowloss: array<f32>;
@group(0) @binding(3) var<storage, read_write> mstats: array<f32>;
@group(0) @binding(4) var<storage, read_write> mout: array<f32>;

// ce_backward: logits, labels, stats, g [1] → dx
@group(0) @binding(3) var<storage, read> bstats: array<f32>;
@group(0) @binding(4) var<storage, read> bg: array<f32>;
@group(0) @binding(5) var<storage, read_write> bdx: array<f32>;

// ce_scale: buf ← buf · sg[0] / scount[0]
@group(0) @binding(1) var<storage, read_write> sbuf: array<f32>;
@group(0) @binding(2) var<storage, read> sgs: array<f32>;
@group(0) @binding(3) var<storage, read> scount: array<f32>;

// mse_diff: pred, target (tgt) → d
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> diff: array<f32>;

// mse_backward: d, g [1] → out
@group(0) @binding(1) var<storage, read> sd: array<f32>;
@group(0) @binding(2) var<storage, read> sg: array<f32>;
@group(0) @binding(3) var<storage, read_write> sout: array<f32>;

fn nan() -> f32 {
  // Through a var: a NaN constant expression is a shader-creation error in Chrome's Tint.
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

@compute @workgroup_size(WG)
fn ce_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = workgroup_index(wid, nwg);
  if (row >= p.n) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  var m = bitcast<f32>(0xff7fffffu);
  for (var c = lid; c < p.cols; c += WG) { m = max(m, logits[base + c]); }
  let rmax = reduce_max(lid, m);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) { s += exp(logits[base + c] - rmax); }
  let lse = rmax + log(reduce_sum(lid, s));
  if (lid == 0u) {
    stats[row] = lse;
    let label = labels[row];
    var loss = 0.0;
    if (label != bitcast<i32>(p.ignore)) {
      if (label >= 0 && u32(label) < p.cols) {
        loss = lse - logits[base + u32(label)];
      } else {
        loss = nan();
      }
    }
    rowloss[row] = loss;
  }
}

@compute @workgroup_size(WG)
fn ce_mean(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var acc = vec2f(0.0);
  for (var r = lid; r < p.n; r += WG) {
    if (mlabels[r] != bitcast<i32>(p.ignore)) { acc += vec2f(mrowloss[r], 1.0); }
  }
  let total = reduce_sum2(lid, acc);
  if (lid == 0u) {
    mstats[p.n] = total.y;
    mout[0] = select(nan(), total.x / total.y, total.y > 0.0);
  }
}

// scale · (softmax − onehot) of logit i (0 on an ignored row, NaN for an out-of-range label).
fn ce_grad(i: u32, scale: f32) -> f32 {
  let row = i / p.cols;
  let c = i - row * p.cols;
  let label = labels[row];
  var d = 0.0;
  if (label != bitcast<i32>(p.ignore)) {
    if (label >= 0 && u32(label) < p.cols) {
      let prob = exp(logits[i] - bstats[row]);
      d = (prob - select(0.0, 1.0, u32(label) == c)) * scale;
    } else {
      d = nan();
    }
  }
  return d;
}

@compute @workgroup_size(256)
fn ce_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  bdx[i] = ce_grad(i, bg[0] / bstats[p.n / p.cols]);
}

@compute @workgroup_size(256)
fn ce_delta(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  bdx[i] = ce_grad(i, 1.0);
}

@compute @workgroup_size(256)
fn ce_scale(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  let count = scount[0];
  sbuf[i] = select(0.0, sbuf[i] * sgs[0] / count, count > 0.0);
}

@compute @workgroup_size(256)
fn mse_diff(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  diff[i] = pred[i] - tgt[i];
}

@compute @workgroup_size(256)
fn mse_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 256u);
  if (i >= p.n) { return; }
  sout[i] = p.alpha * sg[0] * sd[i];
}
