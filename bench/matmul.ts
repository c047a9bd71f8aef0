// Matmul throughput on the BERT-base linear layers, all three forms a training step runs:
//   forward      NT  Y  = X[T×in] · W[out×in]ᵀ        (M = T,   N = out, K = in)
//   input grad   NN  dX = dY[T×out] · W[out×in]        (M = T,   N = in,  K = out)
//   weight grad  TN  dW = dY[T×out]ᵀ · X[T×in]         (M = out, N = in,  K = T)
// with T = 4096 tokens and (in, out) ∈ {(768, 768), (768, 3072), (3072, 768)}; in the same run,
// the same products on TensorFlow.js's WebGPU backend (bench/peers/tfjs_matmul.ts) as the peer.
//
// Usage: deno run -A bench/matmul.ts [--iters N] [--reps N] [--only fwd|dx|dw] [--quick]
//                                    [--peer none|tfjs] [--budget-s S]
//                                    [--family auto|register|shared]
//   --quick        only the 768→768 layer, fewer timings
//   --peer tfjs    (default) also time tf.matMul(a, b, transposeA, transposeB) of
//                  @tensorflow/tfjs-backend-webgpu; if it cannot initialise, one line says why and
//                  velora's figures are still printed. --peer none: velora only.
//   --family F     (default auto) velora's matmul kernel family: auto = the device's choice by
//                  adapter (register tiles on software adapters, shared-memory tiles on GPUs),
//                  or force "register" / "shared" (e.g. to check the GPU family's errors here)
//   --budget-s S   (default 10) an implementation whose iters × reps products of one shape would
//                  take longer (TF.js's at seconds per product) is timed with ≥ 3 timings of 1
//                  product each (the table's timings×products column says which)
// Each timing is `reps` products recorded into one compute pass and one submit, then await
// device.queue.onSubmittedWorkDone() (velora: launchMatmul on a `Device`, then `device.sync()`;
// TF.js: its backend's pass ended and its encoder submitted, then the same wait on its device;
// no readback in either); the reported figure is the median of `iters` timings after a warm-up
// (one product, which also compiles the pipeline, then an untimed run of `reps` so that no buffer
// is first allocated inside a timing).
// GFLOP/s = 2·M·N·K·batch / seconds. Both implementations run one after the other on their own
// GPUDevice of the same adapter (the adapter each got is printed). The table is also written to
// bench/RESULTS_MATMUL.md.
//
// Other implementations plug in as a `Contender` (see `contenders` below): `prepare` receives
// the problem and the host data of A and B in their stored layouts and returns a `Runner` that
// runs `reps` products and resolves when the device has finished them.
import { launchMatmul } from "../src/ops/matmul_kernel.ts";
import { Device, type MatmulFamily } from "../src/runtime/device.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { cpuClock } from "./lib/cpu.ts";

