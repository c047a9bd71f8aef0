/**
 * Models for the browser example: the embedded small BERT (randomly initialised, bert-base-uncased's
 * vocabulary from the bundle), or an HF model folder fetched over HTTP (a folder URL or a hub repo
 * id), and the fine-tuned model as the bytes of `config.json` + `model.safetensors`.
 *
 * @module
 */

import {
  BertConfig,
  BertForSequenceClassification,
  type Device,
  fetchModelFile,
  type FetchModelFileOptions,
  loadSafetensorsFromBuffer,
  PreTrainedTokenizer,
  serializeSafetensors,
} from "../../mod.ts";
import { tokenizerFromJson } from "../../src/data/tokenize.ts";
import { mapCheckpointNames } from "../../src/models/pretrained.ts";
import { DEFAULT_MODEL_CONFIG } from "../../src/train/default_model.ts";

/** A model with its tokenizer and a name for the page. */
export interface LoadedModel {
  model: BertForSequenceClassification;
  tokenizer: PreTrainedTokenizer;
  name: string;
}

function labelMaps(labels: readonly string[]) {
  return {
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
}

/**
 * The embedded default of `deno task finetune`: 2 layers, hidden 128, random init.
 *
 * @param attnImplementation HF `attn_implementation` to build with (e.g. for the lean mode)
 */
export async function embeddedModel(
  device: Device,
  labels: readonly string[],
  seed: number,
  attnImplementation?: string,
): Promise<LoadedModel> {
  const config = new BertConfig({ ...DEFAULT_MODEL_CONFIG, ...labelMaps(labels) });
  if (attnImplementation) config.attn_implementation = attnImplementation;
  return {
    model: new BertForSequenceClassification(device, config, { seed }),
    tokenizer: await PreTrainedTokenizer.default(),
    name: "small BERT (2 layers, hidden 128, random init, bert-base-uncased vocab)",
  };
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${what}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${what}: expected a JSON object`);
  }
  return json as Record<string, unknown>;
}

async function tokenizerFrom(
  source: string,
  o: FetchModelFileOptions,
): Promise<PreTrainedTokenizer> {
  const tj = await fetchModelFile(source, "tokenizer.json", { ...o, required: false });
  const tc = await fetchModelFile(source, "tokenizer_config.json", { ...o, required: false });
  const config = tc ? parseJson(tc, `${source}/tokenizer_config.json`) : {};
  if (tj) {
    const files: Record<string, string> = { "tokenizer.json": new TextDecoder().decode(tj) };
    if (tc) files["tokenizer_config.json"] = new TextDecoder().decode(tc);
    return new PreTrainedTokenizer(
      await tokenizerFromJson(parseJson(tj, `${source}/tokenizer.json`), config),
      files,
    );
  }
  const vocab = await fetchModelFile(source, "vocab.txt", { ...o, required: false });
  if (!vocab) throw new Error(`${source}: no tokenizer.json or vocab.txt`);
  const lines = new TextDecoder().decode(vocab).split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return await PreTrainedTokenizer.fromVocab(lines);
}

/**
 * Loads an HF BERT folder over HTTP: `config.json`, `model.safetensors` and `tokenizer.json` or
 * `vocab.txt` (cached by the Cache API). The classifier gets `labels`; weights the file lacks keep
 * their seeded initialisation (reported through `warn`).
 *
 * @param source a folder URL or a hub repo id
 * @param attnImplementation HF `attn_implementation` to build with (e.g. for the lean mode)
 * @throws Error naming the URL and file when one is missing or invalid, or a tensor's shape does
 * not match the model's.
 */
export async function modelFromUrl(
  device: Device,
  source: string,
  labels: readonly string[],
  seed: number,
  o: FetchModelFileOptions = {},
  warn: (message: string) => void = console.warn,
  attnImplementation?: string,
): Promise<LoadedModel> {
  const json = parseJson(
    await fetchModelFile(source, "config.json", { ...o, required: true }),
    `${source}/config.json`,
  );
  const file = new BertConfig(json, `${source}/config.json`);
  const maps = file.num_labels === labels.length ? { num_labels: labels.length } : {
    ...labelMaps(labels),
  };
  const config = new BertConfig({ ...json, ...maps }, `${source}/config.json`);
  if (attnImplementation) config.attn_implementation = attnImplementation;
  const model = new BertForSequenceClassification(device, config, { seed });
  const weights = loadSafetensorsFromBuffer(
    await fetchModelFile(source, "model.safetensors", { ...o, required: true }),
    `${source}/model.safetensors`,
  );
  const expected = new Map(model.state_dict());
  const names = mapCheckpointNames(weights.keys(), new Set(expected.keys()), "bert");
  const sd: Record<string, { shape: number[]; data: Float32Array }> = {};
  const unused: string[] = [];
  for (const [orig, target] of names) {
    const t = weights.get(orig)!;
    const param = expected.get(target);
    if (!param) {
      unused.push(orig);
      continue;
    }
    if (param.shape.join() !== t.shape.join()) {
      throw new Error(
        `${source}/model.safetensors: tensor "${orig}" has shape [${t.shape}] but the model's "${target}" is [${param.shape}]`,
      );
    }
    sd[target] = {
      shape: t.shape,
      data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data),
    };
  }
  model.load_state_dict(sd, { strict: false });
  const missing = [...expected.keys()].filter((k) => !(k in sd));
  if (missing.length) warn(`newly initialised (not in the checkpoint): ${missing.join(", ")}`);
  if (unused.length) warn(`checkpoint weights not used: ${unused.join(", ")}`);
  return { model, tokenizer: await tokenizerFrom(source, o), name: source };
}

/**
 * The fine-tuned model as HF files: `config.json` (2-space indented, with `architectures`) and
 * `model.safetensors` (F32, every `state_dict()` entry under its HF name).
 */
export async function modelFiles(
  model: BertForSequenceClassification,
): Promise<{ config: string; weights: Uint8Array<ArrayBuffer> }> {
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of model.state_dict()) {
    tensors.set(name, { shape: t.shape, data: await t.toArray() as Float32Array });
  }
  model.config.architectures = [model.constructor.name];
  return {
    config: JSON.stringify(model.config.toJSON(), null, 2) + "\n",
    weights: serializeSafetensors(tensors),
  };
}
