import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.ts";
import type { Device } from "../../src/runtime/device.ts";
import type { MemoryCategory } from "../../src/runtime/memory.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { randomArray } from "./gpu.ts";

/** One input of {@linkcode forwardBackward}. */
export interface OpInput {
  data: Float32Array | Int32Array;
  shape: readonly number[];
  /** Default: true for f32 data, false for i32. */
  requiresGrad?: boolean;
  /** Memory category (e.g. "parameter" for weights, which do not count as activations). */
  category?: MemoryCategory;
}

/** What {@linkcode forwardBackward} observed. */
export interface OpRun {
  y: Float32Array | Int32Array;
  shape: readonly number[];
  /** The output gradient that was fed to backward. */
  dy: Float32Array;
  /** Input gradients (null where the input does not require grad). */
  grads: (Float32Array | null)[];
  /** `device.memory.byCategory.activation` right after the forward (bytes saved for backward). */
  savedBytes: number;
}

/**
 * Runs `fn` on fresh tensors, backpropagates a seeded random dy (or `dyData`), reads y and the
 * input gradients, and checks the lifetime rules: activation memory is 0 after backward and every
 * live byte is freed once the handles are disposed.
 */
export async function forwardBackward(
  device: Device,
  fn: (...xs: Tensor[]) => Tensor,
  inputs: OpInput[],
  { seed = 99, dyData }: { seed?: number; dyData?: Float32Array } = {},
): Promise<OpRun> {
  const baseLive = device.memory.liveBytes;
  const baseAct = device.memory.byCategory.activation;
  const xs = inputs.map((inp) =>
    Tensor.from(device, inp.data, inp.shape, {
      requiresGrad: inp.requiresGrad ?? !(inp.data instanceof Int32Array),
      category: inp.category,
    })
  );
  const y = tidy(() => fn(...xs));
  const savedBytes = device.memory.byCategory.activation - baseAct;
  const dy = dyData ?? randomArray(y.numel, seed);
  const dyT = Tensor.from(device, dy, y.shape);
  y.backward(dyT);
  dyT.dispose();
  assert.equal(device.memory.byCategory.activation, baseAct, "activation memory after backward");
  const yv = await y.toArray();
  const grads: (Float32Array | null)[] = [];
  for (const x of xs) grads.push(x.grad ? (await x.grad.toArray()) as Float32Array : null);
  const shape = y.shape;
  y.dispose();
  for (const x of xs) {
    x.grad?.dispose();
    x.dispose();
  }
  assert.equal(device.memory.liveBytes, baseLive, "live bytes back to baseline");
  return { y: yv, shape, dy, grads, savedBytes };
}
