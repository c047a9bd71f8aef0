// The kernel layer (src/runtime/kernel.ts): declarations are checked against the WGSL by name,
// uniforms are packed by each field's WGSL type and offset, bindings go by name, and copies go
// through Device.copy. One GPU wait for the launch checks.
import assert from "node:assert/strict";
import { defineKernel, grid1d, GRID_WGSL } from "../src/runtime/kernel.ts";
import { parseWgsl } from "../src/runtime/wgsl_contract.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { testDevice } from "./helpers/gpu.ts";
import { dropout, dropoutMask } from "../src/ops/dropout.ts";

// Fields in an order that needs padding (vec4 aligns to 16), bindings out of numeric order.
const CODE = `
struct Params {
  n: u32,
  scale: f32,   // a whole number passed here must still be packed as f32
  shift: i32,
  offsets: vec4u,
  _pad: u32,
}
override BIAS: f32 = 0.0;
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let i = grid_index(wid, lid, nwg, 64u);
  if (i >= p.n) { return; }
  dst[i] = src[i] * p.scale + f32(p.shift) + f32(p.offsets.z) + BIAS;
}
`;

Deno.test("WGSL contract: bindings, uniform layout with vector alignment, overrides, entry points", () => {
  const c = parseWgsl(GRID_WGSL + CODE);
  assert.deepEqual(c.bindings.get("src"), {
    binding: 2,
    space: "storage",
    access: "read",
    type: "array<f32>",
  });
  assert.equal(c.bindings.get("dst")?.access, "read_write");
  assert.equal(c.bindings.get("p")?.space, "uniform");
  const params = c.structs.get("Params")!;
  assert.deepEqual(params.fields.map((f) => [f.name, f.offset]), [
    ["n", 0],
    ["scale", 4],
    ["shift", 8],
    ["offsets", 16],
    ["_pad", 32],
  ]);
  assert.equal(params.size, 48);
  assert.deepEqual([...c.overrides], ["BIAS"]);
  assert.deepEqual([...c.entryPoints], ["main"]);
});

Deno.test("defineKernel rejects names the WGSL does not declare, naming the kernel", () => {
  const code = GRID_WGSL + CODE;
  assert.throws(
    () => defineKernel({ name: "t.wgsl", code, bindings: ["src", "out"] }),
    /kernel t\.wgsl \(entry point main\): binding "out" is not a storage variable .*src@2/,
  );
  assert.throws(
    () => defineKernel({ name: "t.wgsl", code, bindings: ["src"], uniforms: ["n", "count"] }),
    /uniform field "count" is not in struct Params \(fields: n, scale, shift, offsets, _pad\)/,
  );
  assert.throws(
    () =>
      defineKernel({
        name: "t.wgsl",
        code,
        bindings: ["src", "dst"],
        uniforms: ["n"],
        constants: ["WG"],
      }),
    /constant "WG" is not a WGSL override \(it declares: BIAS\)/,
  );
  assert.throws(
    () => defineKernel({ name: "t.wgsl", code, entryPoint: "forward", bindings: [] }),
    /no @compute entry point "forward" \(it declares: main\)/,
  );
  // Layout "auto" binds what the entry point uses (through the functions it calls), no more.
  assert.throws(
    () => defineKernel({ name: "t.wgsl", code, bindings: ["src"], uniforms: ["n"] }),
    /uses storage dst, src; declared but unused: none; used but not declared: dst/,
  );
  const unusedCode = code.replace("dst[i] = src[i] * p.scale", "dst[i] = p.scale");
  assert.throws(
    () =>
      defineKernel({ name: "t.wgsl", code: unusedCode, bindings: ["src", "dst"], uniforms: ["n"] }),
    /declared but unused: src/,
  );
  assert.throws(
    () => defineKernel({ name: "t.wgsl", code, bindings: ["src", "dst"] }),
    /the entry point reads the uniform p: declare the fields it uses/,
  );
});

Deno.test("launch binds by name, packs uniforms by WGSL type, checks values; Device.copy", async () => {
  const device = await testDevice();
  const kernel = defineKernel({
    name: "t.wgsl",
    code: GRID_WGSL + CODE,
    bindings: ["dst", "src"],
    uniforms: ["n", "scale", "shift", "offsets"],
    constants: ["BIAS"],
  });
  const n = 70; // more than one workgroup, not a multiple of 64
  const src = Tensor.from(device, Float32Array.from({ length: n }, (_, i) => i), [n]);
  const dst = Tensor.empty(device, [n]);
  kernel.launch(device, {
    bindings: { src, dst },
    uniforms: { n, scale: 2, shift: -3, offsets: [0, 0, 10, 0] },
    constants: { BIAS: 0.5 },
    workgroups: grid1d(n, 64),
  });
  const copy = Tensor.empty(device, [n]);
  device.copy(dst, copy, n * 4);
  const got = await copy.toArray();
  assert.deepEqual([...got], Array.from({ length: n }, (_, i) => 2 * i - 3 + 10 + 0.5));
  assert.throws(
    () =>
      kernel.launch(device, {
        bindings: { src, dst },
        uniforms: { n: -1, scale: 1, shift: 0, offsets: [0, 0, 0, 0] },
        constants: { BIAS: 0 },
        workgroups: [1],
      }),
    /kernel t\.wgsl: uniform "n" is u32, got -1/,
  );
  assert.throws(
    () =>
      kernel.launch(device, {
        bindings: { src, dst },
        uniforms: { n, scale: 1, shift: 0, offsets: [0, 0] },
        constants: { BIAS: 0 },
        workgroups: [1],
      }),
    /uniform "offsets" needs 4 value\(s\), got \[0,0\]/,
  );
  assert.throws(() => device.copy(dst, copy, n * 4 + 4), /do not fit/);
  for (const t of [src, dst, copy]) t.dispose();
});

Deno.test("per-launch values: fresh dropout seeds add no buffers and survive a mid-batch flush", async () => {
  const device = await testDevice();
  const n = 300;
  const x = Tensor.from(device, new Float32Array(n).fill(1), [n]);
  const run = (seed: number) => dropout(x, 0.5, seed);
  run(1).dispose(); // warm: pipeline, uniform, output buffer, launch-words buffer
  const before = device.buffersCreated;
  const outs: Tensor[] = [];
  for (let seed = 2; seed < 12; seed++) {
    outs.push(run(seed));
    if (seed === 6) device.flush(); // the words of each batch are uploaded at its own flush
  }
  const got = await Promise.all(outs.map((t) => t.toArray()));
  got.forEach((values, i) => {
    const mask = dropoutMask(n, 0.5, i + 2);
    assert.deepEqual([...values], [...mask].map((k) => k * 2), `seed ${i + 2}`);
  });
  // 10 new seeds: no new uniform (the seed is not in it); new outputs only while 10 are alive.
  const created = device.buffersCreated - before;
  outs.forEach((t) => t.dispose());
  const again = device.buffersCreated;
  for (let seed = 20; seed < 40; seed++) run(seed).dispose();
  await device.sync();
  assert.equal(device.buffersCreated - again, 0, "20 more seeds create no GPU buffer");
  assert.ok(created <= 10 + 10, `at most outputs and staging buffers: ${created}`);
  x.dispose();
});
