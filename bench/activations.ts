/**
 * Activation bytes (saved for backward) after one training forward with labels, per mode, on the
 * step benchmark's shapes (BERT base/small, and llama-60m as a causal LM with labels = ids):
 * exact and independent of machine load, so it needs no timing.
 *
 *   deno run -A bench/activations.ts [--model base|small|llama-60m] [--batch 2] [--seq 128]
 *     [--modes full,velora-vd,velora-all,checkpointing,lean] [--list]
 *
 * Defaults: batch 2 × seq 128 for BERT, batch 1 × seq 256 for llama-60m.
 *
 * Prints one line per mode: MiB and the ratio to `full` (the first mode given is the baseline);
 * with `--list`, also what was saved, grouped by op and save index (count, KiB each, f16 or not).
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
  LLAMA_60M,
  MODES,
  randomBatch,
  uploadBatch,
} from "./lib/step.ts";
import { savedGroups } from "./lib/saved.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "base" },
    batch: { type: "string" },
    seq: { type: "string" },
    modes: { type: "string", default: "full,velora-all,lean" },
    list: { type: "boolean", default: false },
  },
});
const SHAPES = { base: BERT_BASE, small: BERT_SMALL, "llama-60m": LLAMA_60M };
const shape = SHAPES[values.model as keyof typeof SHAPES];
if (!shape) {
  throw new Error(`unknown --model "${values.model}" (${Object.keys(SHAPES).join(", ")})`);
}
const llama = shape.kind === "llama";
const b = Number(values.batch ?? (llama ? 1 : 2));
const s = Number(values.seq ?? (llama ? 256 : 128));
const modes = values.modes.split(",").map((m) => m.trim()) as BenchMode[];
for (const m of modes) {
  if (!MODES.includes(m)) throw new Error(`unknown mode "${m}" (${MODES.join(", ")})`);
}
const device = await Device.create();
const batch = uploadBatch(device, randomBatch(b, s, shape.vocab, 0), shape.kind);
let base = 0;
for (const mode of modes) {
  const { model } = buildBenchModel(device, shape, s, mode, 0);
  const inputs = llama
    ? { input_ids: batch.input_ids, attention_mask: batch.attention_mask, labels: batch.labels }
    : batch;
  const loss = tidy(() => model.forward(inputs).loss!.keep());
  const bytes = device.memory.byCategory.activation;
  const groups = values.list ? savedGroups(loss) : [];
  base ||= bytes;
  loss.dispose();
  await device.sync();
  model.dispose();
  console.log(
    `${shape.name} ${b}×${s} ${mode}: ${(bytes / 2 ** 20).toFixed(2)} MiB activations, ${
      (bytes / base).toFixed(3)
    }× of ${modes[0]}`,
  );
  for (const g of groups) {
    console.log(
      `  ${(g.bytes / 2 ** 20).toFixed(3).padStart(8)} MiB  ${String(g.count).padStart(3)} × ${
        (g.bytes / g.count / 1024).toFixed(1).padStart(7)
      } KiB  ${g.op}${g.half ? " (f16)" : ""}`,
    );
  }
}
disposeGpuBatch(batch);
device.destroy();
