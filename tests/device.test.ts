import assert from "node:assert/strict";
import { Device } from "../src/runtime/device.ts";
import { defineKernel } from "../src/runtime/kernel.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { testDevice } from "./helpers/gpu.ts";

Deno.test("Device.create explains what to install when there is no adapter", async () => {
  const gpu = navigator.gpu;
  const requestAdapter = gpu.requestAdapter;
  // deno-lint-ignore no-explicit-any
  (gpu as any).requestAdapter = () => Promise.resolve(null);
  try {
    await assert.rejects(() => Device.create(), /No WebGPU adapter found.*mesa-vulkan-drivers/s);
  } finally {
    // deno-lint-ignore no-explicit-any
    (gpu as any).requestAdapter = requestAdapter;
  }
});

Deno.test("adapter facts, raised limits and a cached pipeline per variant", async () => {
  const device = await testDevice();
  assert.equal(typeof device.adapterInfo.description, "string");
  assert.equal(typeof device.adapterInfo.isFallbackAdapter, "boolean");
  assert.ok(device.describe().length > 0);
  assert.ok(device.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024);
  const code = "@group(0) @binding(1) var<storage, read_write> o: array<f32>;\n" +
    "override V: f32 = 0.0;\n@compute @workgroup_size(1) fn main() { o[0] = V; }";
  const a = device.pipeline("t.wgsl", code, { V: 1 });
  assert.equal(device.pipeline("t.wgsl", code, { V: 1 }), a);
  assert.notEqual(device.pipeline("t.wgsl", code, { V: 2 }), a);
  // The cache keys on the code: the same label with other code is another pipeline.
  const other = code.replace("o[0] = V;", "o[0] = V + 1.0;");
  assert.notEqual(device.pipeline("t.wgsl", other, { V: 1 }), a);
});

Deno.test("memory accounting: live, peak, pool reuse by size class", async () => {
  const device = await testDevice();
  const base = device.memory.liveBytes;
  device.memory.resetPeak();
  const a = Tensor.empty(device, [1000], { category: "parameter" });
  assert.equal(device.memory.liveBytes - base, 4000);
  assert.equal(device.memory.byCategory.parameter >= 4000, true);
  const buffer = a.buffer;
  a.dispose();
  assert.equal(device.memory.liveBytes, base);
  assert.equal(device.memory.peakBytes - base, 4000);
  assert.ok(device.memory.pooledBytes >= 4000);
  const b = Tensor.empty(device, [1000]);
  assert.equal(b.buffer, buffer, "a freed buffer of the same size class is reused");
  b.dispose();
  device.memory.resetPeak();
  assert.equal(device.memory.peakBytes, device.memory.liveBytes);
});

Deno.test("a WebGPU validation error is raised with its reason at the next sync", async () => {
  const device = await testDevice();
  const code = "@group(0) @binding(1) var<storage, read_write> o: array<f32>;\n" +
    "@compute @workgroup_size(1) fn main() { o[0] = 1.0; }";
  const kernel = defineKernel({ name: "bad.wgsl", code, bindings: ["o"] });
  // Binding a MAP_READ buffer as storage is invalid.
  const wrong = device.gpu.createBuffer({
    size: 16,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  kernel.launch(device, { bindings: { o: wrong }, workgroups: [1] });
  await assert.rejects(() => device.sync(), /WebGPU error/);
  wrong.destroy();
  await device.sync();
});

Deno.test("values round-trip for f32, i32, and a use after dispose is an error", async () => {
  const device = await testDevice();
  const f = Tensor.from(device, [1.5, -2, 3], [3]);
  const i = Tensor.from(device, new Int32Array([7, -8]), [2]);
  assert.deepEqual(Array.from(await f.toArray()), [1.5, -2, 3]);
  assert.deepEqual(Array.from(await i.toArray()), [7, -8]);
  assert.equal(i.dtype, "i32");
  assert.throws(
    () => Tensor.from(device, [1, 2], [3]),
    /data has 2 elements but shape \[3\] needs 3/,
  );
  f.dispose();
  await assert.rejects(() => f.toArray(), /used after dispose/);
  i.dispose();
});
