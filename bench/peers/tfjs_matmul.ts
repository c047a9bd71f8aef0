// TensorFlow.js's WebGPU backend as the matmul peer of `bench/matmul.ts`.
//
// Loaded with a dynamic import only when `--peer tfjs` (the default) is given, so
// `--peer none` needs neither the npm packages nor a network.
//
// Timing protocol, the same as velora's runner in bench/matmul.ts: `run(reps)` records `reps`
// tf.matMul calls (the backend appends each dispatch to one shared compute pass; its own
// auto-submit only triggers after WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE = 15 dispatches), then ends
// the pass, submits the command encoder and awaits `device.queue.onSubmittedWorkDone()`. No
// readback is timed (awaiting `data()` would add a copy of C and a map). Each output is disposed
// as soon as it is recorded; the backend returns its buffer to its pool at the submit, so after
// one untimed run of `reps` products no buffer is created (and zero-initialised) inside a timing.
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { WebGPUBackend } from "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

/** The problem fields the peer needs (a subset of bench/matmul.ts's `Problem`). */
export interface PeerProblem {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** Same contract as `Runner` in bench/matmul.ts. */
export interface PeerRunner {
  run(reps: number): Promise<void>;
  read(): Promise<Float32Array>;
  dispose(): void;
  /** The tf.js program(s) the first run compiled, e.g. "matMulPacked (vec4)" (for the notes). */
  program?: string;
}

/** Same contract as `Contender` in bench/matmul.ts, plus a description of the device it got. */
export interface PeerContender {
  name: string;
  description: string;
  prepare(p: PeerProblem, a: Float32Array, b: Float32Array): Promise<PeerRunner>;
}

/** Versions pinned in the import specifiers (kept in one place for the printed notes). */
export const TFJS_VERSION = "4.22.0";

/**
 * Initialises tf.js on its WebGPU backend (its own GPUDevice, from
 * `navigator.gpu.requestAdapter({powerPreference: "high-performance"})` with the adapter's
 * maximum buffer limits). Throws an Error whose message says why when it cannot.
 */
export async function tfjsContender(): Promise<PeerContender> {
  if (!("gpu" in navigator)) throw new Error("navigator.gpu is missing");
  // Registers the 'webgpu' backend factory (only when navigator.gpu exists).
  await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
  if (!tf.findBackendFactory("webgpu")) {
    throw new Error("@tensorflow/tfjs-backend-webgpu did not register a 'webgpu' backend");
  }
  // tf.setBackend reports a failing factory with console.warn and returns false: keep the text.
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map((x) => x instanceof Error ? x.message : String(x)).join(" "));
  };
  let ok: boolean;
  try {
    ok = await tf.setBackend("webgpu");
    await tf.ready();
  } finally {
    console.warn = warn;
  }
  if (!ok || tf.getBackend() !== "webgpu") {
    throw new Error(
      `tf.setBackend('webgpu') failed${warnings.length ? ": " + warnings.join("; ") : ""}`,
    );
  }
  for (const w of warnings) console.error(`tf.js: ${w}`);
  const backend = tf.backend() as unknown as WebGPUBackend;
  const info = (backend.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  // Remembers the shaderKey of the last program run (to name the matmul program tf.js picked).
  let lastShaderKey = "";
  const runProgram = backend.runWebGPUProgram;
  backend.runWebGPUProgram = function (program, ...rest) {
    lastShaderKey = program.shaderKey ?? "";
    return runProgram.call(this, program, ...rest);
  };

  /** Ends the backend's compute pass, submits everything recorded, waits for the device. */
  const flush = async () => {
    backend.ensureCommandEncoderReady(); // submitQueue() needs an encoder; an empty one is fine
    backend.endComputePassEncoder();
    backend.submitQueue();
    await backend.device.queue.onSubmittedWorkDone();
  };

  return {
    name: `TF.js ${TFJS_VERSION}`,
    description: info?.description || "(adapter info unavailable)",
    async prepare(p, aHost, bHost) {
      const a = tf.tensor2d(aHost, p.transA ? [p.k, p.m] : [p.m, p.k], "float32");
      const b = tf.tensor2d(bHost, p.transB ? [p.n, p.k] : [p.k, p.n], "float32");
      // Upload now (tf.js uploads lazily at first use) so the first run, like velora's, only
      // adds pipeline compilation.
      backend.uploadToGPU(a.dataId);
      backend.uploadToGPU(b.dataId);
      await flush();
      let last: tf.Tensor | null = null;
      const runner: PeerRunner = {
        async run(reps: number) {
          last?.dispose();
          last = null;
          for (let i = 0; i < reps; i++) {
            const c = tf.matMul(a, b, p.transA, p.transB);
            if (i === reps - 1) last = c;
            else c.dispose();
          }
          await flush();
          runner.program ??= describeProgram(lastShaderKey);
        },
        async read() {
          if (!last) throw new Error("read() before run()");
          return (await last.data()) as Float32Array;
        },
        dispose() {
          last?.dispose();
          last = null;
          a.dispose();
          b.dispose();
        },
      };
      return runner;
    },
  };
}

/**
 * Names a program from its shaderKey, e.g. "matMulPacked (vec4)". For matMulPacked the 9th `_`
 * field of the key is isVec4 (tf.js uses its vec4 path only when B is not transposed and the
 * sizes are multiples of 4).
 */
function describeProgram(key: string): string {
  const f = key.split("_");
  return f[0] === "matMulPacked" ? `matMulPacked (${f[8] === "true" ? "vec4" : "scalar"})` : f[0];
}
