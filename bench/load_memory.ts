// Peak host memory of `from_pretrained` on a BERT-base-size checkpoint (issue 9: HF fast init and
// streamed loading). Generates config.json + model.safetensors (bert-base-uncased shapes, 110M
// parameters, ~418 MiB of F32) in a temporary folder, then loads it with
// BertForSequenceClassification.from_pretrained in a child process and prints the child's peak
// RSS (VmHWM, Linux) above its RSS right before the load, as a ratio of the file size.
// On llvmpipe the "GPU" buffers live in host memory, so 1.0x is the parameters themselves.
//
// Usage: deno run -A bench/load_memory.ts [--dir DIR] [--layers N]
//   --dir DIR     reuse/keep the checkpoint folder (default: a temp folder, removed after)
//   --layers N    encoder layers (default 12, bert-base)

import { parseArgs } from "node:util";
import { BertConfig, BertForSequenceClassification, Device, saveSafetensors } from "../mod.ts";

function rssKiB(field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const m = status.match(new RegExp(`${field}:\\s+(\\d+) kB`));
  if (!m) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string" },
    layers: { type: "string", default: "12" },
    child: { type: "boolean", default: false },
  },
});

if (values.child) {
  // Child: measure one load.
  const device = await Device.create();
  const before = rssKiB("VmRSS");
  const t0 = performance.now();
  const model = await BertForSequenceClassification.from_pretrained(values.dir!, {
    device,
    warn: () => {},
  });
  await device.sync();
  const seconds = (performance.now() - t0) / 1000;
  const peak = rssKiB("VmHWM");
  console.log(JSON.stringify({ before_kib: before, peak_kib: peak, seconds }));
  model.dispose();
  Deno.exit(0);
}

const dir = values.dir ?? await Deno.makeTempDir({ prefix: "velora-load-" });
const weights = `${dir}/model.safetensors`;
try {
  const exists = await Deno.stat(weights).then(() => true, () => false);
  if (!exists) {
    const config = new BertConfig({ num_hidden_layers: Number(values.layers), num_labels: 2 });
    await config.save_pretrained(dir);
    const d = config.hidden_size, i = config.intermediate_size;
    const shapes: [string, number[]][] = [
      ["bert.embeddings.word_embeddings.weight", [config.vocab_size, d]],
      ["bert.embeddings.position_embeddings.weight", [config.max_position_embeddings, d]],
      ["bert.embeddings.token_type_embeddings.weight", [config.type_vocab_size, d]],
      ["bert.embeddings.LayerNorm.weight", [d]],
      ["bert.embeddings.LayerNorm.bias", [d]],
    ];
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const p = `bert.encoder.layer.${l}.`;
      for (const m of ["query", "key", "value"]) {
        shapes.push([`${p}attention.self.${m}.weight`, [d, d]], [`${p}attention.self.${m}.bias`, [
          d,
        ]]);
      }
      shapes.push(
        [`${p}attention.output.dense.weight`, [d, d]],
        [`${p}attention.output.dense.bias`, [d]],
        [`${p}attention.output.LayerNorm.weight`, [d]],
        [`${p}attention.output.LayerNorm.bias`, [d]],
        [`${p}intermediate.dense.weight`, [i, d]],
        [`${p}intermediate.dense.bias`, [i]],
        [`${p}output.dense.weight`, [d, i]],
        [`${p}output.dense.bias`, [d]],
        [`${p}output.LayerNorm.weight`, [d]],
        [`${p}output.LayerNorm.bias`, [d]],
      );
    }
    shapes.push(["bert.pooler.dense.weight", [d, d]], ["bert.pooler.dense.bias", [d]]);
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, shape] of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      for (let k = 0; k < n; k++) data[k] = ((k * 2654435761) % 1000) / 50000 - 0.01;
      tensors.set(name, { shape, data });
    }
    await saveSafetensors(weights, tensors);
  }
  const fileBytes = (await Deno.stat(weights)).size;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", "--dir", dir],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("bench/load_memory.ts: the child load failed");
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  console.log(`checkpoint: ${(fileBytes / 2 ** 20).toFixed(1)} MiB (${dir})`);
  console.log(
    `RSS before load ${mib(r.before_kib)} MiB, peak ${mib(r.peak_kib)} MiB, load ${
      r.seconds.toFixed(1)
    } s`,
  );
  console.log(
    `peak RSS ratio (peak − before) / file size: ${
      ((r.peak_kib - r.before_kib) * 1024 / fileBytes).toFixed(2)
    }x; peak / file size: ${(r.peak_kib * 1024 / fileBytes).toFixed(2)}x`,
  );
} finally {
  if (!values.dir) await Deno.remove(dir, { recursive: true });
}