interface Problem {
  layer: string;
  form: "fwd NT" | "dX NN" | "dW TN";
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

interface Runner {
  /** Runs `reps` products back to back and resolves when the device has finished them. */
  run(reps: number): Promise<void>;
  /** Reads C [M, N] back (for the spot check). */
  read(): Promise<Float32Array>;
  dispose(): void;
  /** What the implementation ran, when it says (TF.js: the program it picked). */
  program?: string;
}

interface Contender {
  name: string;
  /** Sets up `p` from host data (A, B in their stored layouts). */
  prepare(p: Problem, a: Float32Array, b: Float32Array): Promise<Runner>;
}

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const quick = Deno.args.includes("--quick");
const ITERS = flag("iters", quick ? 3 : 5);
const REPS = flag("reps", quick ? 1 : 3);
const BUDGET_MS = flag("budget-s", 10) * 1000;
function option(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
const ONLY = option("only");
const PEER = option("peer") ?? "tfjs";
if (PEER !== "none" && PEER !== "tfjs") throw new Error(`--peer ${PEER}: expected none or tfjs`);
const FAMILY_FLAG = option("family") ?? "auto";
if (FAMILY_FLAG !== "auto" && FAMILY_FLAG !== "register" && FAMILY_FLAG !== "shared") {
  throw new Error(`--family ${FAMILY_FLAG}: expected auto, register or shared`);
}
const FAMILY: "auto" | MatmulFamily = FAMILY_FLAG;
const T = 4096;

/** Runs `fn` and returns its wall time in ms; retries (up to 3 times) while other processes use > 15% of a core. */
async function timed(fn: () => Promise<void>): Promise<{ ms: number; contended: boolean }> {
  for (let attempt = 0;; attempt++) {
    const c0 = cpuClock();
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    const c1 = cpuClock();
    const contended = c0 !== null && c1 !== null && (c1.others - c0.others) > 0.15 * ms;
    if (!contended || attempt >= 3) return { ms, contended };
    await new Promise((r) => setTimeout(r, 500));
  }
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

async function veloraContender(): Promise<
  Contender & { description: string; adapterDescription: string }
> {
  const device = await Device.create({
    matmulFamily: FAMILY === "auto" ? undefined : FAMILY,
  });
  const info = device.adapterInfo;
  return {
    name: "velora",
    adapterDescription: info.description,
    description: [
      info.description || "(no description)",
      info.vendor && `vendor ${info.vendor}`,
      info.architecture && `architecture ${info.architecture}`,
      info.isFallbackAdapter && "fallback (software) adapter",
      `matmul family ${device.matmulFamily}${FAMILY === "auto" ? " (by adapter)" : " (--family)"}`,
    ].filter(Boolean).join(", "),
    prepare(p, aHost, bHost) {
      const a = Tensor.from(device, aHost, p.transA ? [p.k, p.m] : [p.m, p.k]);
      const b = Tensor.from(device, bHost, p.transB ? [p.n, p.k] : [p.k, p.n]);
      const c = Tensor.empty(device, [p.m, p.n]);
      const args = {
        a,
        b,
        c,
        batch: 1,
        m: p.m,
        n: p.n,
        k: p.k,
        transA: p.transA,
        transB: p.transB,
      };
      return Promise.resolve({
        async run(reps: number) {
          for (let i = 0; i < reps; i++) {
            launchMatmul(device, args);
          }
          await device.sync();
        },
        async read() {
          return await c.toArray() as Float32Array;
        },
        dispose() {
          a.dispose();
          b.dispose();
          c.dispose();
          device.emptyCache(); // frees the buffers now, before the next implementation runs
        },
      });
    },
  };
}

/** Largest relative error of 16 sampled outputs against an f64 dot product. */
function spotCheck(p: Problem, a: Float32Array, b: Float32Array, c: Float32Array): number {
  let worst = 0;
  let s = 12345;
  for (let q = 0; q < 16; q++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const i = q === 0 ? 0 : q === 1 ? p.m - 1 : s % p.m;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = q === 0 ? 0 : q === 1 ? p.n - 1 : s % p.n;
    let ref = 0, mag = 0;
    for (let k = 0; k < p.k; k++) {
      const av = a[p.transA ? k * p.m + i : i * p.k + k];
      const bv = b[p.transB ? j * p.k + k : k * p.n + j];
      ref += av * bv;
      mag += Math.abs(av * bv);
    }
    worst = Math.max(worst, Math.abs(c[i * p.n + j] - ref) / Math.max(mag, 1e-30));
  }
  return worst;
}

const problems: Problem[] = [];
const layers = quick ? [[768, 768]] : [[768, 768], [768, 3072], [3072, 768]];
for (const [inF, outF] of layers) {
  const layer = `${inF}→${outF}`;
  problems.push(
    { layer, form: "fwd NT", m: T, n: outF, k: inF, transA: false, transB: true },
    { layer, form: "dX NN", m: T, n: inF, k: outF, transA: false, transB: false },
    { layer, form: "dW TN", m: outF, n: inF, k: T, transA: true, transB: false },
  );
}
const selected = problems.filter((p) =>
  !ONLY || p.form.startsWith({ fwd: "fwd", dx: "dX", dw: "dW" }[ONLY] ?? ONLY)
);

const velora = await veloraContender();
const contenders: Contender[] = [velora];
console.log(`adapter: ${velora.description}`);
let peerNote = PEER === "none" ? "TF.js: not run (--peer none)" : "";
if (PEER === "tfjs") {
  try {
    const { tfjsContender } = await import("./peers/tfjs_matmul.ts");
    const tfjs = await tfjsContender();
    contenders.push(tfjs);
    peerNote = `${tfjs.name} (tfjs-core + tfjs-backend-webgpu) on ${tfjs.description}`;
    if (tfjs.description !== velora.adapterDescription) {
      peerNote += " — NOTE: not the same adapter description as velora's";
    }
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    peerNote = `TF.js WebGPU peer not run: ${why}`;
  }
}
console.log(peerNote);
const timing = `median of ${ITERS} timings × ${REPS} products per submit, then ` +
  `onSubmittedWorkDone, after a warm-up (an implementation whose timed work would exceed ` +
  `${BUDGET_MS / 1000} s per shape gets ≥ 3 timings × 1 product)`;
console.log(`timing: ${timing}\n`);

interface Result {
  ms: number;
  gflops: number;
  contended: boolean;
  warm: number;
  err: number;
  program?: string;
  /** Timings × products per timing actually used. */
  protocol?: string;
  error?: string;
}
const results: Map<string, Result>[] = [];
for (const p of selected) {
  const aLen = p.m * p.k, bLen = p.k * p.n;
  const a = random(aLen, 1), b = random(bLen, 2);
  const byImpl = new Map<string, Result>();
  results.push(byImpl);
  for (const contender of contenders) {
    let runner: Runner | undefined;
    try {
      runner = await contender.prepare(p, a, b);
      const t0 = performance.now();
      await runner.run(1); // compiles the pipeline
      const warm = performance.now() - t0;
      const err = spotCheck(p, a, b, await runner.read());
      // Slow implementations (seconds per product) get fewer timings: 1 product per submit and
      // ≥ 3 timings, so that their timed work stays near the budget. A submit costs ~12 ms here,
      // < 1% of such a product, so per-product times stay comparable.
      let reps = REPS, iters = ITERS;
      if (warm * REPS * ITERS > BUDGET_MS) {
        const t1 = performance.now();
        await runner.run(1); // untimed: an estimate without the compile
        const est = performance.now() - t1;
        if (est * REPS * ITERS > BUDGET_MS) {
          reps = 1;
          iters = Math.min(ITERS, Math.max(3, Math.floor(BUDGET_MS / est)));
        }
      }
      if (reps > 1) await runner.run(reps); // untimed: the implementation's buffers exist now
      const times: number[] = [];
      let contended = false;
      for (let i = 0; i < iters; i++) {
        const r = await timed(() => runner!.run(reps));
        contended ||= r.contended;
        times.push(r.ms / reps);
      }
      times.sort((x, y) => x - y);
      const ms = times[times.length >> 1];
      const gflops = 2 * p.m * p.n * p.k / (ms * 1e6);
      byImpl.set(contender.name, {
        ms,
        gflops,
        contended,
        warm,
        err,
        program: runner.program,
        protocol: `${iters}×${reps}`,
      });
      console.error(
        `${p.layer} ${p.form} ${contender.name}: ${ms.toFixed(1)} ms, ${gflops.toFixed(1)} GFLOP/s${
          contended ? " (CPU contended)" : ""
        }, ${iters}×${reps} timings, first run ${warm.toFixed(0)} ms, max rel err ${
          err.toExponential(1)
        }${runner.program ? `, ${runner.program}` : ""}`,
      );
      if (!(err < 1e-5)) {
        console.error(`  WARNING: spot check error ${err} for ${p.layer} ${p.form}`);
      }
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).split("\n")[0];
      byImpl.set(contender.name, {
        ms: NaN,
        gflops: NaN,
        contended: false,
        warm: NaN,
        err: NaN,
        error: why,
      });
      console.error(`${p.layer} ${p.form} ${contender.name}: failed: ${why}`);
    } finally {
      runner?.dispose();
    }
  }
}

const peer = contenders[1];
const cell = (r: Result | undefined, f: (r: Result) => string) =>
  !r ? "—" : r.error ? "failed" : f(r);
const gf = (r: Result) => `${r.gflops.toFixed(1)}${r.contended ? " (CPU contended)" : ""}`;
const lines = [
  `| layer in→out | form | M×N×K | velora ms | velora GFLOP/s | TF.js ms | TF.js GFLOP/s | ours / TF.js | timings×products (velora / TF.js) | first run ms (velora / TF.js) | max rel err (velora / TF.js) | TF.js program |`,
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
];
selected.forEach((p, i) => {
  const v = results[i].get(velora.name);
  const t = peer ? results[i].get(peer.name) : undefined;
  const ratio = v && t && !v.error && !t.error ? `**${(v.gflops / t.gflops).toFixed(2)}×**` : "—";
  lines.push(
    `| ${p.layer} | ${p.form} | ${p.m}×${p.n}×${p.k} | ${cell(v, (r) => r.ms.toFixed(1))} | ${
      cell(v, gf)
    } | ${cell(t, (r) => r.ms.toFixed(1))} | ${cell(t, gf)} | ${ratio} | ${
      cell(v, (r) => r.protocol!)
    } / ${cell(t, (r) => r.protocol!)} | ${cell(v, (r) => r.warm.toFixed(0))} / ${
      cell(t, (r) => r.warm.toFixed(0))
    } | ${cell(v, (r) => r.err.toExponential(1))} / ${cell(t, (r) => r.err.toExponential(1))} | ${
      t?.error ? t.error : t?.program ?? "—"
    } |`,
  );
});
console.log("");
for (const l of lines) console.log(l);

const command = ["deno run -A bench/matmul.ts", ...Deno.args].join(" ");
const md = [
  "# Matmul throughput: velora vs TensorFlow.js WebGPU",
  "",
  "Latest table printed by `bench/matmul.ts` (rewritten on every run; see the script's header for",
  "the method). Ratios are from the same run.",
  "",
  `- adapter: ${velora.description}`,
  `- peer: ${peerNote}`,
  `- date: ${new Date().toISOString()}`,
  `- command: \`${command}\``,
  `- timing: ${timing}; GFLOP/s = 2·M·N·K / median time per product`,
  "",
  ...lines,
  "",
].join("\n");
const resultsPath = new URL("./RESULTS_MATMUL.md", import.meta.url);
Deno.writeTextFileSync(resultsPath, md);
// Keep the file as `deno fmt` wants it (padded table, wrapped lines) so `deno task check` stays
// clean; harmless when it fails (the content is the same).
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", resultsPath.pathname],
  cwd: new URL("..", import.meta.url).pathname,
  stdout: "null",
  stderr: "null",
}).output().catch(() => {});
console.log("\nwrote bench/RESULTS_MATMUL.md");
