// Where does a VeLoRA step spend its time compared with full training? Two views:
//   1. kernels: for every encoder linear shape of the model at T = batch·seq tokens, the median
//      time of the kernels a linear layer runs per step (forward NT matmul + bias, dX NN matmul,
//      bias-grad column sum, and either the dense dW TN matmul (full) or VeLoRA's project +
//      weightGrad (+ initV, first step only)), summed per step for the whole encoder;
//   2. phases: forward / backward / optimizer of whole steps with a GPU wait between them, for
//      "full" and "velora-all".
//
// Usage: deno run -A bench/lib/profile_velora.ts [--model base|small] [--batch N] [--seq N]
//          [--iters N] [--reps N] [--no-phases]
// Each kernel timing is `reps` dispatches in one submit and one GPU wait, minus the cost of an
// empty submit-and-wait, divided by reps; median of `iters`.

import { type Device, Tensor, tidy } from "../../mod.ts";
import { matmulInto } from "../../src/ops/matmul.ts";
import { sumRows } from "../../src/ops/reduce.ts";
import { initV, project, type SubTokenShape, weightGrad } from "../../src/velora/projection.ts";
import { subTokenShape } from "../../src/velora/velora_linear.ts";
import { cpuClock, othersLoad } from "./cpu.ts";
import {
  type BenchMode,
  BERT_BASE,
  BERT_SMALL,
  buildBenchModel,
  disposeGpuBatch,
  type ModelShape,
  NUM_GROUPS,
  randomBatch,
  uploadBatch,
} from "./step.ts";
import { AdamW } from "../../mod.ts";
import { trainStep } from "../../src/train/step.ts";
// The Trainer's defaults (HF TrainingArguments): the benchmark steps as a default run does.
import { TRAINING_ARGS_DEFAULTS as D } from "../../src/train/training_args.ts";

/** One kernel timing. */
export interface KernelTiming {
  /** Linear type, e.g. "query" or "intermediate.dense". */
  layer: string;
  /** Kernel name. */
  kernel: string;
  /** [in, out]. */
  shape: [number, number];
  /** Median ms per call. */
  ms: number;
  /** Calls per training step over the whole encoder. */
  perStep: number;
  /** Which mode runs it per step: "both", "full", "velora", "velora-first-step". */
  mode: "both" | "full" | "velora" | "velora-first-step";
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function seeded(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296 - 0.5;
  });
}

async function timeIt(
  device: Device,
  fn: () => void,
  reps: number,
  iters: number,
  emptyMs: number,
): Promise<number> {
  fn(); // compile + warm
  await device.sync();
  const ts: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    await device.sync();
    ts.push(Math.max(0, performance.now() - t0 - emptyMs) / reps);
  }
  return median(ts);
}

/** Times the per-layer kernels of `shape` at `tokens` tokens. */
export async function profileKernels(
  device: Device,
  shape: ModelShape,
  tokens: number,
  o: { reps: number; iters: number; log?: (m: string) => void },
): Promise<KernelTiming[]> {
  const log = o.log ?? (() => {});
  // Cost of a submit-and-wait with nothing to do.
  const empty: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await device.sync();
    empty.push(performance.now() - t0);
  }
  const emptyMs = median(empty);
  log(`empty submit-and-wait: ${emptyMs.toFixed(2)} ms`);
  const D = shape.hidden;
  const I = shape.intermediate;
  const L = shape.layers;
  // [type, in, out, forward calls sharing one z (q/k/v share theirs)]
  const types: [string, number, number, number][] = [
    ["query", D, D, 1],
    ["key", D, D, 0],
    ["value", D, D, 0],
    ["attention.output.dense", D, D, 1],
    ["intermediate.dense", D, I, 1],
    ["output.dense", I, D, 1],
  ];
  const out: KernelTiming[] = [];
  const seen = new Map<string, KernelTiming[]>();
  for (const [layer, inF, outF, projects] of types) {
    const key = `${inF}x${outF}`;
    const cached = seen.get(key);
    if (cached) {
      for (const k of cached) {
        const perZ = k.kernel === "project" || k.kernel === "initV";
        out.push({ ...k, layer, perStep: perZ ? projects * L : L });
      }
      continue;
    }
    const x = Tensor.from(device, seeded(tokens * inF, 1), [tokens, inF]);
    const w = Tensor.from(device, seeded(outF * inF, 2), [outF, inF]);
    const b = Tensor.from(device, seeded(outF, 3), [outF]);
    const dy = Tensor.from(device, seeded(tokens * outF, 4), [tokens, outF]);
    const s: SubTokenShape = subTokenShape(inF, { num_groups: NUM_GROUPS });
    const v = Tensor.from(device, seeded(s.sub, 5), [s.sub]);
    const fallback = Tensor.from(device, seeded(s.sub, 6), [s.sub]);
    const flag = Tensor.from(device, new Int32Array(1), [1], { dtype: "i32" });
    const y = Tensor.empty(device, [tokens, outF]);
    const dx = Tensor.empty(device, [tokens, inF]);
    const dw = Tensor.empty(device, [outF, inF]);
    const z = project(x, s, v);
    const mine: KernelTiming[] = [];
    const add = async (
      kernel: string,
      mode: KernelTiming["mode"],
      perStep: number,
      fn: () => void,
    ) => {
      const ms = await timeIt(device, fn, o.reps, o.iters, emptyMs);
      const t: KernelTiming = { layer, kernel, shape: [inF, outF], ms, perStep, mode };
      mine.push(t);
      out.push(t);
      log(`  ${layer} [${inF}→${outF}] ${kernel}: ${ms.toFixed(2)} ms`);
    };
    try {
      await add("fwd NT matmul+bias", "both", L, () => {
        matmulInto(y, x, w, { batch: 1, m: tokens, n: outF, k: inF }, { transB: true, bias: b });
      });
      await add("dX NN matmul", "both", L, () => {
        matmulInto(dx, dy, w, { batch: 1, m: tokens, n: inF, k: outF });
      });
      await add("db sumRows", "both", L, () => tidy(() => void sumRows(dy)));
      await add("dW TN matmul", "full", L, () => {
        matmulInto(dw, dy, x, { batch: 1, m: outF, n: inF, k: tokens }, { transA: true });
      });
      await add("project", "velora", projects * L, () => tidy(() => void project(x, s, v)));
      await add(
        "weightGrad",
        "velora",
        L,
        () => tidy(() => void weightGrad(dy, z, v, s, outF, 1)),
      );
      await add(
        "initV",
        "velora-first-step",
        projects * L,
        () => initV(x, s, v, fallback, flag, { mode: "set" }),
      );
      seen.set(key, mine);
    } finally {
      for (const t of [x, w, b, dy, v, fallback, flag, y, dx, dw, z]) t.dispose();
    }
  }
  return out;
}

