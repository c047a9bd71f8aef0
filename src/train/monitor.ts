/**
 * The Trainer's divergence check and loss sum, kept on the GPU: every step adds its losses into
 * one small buffer and ORs flags for a non-finite loss, gradient norm or updated parameter into
 * it; the trainer reads that buffer once per logging interval (the readback it does anyway), so
 * checking every step costs no GPU wait.
 *
 * @module
 */
import type { Device } from "../runtime/device.ts";
import { defineKernel, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/train_monitor.wgsl" with { type: "text" };

const code = GRID_WGSL + src;
const CHECK_FINITE = defineKernel({
  name: "train_monitor.wgsl",
  code,
  entryPoint: "check_finite",
  bindings: ["data", "flags"],
  uniforms: ["n", "bit"],
});
const ADD_LOSS = defineKernel({
  name: "train_monitor.wgsl",
  code,
  entryPoint: "add_loss",
  bindings: ["data", "flags"],
  uniforms: ["bit"],
});
const RESET_LOSS = defineKernel({
  name: "train_monitor.wgsl",
  code,
  entryPoint: "reset_loss",
  bindings: ["flags"],
});

/** Flag bits of {@linkcode MonitorReading.flags}. */
export const NON_FINITE = {
  /** The global gradient norm (before clipping) was Inf or NaN. */
  gradNorm: 1,
  /** A parameter held Inf or NaN after the optimizer step. */
  parameter: 2,
  /** A micro-batch loss was Inf or NaN. */
  loss: 4,
} as const;

/** One readback of the monitor. */
export interface MonitorReading {
  /** OR of {@linkcode NON_FINITE} bits seen since the monitor was created (sticky). */
  flags: number;
  /** Σ of the losses added since the last {@linkcode TrainingMonitor.resetLoss}. */
  lossSum: number;
}

/** Names the flags of a reading: "the gradient norm, a parameter". */
export function describeFlags(flags: number): string {
  const what: string[] = [];
  if (flags & NON_FINITE.loss) what.push("the loss");
  if (flags & NON_FINITE.gradNorm) what.push("the gradient norm");
  if (flags & NON_FINITE.parameter) what.push("parameters after the optimizer step");
  return what.join(", ");
}

/** GPU-side loss sum and non-finite flags (see the module doc). Dispose when done. */
export class TrainingMonitor {
  readonly #device: Device;
  readonly #stats: Tensor;

  /** A monitor with zero flags and a zero loss sum. */
  constructor(device: Device) {
    this.#device = device;
    this.#stats = Tensor.from(device, new Int32Array(2), [2], { dtype: "i32" }).keep();
  }

  /** Queues `sum += loss` (a one-element f32 tensor) and flags a non-finite loss. */
  addLoss(loss: Tensor): void {
    ADD_LOSS.launch(this.#device, {
      bindings: { data: loss, flags: this.#stats },
      uniforms: { bit: NON_FINITE.loss },
      workgroups: [1],
    });
  }

  /** Queues a scan of `t` (f32) that sets `bit` when any element is Inf or NaN. */
  checkFinite(t: Tensor, bit: number): void {
    if (t.numel === 0) return;
    CHECK_FINITE.launch(this.#device, {
      bindings: { data: t, flags: this.#stats },
      uniforms: { n: t.numel, bit },
      workgroups: grid1d(t.numel),
    });
  }

  /** Queues the scan of every parameter (after the optimizer step). */
  checkParameters(params: Iterable<Tensor>): void {
    for (const p of params) this.checkFinite(p, NON_FINITE.parameter);
  }

  /** Reads flags and loss sum (one GPU wait). */
  async read(): Promise<MonitorReading> {
    const words = await this.#stats.toArray() as Int32Array;
    return {
      flags: words[0] >>> 0,
      lossSum: new Float32Array(words.buffer, words.byteOffset, 2)[1],
    };
  }

  /** Queues `sum = 0` (in order with the queued steps; flags stay). */
  resetLoss(): void {
    RESET_LOSS.launch(this.#device, { bindings: { flags: this.#stats }, workgroups: [1] });
  }

  /** Frees the buffer. */
  dispose(): void {
    this.#stats.dispose();
  }
}
