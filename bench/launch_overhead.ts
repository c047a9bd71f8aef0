// CPU cost of queueing one small op (kernel launch: pipeline lookup, uniform packing and cache,
// bind group, dispatch), without waiting for the GPU: 5 × 10,000 `scale` ops on a 64-element
// tensor under noGrad (output from the pool, disposed at once); prints the min and median µs per op.
// Usage: deno run -A bench/launch_overhead.ts
import { Device } from "../src/runtime/device.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { scale } from "../src/ops/basic.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";

const device = await Device.create();
const x = Tensor.from(device, new Float32Array(64).fill(1), [64]);
const run = (n: number) =>
  noGrad(() => {
    for (let i = 0; i < n; i++) scale(x, 2).dispose();
  });
run(3000); // pipelines, uniforms and pooled buffers exist before timing
await device.sync();
const times: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  run(10000);
  times.push((performance.now() - t0) / 10); // µs per op
  await device.sync();
}
times.sort((a, b) => a - b);
console.log(
  `µs per op launch (queue only), min / median of 5 × 10k: ${times[0].toFixed(1)} / ${
    times[2].toFixed(1)
  } (${device.describe()})`,
);
x.dispose();
device.destroy();
