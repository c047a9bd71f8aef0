// HF RoBERTa `create_position_ids_from_input_ids`: for each row, position = (running count of
// non-padding tokens) + pad for real tokens, pad for padding tokens. One invocation per row.

struct Params {
  rows: u32,
  cols: u32,
  pad: u32,
  _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(64)
fn position_ids(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let pad = i32(p.pad);
  var count = 0;
  for (var j = 0u; j < p.cols; j++) {
    let i = r * p.cols + j;
    if (ids[i] != pad) {
      count += 1;
      out[i] = count + pad;
    } else {
      out[i] = pad;
    }
  }
}
