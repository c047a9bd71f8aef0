// Grid indexing shared by every kernel launched over a 2-D grid of 1-D workgroups (`grid1d` in
// src/runtime/kernel.ts): more than 65535 workgroups fold into rows of nwg.x workgroups. This
// prelude is concatenated in front of those kernels by their definitions (GRID_WGSL).

// The linear index of this workgroup (a row index for the one-workgroup-per-row kernels).
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// The linear index of this invocation, for workgroups of `wg` invocations along x.
fn grid_index(wid: vec3u, lid: vec3u, nwg: vec3u, wg: u32) -> u32 {
  return workgroup_index(wid, nwg) * wg + lid.x;
}
