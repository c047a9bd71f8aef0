/**
 * Classify text with a fine-tuned model folder (written by `deno task finetune`):
 *
 *   deno run -A examples/classify.ts --model output/finetune_bert "Get rich quick!!!"
 *
 * Prints the predicted label and the probability of every label, one text per line.
 * @module
 */
import { AutoPeftModelForSequenceClassification, isAdapterFolder } from "../src/peft/auto.ts";
import { parseArgs } from "node:util";
import { Device } from "../src/runtime/device.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { AutoTokenizer } from "../src/data/auto_tokenizer.ts";
import { softmaxRows } from "../src/train/report/metrics.ts";

const USAGE =
  `Usage: deno run -A examples/classify.ts --model <dir or hub id> [--max-length N] [--json] "text" ["text" ...]`;

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    "max-length": { type: "string", default: "128" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
  allowPositionals: true,
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (!values.model || positionals.length === 0) {
  console.error(`error: ${!values.model ? "--model is required" : "no text given"}\n${USAGE}`);
  Deno.exit(2);
}
const maxLength = Number(values["max-length"]);
if (!Number.isInteger(maxLength) || maxLength < 2) {
  console.error(`error: --max-length must be an integer ≥ 2, got "${values["max-length"]}"`);
  Deno.exit(2);
}

const device = await Device.create();
const warnings: string[] = [];
let model: BertForSequenceClassification;
let tokenizer: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
try {
  const options = { device, warn: (m: string) => warnings.push(m) };
  // An adapter folder (PEFT): base from its base_model_name_or_path, adapter merged in.
  model = await isAdapterFolder(values.model)
    ? (await AutoPeftModelForSequenceClassification.from_pretrained(values.model, options))
      .merge_and_unload() as BertForSequenceClassification
    : await BertForSequenceClassification.from_pretrained(values.model, options);
  tokenizer = await AutoTokenizer.from_pretrained(values.model);
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(1);
}
if (warnings.length) {
  console.error(
    `warning: ${warnings.join("\n")}\n(the model folder looks incomplete or untrained)`,
  );
}
const enc = tokenizer.batch(positionals, null, { max_length: maxLength });
const shape = [enc.batch, enc.seqLen];
const ids = Tensor.from(device, enc.input_ids, shape, { dtype: "i32" });
const mask = Tensor.from(device, enc.attention_mask, shape, { dtype: "i32" });
const types = Tensor.from(device, enc.token_type_ids, shape, { dtype: "i32" });
const logits = noGrad(() =>
  tidy(() =>
    model.forward({ input_ids: ids, attention_mask: mask, token_type_ids: types }).logits.keep()
  )
);
const values2 = (await logits.toArray()) as Float32Array;
const numLabels = model.config.num_labels;
const probs = softmaxRows(values2, enc.batch, numLabels);
const id2label = model.config.id2label as Record<string | number, string>;
const results = positionals.map((text, i) => {
  const row = Array.from(probs.subarray(i * numLabels, (i + 1) * numLabels));
  const best = row.indexOf(Math.max(...row));
  return {
    text,
    label: id2label[best] ?? String(best),
    probabilities: Object.fromEntries(row.map((p, j) => [id2label[j] ?? String(j), p])),
  };
});
if (values.json) console.log(JSON.stringify(results, null, 2));
else {
  for (const r of results) {
    const ps = Object.entries(r.probabilities).map(([k, p]) => `${k} ${p.toFixed(4)}`).join(", ");
    console.log(
      `${r.label}\t(${ps})\t${r.text.length > 60 ? r.text.slice(0, 57) + "..." : r.text}`,
    );
  }
}
[ids, mask, types, logits].forEach((t) => t.dispose());
model.dispose();
device.destroy();
