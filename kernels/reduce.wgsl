// Reductions over f32 arrays, deterministic (fixed order, no atomics).

struct Params {
  rows: u32,   // sum_rows: rows R; sum_partial: element count n
  cols: u32,   // sum_rows: columns C; sum_partial: elements per workgroup chunk
  alpha: f32,  // multiplies the result (1/n for a mean)
  square: u32, // sum_partial: 1 = sum of squares
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// out[c] = alpha · Σ_r x[r, c]; one thread per column, rows in order.
@compute @workgroup_size(64)
fn sum_rows(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.cols) { return; }
  var acc = 0.0;
  for (var r = 0u; r < p.rows; r++) { acc += x[r * p.cols + c]; }
  out[c] = p.alpha * acc;
}

var<workgroup> partial: array<f32, 256>;

// out[w] = alpha · Σ over chunk w of x (or x²); workgroup w covers [w·cols, (w+1)·cols).
@compute @workgroup_size(256)
fn sum_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let start = wid.x * p.cols;
  let end = min(start + p.cols, p.rows);
  var acc = 0.0;
  for (var i = start + lid.x; i < end; i += 256u) {
    let v = x[i];
    acc += select(v, v * v, p.square == 1u);
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[wid.x] = p.alpha * partial[0]; }
}