/** Per-step milliseconds of the kernels of `mode` (first-step initV excluded). */
export function kernelStepMs(ts: KernelTiming[], mode: "full" | "velora"): number {
  return ts.filter((t) => t.mode === "both" || t.mode === mode)
    .reduce((s, t) => s + t.ms * t.perStep, 0);
}

/** Forward / backward / optimizer time of whole steps, with a GPU wait after each phase. */
export async function profilePhases(
  device: Device,
  shape: ModelShape,
  dims: { batch: number; seq: number },
  mode: BenchMode,
  steps: number,
): Promise<{ forward: number; backward: number; optimizer: number; others: number | null }> {
  const { model } = buildBenchModel(device, shape, dims.seq, mode, 0);
  const params = [...model.parameters()].filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: D.learning_rate, weight_decay: D.weight_decay });
  const batch = uploadBatch(device, randomBatch(dims.batch, dims.seq, shape.vocab, 0));
  const f: number[] = [];
  const bw: number[] = [];
  const op: number[] = [];
  let others: number | null = null;
  try {
    const c0 = cpuClock();
    const w0 = performance.now();
    for (let i = 0; i < steps + 1; i++) {
      // The Trainer's step, with a GPU wait after the forward and after the backward.
      const t0 = performance.now();
      let t1 = t0;
      let t2 = t0;
      const r = await trainStep({ model, optimizer: opt, params, max_grad_norm: D.max_grad_norm }, [
        batch,
      ], {
        afterForward: async () => {
          await device.sync();
          t1 = performance.now();
        },
        afterBackward: async () => {
          await device.sync();
          t2 = performance.now();
        },
      });
      r.losses.forEach((l) => l.dispose());
      r.gradNorm.dispose();
      await device.sync();
      const t3 = performance.now();
      if (i === 0) continue; // compiles, VeLoRA init
      f.push(t1 - t0);
      bw.push(t2 - t1);
      op.push(t3 - t2);
    }
    others = othersLoad(c0, cpuClock(), performance.now() - w0);
  } finally {
    disposeGpuBatch(batch);
    opt.dispose();
    model.dispose();
    await device.sync();
    device.emptyCache();
  }
  return { forward: median(f), backward: median(bw), optimizer: median(op), others };
}

if (import.meta.main) {
  const { Device } = await import("../../mod.ts");
  const arg = (n: string, d: string) => {
    const i = Deno.args.indexOf(`--${n}`);
    return i >= 0 ? Deno.args[i + 1] : d;
  };
  const shape = arg("model", "small") === "base" ? BERT_BASE : BERT_SMALL;
  const batch = Number(arg("batch", shape === BERT_BASE ? "1" : "8"));
  const seq = Number(arg("seq", "128"));
  const iters = Number(arg("iters", "3"));
  const reps = Number(arg("reps", "3"));
  const device = await Device.create();
  const log = (m: string) => console.log(m);
  log(`${device.describe()}: ${shape.name} BERT, T = ${batch}×${seq} = ${batch * seq} tokens`);
  const ts = await profileKernels(device, shape, batch * seq, { reps, iters, log });
  log("\n| layer | kernel | per call ms | calls/step | ms/step | runs in |");
  log("| --- | --- | ---: | ---: | ---: | --- |");
  for (const t of ts) {
    log(
      `| ${t.layer} | ${t.kernel} | ${t.ms.toFixed(2)} | ${t.perStep} | ${
        (t.ms * t.perStep).toFixed(1)
      } | ${t.mode} |`,
    );
  }
  const full = kernelStepMs(ts, "full");
  const vel = kernelStepMs(ts, "velora");
  const by = (k: string) =>
    ts.filter((t) => t.kernel === k).reduce((s, t) => s + t.ms * t.perStep, 0);
  log(
    `\nencoder linear kernels per step: full ${full.toFixed(1)} ms, velora-all ${
      vel.toFixed(1)
    } ms (${(vel / full).toFixed(2)}×); dense dW ${by("dW TN matmul").toFixed(1)} ms vs ` +
      `weightGrad ${by("weightGrad").toFixed(1)} ms + project ${by("project").toFixed(1)} ms; ` +
      `initV (first step only) ${by("initV").toFixed(1)} ms`,
  );
  if (!Deno.args.includes("--no-phases")) {
    for (const mode of ["full", "velora-all"] as const) {
      const p = await profilePhases(device, shape, { batch, seq }, mode, 2);
      log(
        `phases ${mode}: forward ${p.forward.toFixed(0)} ms, backward ${
          p.backward.toFixed(0)
        } ms, optimizer ${p.optimizer.toFixed(0)} ms (others' load ${p.others?.toFixed(2)})`,
      );
    }
  }
  device.destroy();
}
