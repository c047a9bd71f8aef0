/**
 * Activation bytes (saved for backward) after one training forward with labels, per mode, on the
 * step benchmark's BERT shapes: exact and independent of machine load, so it needs no timing.
 *
 *   deno run -A bench/activations.ts [--model base|small] [--batch 2] [--seq 128]
 *     [--modes full,velora-vd,velora-all,checkpointing,lean]
 *
 * Prints one line per mode: MiB and the ratio to `full` (the first mode given is the baseline).
 * @module
 */
import { parseArgs } from "node:util";
import { Device, tidy } from "../mod.ts";
import {
  type BenchMode,
  BERT_BASE,
  BERT_SMALL,
  buildBenchModel,
  disposeGpuBatch,
  MODES,
  randomBatch,
  uploadBatch,
} from "./lib/step.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "base" },
    batch: { type: "string", default: "2" },
    seq: { type: "string", default: "128" },
    modes: { type: "string", default: "full,velora-all,lean" },
  },
});
const shape = values.model === "small" ? BERT_SMALL : BERT_BASE;
const [b, s] = [Number(values.batch), Number(values.seq)];
const modes = values.modes.split(",").map((m) => m.trim()) as BenchMode[];
for (const m of modes) {
  if (!MODES.includes(m)) throw new Error(`unknown mode "${m}" (${MODES.join(", ")})`);
}
const device = await Device.create();
const batch = uploadBatch(device, randomBatch(b, s, shape.vocab, 0));
let base = 0;
for (const mode of modes) {
  const { model } = buildBenchModel(device, shape, s, mode, 0);
  const loss = tidy(() => model.forward({ ...batch }).loss!.keep());
  const bytes = device.memory.byCategory.activation;
  base ||= bytes;
  loss.dispose();
  await device.sync();
  model.dispose();
  console.log(
    `${shape.name} ${b}×${s} ${mode}: ${(bytes / 2 ** 20).toFixed(2)} MiB activations, ${
      (bytes / base).toFixed(3)
    }× of ${modes[0]}`,
  );
}
disposeGpuBatch(batch);
device.destroy();
