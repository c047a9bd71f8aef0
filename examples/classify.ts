/**
 * Classify text with a fine-tuned model folder (written by `deno task finetune`), a checkpoint
 * folder inside it, a LoRA adapter folder, or a hub id, through `pipeline("text-classification")`:
 *
 *   deno run -A examples/classify.ts --model output/finetune_bert "Get rich quick!!!"
 *   deno run -A examples/classify.ts --model output/finetune_bert/checkpoint-100 --file texts.txt
 *   deno run -A examples/classify.ts --model output/finetune_bert -- "-5% off, today only"
 *
 * Prints the predicted label and the probability of every label, one text per line.
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { AutoPeftModelForSequenceClassification, isAdapterFolder } from "../src/peft/auto.ts";
import { Device } from "../src/runtime/device.ts";
import { pipeline, type TextClassifier } from "../src/pipelines/mod.ts";
import type { TextClassificationOutput } from "../src/pipelines/mod.ts";
import type { PreTrainedModel } from "../src/models/modeling_utils.ts";

const USAGE = `Usage: deno run -A examples/classify.ts --model <dir or hub id> [options] "text" ...

  --model DIR|ID      model folder (a run's output, one of its checkpoint-N folders, a LoRA
                      adapter folder) or a hub id
  --tokenizer DIR|ID  tokenizer to use (default: the model folder's, else its parent's)
  --file FILE         classify every non-empty line of FILE (one text per line)
  --max-length N      tokens per text (default: what the model accepts); longer texts are cut
  --json              print JSON
  --                  everything after is text, even when it starts with "-"`;

function fail(message: string, code = 2): never {
  console.error(`error: ${message}`);
  Deno.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      tokenizer: { type: "string" },
      file: { type: "string" },
      "max-length": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
} catch (e) {
  // e.g. a text starting with "-" read as an unknown option: say how to pass it.
  fail(
    `${(e as Error).message}\nA text starting with "-" goes after "--": ` +
      `classify.ts --model DIR -- "-text"\n\n${USAGE}`,
  );
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (!values.model) fail(`--model is required\n${USAGE}`);
const texts = [...positionals];
if (values.file) {
  try {
    texts.push(...(await Deno.readTextFile(values.file)).split(/\r?\n/).filter((l) => l.trim()));
  } catch (e) {
    fail(`--file ${values.file}: ${(e as Error).message}`);
  }
}
if (texts.length === 0) fail(`no text given (positional texts or --file)\n${USAGE}`);
let maxLength: number | undefined;
if (values["max-length"] !== undefined) {
  maxLength = Number(values["max-length"]);
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    fail(`--max-length must be an integer ≥ 2, got "${values["max-length"]}"`);
  }
}

async function hasTokenizer(dir: string): Promise<boolean> {
  for (const f of ["tokenizer.json", "vocab.txt"]) {
    try {
      if ((await Deno.stat(join(dir, f))).isFile) return true;
    } catch { /* absent */ }
  }
  return false;
}

/** The tokenizer source: --tokenizer, the model folder, or its parent (a checkpoint's run dir). */
async function tokenizerSource(model: string): Promise<string> {
  if (values.tokenizer) return values.tokenizer;
  const isDir = await Deno.stat(model).then((s) => s.isDirectory, () => false);
  if (!isDir || await hasTokenizer(model)) return model;
  if (await hasTokenizer(dirname(model))) return dirname(model);
  fail(
    `${model} has no tokenizer (tokenizer.json or vocab.txt), nor has its parent folder; ` +
      "pass --tokenizer DIR|ID",
    1,
  );
}

const device = await Device.create();
const warnings: string[] = [];
let classify: TextClassifier;
try {
  const options = { device, warn: (m: string) => warnings.push(m), max_length: maxLength };
  const tokenizer = await tokenizerSource(values.model);
  // An adapter folder (PEFT): base from its base_model_name_or_path, adapter merged in.
  classify = await isAdapterFolder(values.model)
    ? await pipeline(
      "text-classification",
      (await AutoPeftModelForSequenceClassification.from_pretrained(values.model, options))
        .merge_and_unload() as unknown as PreTrainedModel,
      { ...options, tokenizer },
    )
    : await pipeline("text-classification", values.model, { ...options, tokenizer });
} catch (e) {
  fail((e as Error).message, 1);
}
if (warnings.length) {
  console.error(
    `warning: ${warnings.join("\n")}\n(the model folder looks incomplete or untrained)`,
  );
}
let scores: TextClassificationOutput[][];
try {
  scores = await classify(texts, { top_k: null }) as TextClassificationOutput[][];
} catch (e) {
  fail((e as Error).message, 1);
}
const results = texts.map((text, i) => ({
  text,
  label: scores[i][0].label,
  probabilities: Object.fromEntries(scores[i].map((s) => [s.label, s.score])),
}));
if (values.json) console.log(JSON.stringify(results, null, 2));
else {
  for (const r of results) {
    const ps = Object.entries(r.probabilities).map(([k, p]) => `${k} ${p.toFixed(4)}`).join(", ");
    console.log(
      `${r.label}\t(${ps})\t${r.text.length > 60 ? r.text.slice(0, 57) + "..." : r.text}`,
    );
  }
}
classify.dispose();
device.destroy();
