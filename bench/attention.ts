/**
 * Attention alone: recomputed (flash) vs eager (HF BertSelfAttention's ops after the projections:
 * permutes, Q·Kᵀ, softmax with mask, dropout fused into ·V, permute back), forward + backward,
 * interleaved A B A B, median wall and CPU ms per step; first-call time (pipeline compile) apart.
 *
 *   deno run -A bench/attention.ts [--batch 2] [--seq 128] [--heads 12] [--head-dim 64] [--reps 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { Device } from "../src/runtime/device.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { flashAttention } from "../src/ops/flash_attention.ts";
import { matmul } from "../src/ops/matmul.ts";
import { softmax } from "../src/ops/softmax.ts";
import { dropoutMatmul } from "../src/ops/dropout.ts";
import { permute } from "../src/ops/shape.ts";
import { mulberry32 } from "../src/util/rng.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "2" },
    seq: { type: "string", default: "128" },
    heads: { type: "string", default: "12" },
    "head-dim": { type: "string", default: "64" },
    reps: { type: "string", default: "5" },
    dropout: { type: "string", default: "0.1" },
  },
});
const [B, S, H, hd, reps] = ["batch", "seq", "heads", "head-dim", "reps"].map((k) =>
  Number(values[k as keyof typeof values])
);
const p = Number(values.dropout);
const device = await Device.create();
const r = mulberry32(1);
const rand = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);
const shape = [B, S, H, hd];
const n = B * S * H * hd;
const mask = Tensor.from(device, new Float32Array(B * S), [B, S]);
const dyT = Tensor.from(device, rand(n), shape);

function step(kind: "flash" | "eager", seed: number): void {
  const q = Tensor.from(device, rand(n), shape, { requiresGrad: true });
  const k = Tensor.from(device, rand(n), shape, { requiresGrad: true });
  const v = Tensor.from(device, rand(n), shape, { requiresGrad: true });
  const out = tidy(() => {
    if (kind === "flash") {
      return flashAttention(q, k, v, { mask, dropout: p, seed });
    }
    const qh = permute(q, [0, 2, 1, 3]);
    const kh = permute(k, [0, 2, 1, 3]);
    const vh = permute(v, [0, 2, 1, 3]);
    const scores = matmul(qh, kh, { transB: true });
    const probs = softmax(scores, mask, { scale: 1 / Math.sqrt(hd) });
    const ctx = p > 0 ? dropoutMatmul(probs, vh, p, seed) : matmul(probs, vh);
    return permute(ctx, [0, 2, 1, 3]);
  });
  out.backward(dyT);
  for (const t of [out, q, k, v, q.grad, k.grad, v.grad]) t?.dispose();
}

async function timed(kind: "flash" | "eager", seed: number): Promise<[number, number]> {
  await device.sync();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  step(kind, seed);
  await device.sync();
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000];
}

const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const first: Record<string, number> = {};
for (const kind of ["flash", "eager"] as const) first[kind] = (await timed(kind, 1))[0];
const wall: Record<string, number[]> = { flash: [], eager: [] };
const cpu: Record<string, number[]> = { flash: [], eager: [] };
const ratios: number[] = [];
for (let i = 0; i < reps; i++) {
  for (const kind of ["flash", "eager"] as const) {
    const [w, c] = await timed(kind, i + 2);
    wall[kind].push(w);
    cpu[kind].push(c);
  }
  ratios.push(wall.flash[i] / wall.eager[i]);
}
console.log(
  `B ${B} S ${S} H ${H} d ${hd} p ${p}: first call flash ${first.flash.toFixed(0)} ms, eager ${
    first.eager.toFixed(0)
  } ms`,
);
for (const kind of ["flash", "eager"]) {
  console.log(
    `${kind}: wall ${med(wall[kind]).toFixed(1)} ms, CPU ${
      med(cpu[kind]).toFixed(1)
    } ms (median of ${reps})`,
  );
}
console.log(
  `flash / eager wall: median ${med(ratios).toFixed(2)}× (min ${
    Math.min(...ratios).toFixed(2)
  }, max ${Math.max(...ratios).toFixed(2)})`,
);
