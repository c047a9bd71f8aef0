import { join, resolve } from "node:path";
import type { Device } from "../runtime/device.ts";
import { BertConfig } from "../models/bert/config.ts";
import { BertForSequenceClassification } from "../models/bert/modeling_bert.ts";
import { AutoTokenizer, PreTrainedTokenizer } from "../data/auto_tokenizer.ts";
import { loadSpamAssassin } from "../data/spam_assassin.ts";
import { loadTextClassificationFile, type TextFileOptions } from "../data/text_file.ts";
import { stratifiedSplit, takeSubset } from "../data/split.ts";
import type { Dataset, Example } from "../data/types.ts";
import { applyVeLoRA, type VeLoRAReport } from "../velora/apply.ts";
import { VELORA_PRESETS } from "../velora/presets.ts";
import { enableHalfSavedActivations } from "../nn/half_saved.ts";
import type { VeLoRAInitType } from "../velora/velora_linear.ts";
import { get_peft_model, LoraConfig, type PeftModel } from "../peft/mod.ts";
import { type LogEntry, Trainer, type TrainerState, type TrainOutput } from "./trainer.ts";
import { type EvalStrategy, TrainingArguments } from "./training_args.ts";
import { ensureWritableDir, writeJsonAtomic } from "../util/write_atomic.ts";
import { saveSafetensorsShards, type ShardTensor } from "../io/safetensors_shard_write.ts";

/**
 * Training modes of the main job. `lean`: VeLoRA (on `--velora-layers`, default all six encoder
 * linear types) + recomputed attention (`attn_implementation: "flash_attention_2"`) + f16 saved
 * activations (`enableHalfSavedActivations`).
 */
export type FinetuneMode = "full" | "velora" | "checkpointing" | "lora" | "lora-velora" | "lean";

/** Every mode, in `--mode all`'s order. */
export const FINETUNE_MODES: readonly FinetuneMode[] = [
  "full",
  "velora",
  "checkpointing",
  "lora",
  "lora-velora",
  "lean",
];

/**
 * Defaults of the main job's options: the one place they are written (the CLI, its help text and
 * {@linkcode runFinetune} read them from here). The Trainer's own defaults (HF's) are in
 * `TRAINING_ARGS_DEFAULTS`.
 */
export const FINETUNE_DEFAULTS = {
  mode: "velora",
  evalFraction: 0.2,
  numGroups: 32,
  veloraScale: 1,
  epochs: 2,
  maxSteps: -1,
  batchSize: 32,
  evalBatchSize: 64,
  maxLength: 128,
  /** Peak lr of the embedded random-init model (trained from scratch). */
  lr: 1e-3,
  /** Peak lr when fine-tuning a pretrained `--model`. */
  lrPretrained: 5e-5,
  /** Peak lr of the LoRA modes with a pretrained `--model` (adapters train faster). */
  lrLora: 5e-4,
  /** LoRA rank, alpha, dropout and targets (PEFT's defaults for BERT: query, value). */
  loraR: 8,
  loraAlpha: 16,
  loraDropout: 0,
  loraTargetModules: "query,value",
  warmupRatio: 0.1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  gradientAccumulationSteps: 1,
  seed: 42,
  evalStrategy: "epoch",
  saveSteps: 50,
  saveTotalLimit: 2,
  loggingSteps: 10,
  outputDir: "output/finetune_bert",
} as const;

/** Options of the main job (the CLI flags of `examples/finetune_bert.ts`). */
export interface FinetuneOptions {
  /** Hub id or local HF folder; undefined = the embedded small random-init BERT. */
  model?: string;
  /** Training file (TSV/CSV/JSONL); undefined = SpamAssassin from npm. */
  data?: string;
  /** Evaluation file; default: a stratified split of the training data. */
  evalData?: string;
  /** Fraction held out for evaluation when there is no eval file. */
  evalFraction?: number;
  /** Text columns and label column of `data` / `evalData`. */
  textColumn?: string;
  /** Second text column for sentence pairs. */
  textPairColumn?: string;
  /** Label column. */
  labelColumn?: string;
  /** Skip and count bad rows instead of failing. */
  skipBadRows?: boolean;
  /** Stratified subset of the training data (the default eval split shrinks with it). */
  maxTrainExamples?: number;
  /** Stratified subset of the evaluation data. */
  maxEvalExamples?: number;
  /** VeLoRA targets (PEFT matching) or a preset: "all" (six encoder linear types), "vd". */
  veloraLayers?: string;
  /** G. */
  numGroups?: number;
  /** LoRA rank r. */
  loraR?: number;
  /** LoRA alpha (scaling = alpha / r). */
  loraAlpha?: number;
  /** LoRA input dropout. */
  loraDropout?: number;
  /** LoRA targets: comma-separated names/suffixes, or "all-linear". */
  loraTargetModules?: string;
  /** init_type. */
  veloraInit?: VeLoRAInitType;
  /** velora_scale. */
  veloraScale?: number;
  /** Epochs. */
  epochs?: number;
  /** Optimizer steps cap (-1 = none). */
  maxSteps?: number;
  /** Batch size. */
  batchSize?: number;
  /** Max tokens per example. */
  maxLength?: number;
  /** Peak learning rate. */
  lr?: number;
  /** Warm-up fraction in [0, 1]. */
  warmupRatio?: number;
  /** AdamW weight decay. */
  weightDecay?: number;
  /** Global gradient-norm clip (0 = off). */
  maxGradNorm?: number;
  /** Gradient accumulation steps. */
  gradientAccumulationSteps?: number;
  /** Seed of the split, data order, init and dropout. */
  seed?: number;
  /** When to evaluate ("epoch", "steps", "no"); the final model is evaluated in every case. */
  evalStrategy?: EvalStrategy;
  /** Steps between evaluations with "steps" (default: loggingSteps). */
  evalSteps?: number;
  /** Checkpoint every N optimizer steps (0 = never). */
  saveSteps?: number;
  /** Checkpoints kept (the newest). */
  saveTotalLimit?: number;
  /** Loss readback interval in steps. */
  loggingSteps?: number;
  /** Progress bar. */
  progress?: boolean;
}

/** The prepared data of a run. */
export interface PreparedData {
  /** Dataset name for metrics. */
  name: string;
  /** Training examples. */
  train: Example[];
  /** Evaluation examples. */
  eval: Example[];
  /** Label names by id. */
  id2label: Record<number, string>;
  /** Rows skipped as bad (with --skip-bad-rows). */
  skipped: number;
  /** Regression (float labels; num_labels 1, MSE), as HF `run_glue.py` decides. */
  regression: boolean;
  /** Warnings about the data (rare labels that look like typos, with file:line). */
  warnings: string[];
}

/** Stratified by label, or (regression) one stratum: float targets are not classes. */
function stratum<T extends Example>(
  regression: boolean,
  f: (xs: { label: number; ex: T }[]) => { label: number; ex: T }[],
  xs: readonly T[],
): T[] {
  return f(xs.map((ex) => ({ label: regression ? 0 : ex.label, ex }))).map((w) => w.ex);
}

/** `loadTextClassificationFile`, with a missing file reported under the option that named it. */
async function loadDataFile(
  flag: string,
  path: string,
  options: TextFileOptions,
): Promise<Dataset> {
  try {
    return await loadTextClassificationFile(path, options);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${flag} ${path}: no such file`);
    throw e;
  }
}

/** Loads and splits the data of a run (deterministic by seed). */
export async function prepareData(o: FinetuneOptions): Promise<PreparedData> {
  const columns = {
    textColumn: o.textColumn,
    textPairColumn: o.textPairColumn,
    labelColumn: o.labelColumn,
    skipBadRows: o.skipBadRows,
  };
  const seed = o.seed ?? FINETUNE_DEFAULTS.seed;
  const ds: Dataset = o.data
    ? await loadDataFile("--data", o.data, columns)
    : await loadSpamAssassin();
  let train: Example[];
  let evalSet: Example[];
  let skipped = ds.skipped;
  const regression = ds.regression === true;
  const warnings = [...(ds.warnings ?? [])];
  const subset = (xs: readonly Example[], n: number, s: number) =>
    stratum(regression, (w) => takeSubset(w, n, s), xs);
  if (o.evalData) {
    const ev = await loadDataFile(
      "--eval-data",
      o.evalData,
      regression ? { ...columns, regression } : { ...columns, labels: Object.values(ds.id2label) },
    );
    skipped += ev.skipped;
    warnings.push(...(ev.warnings ?? []));
    train = ds.examples;
    evalSet = ev.examples;
  } else {
    const fraction = o.evalFraction ?? FINETUNE_DEFAULTS.evalFraction;
    const split = { train: [] as Example[], eval: [] as Example[] };
    split.train = stratum(regression, (w) => {
      const s = stratifiedSplit(w, { evalFraction: fraction, seed });
      split.eval = s.eval.map((x) => x.ex);
      return s.train;
    }, ds.examples);
    train = split.train;
    evalSet = split.eval;
    if (o.maxTrainExamples && o.maxTrainExamples < train.length) {
      // The held-out part keeps its share of the examples actually used, not of the whole file.
      const evalSize = Math.max(1, Math.round(o.maxTrainExamples * fraction / (1 - fraction)));
      if (evalSize < evalSet.length) evalSet = subset(evalSet, evalSize, seed + 1);
    }
  }
  if (o.maxTrainExamples && o.maxTrainExamples < train.length) {
    train = subset(train, o.maxTrainExamples, seed);
  }
  if (o.maxEvalExamples && o.maxEvalExamples < evalSet.length) {
    evalSet = subset(evalSet, o.maxEvalExamples, seed + 1);
  }
  if (!regression) {
    const classes = new Set(train.map((e) => e.label));
    if (classes.size < 2) {
      const only = ds.id2label[[...classes][0]];
      throw new Error(
        `${ds.name}: every training example has the label "${only}"; a classifier needs at ` +
          "least two classes (float labels train a regression instead)",
      );
    }
  }
  return {
    name: ds.name,
    train,
    eval: evalSet,
    id2label: ds.id2label,
    skipped,
    regression,
    warnings,
  };
}

// In their own module so that pages (examples/browser) can build the default model without the
// Trainer's Node-only progress bar.
export { DEFAULT_MODEL_CONFIG, DEFAULT_MODEL_NAME } from "./default_model.ts";
import { DEFAULT_MODEL_CONFIG, DEFAULT_MODEL_NAME } from "./default_model.ts";

/** Builds the model and tokenizer of a run, with labels from the data. */
export async function buildModel(
  device: Device,
  o: FinetuneOptions,
  data: PreparedData,
  attn_implementation?: string,
): Promise<{ model: BertForSequenceClassification; tokenizer: PreTrainedTokenizer; name: string }> {
  const n = Object.keys(data.id2label).length;
  const id2label = Object.fromEntries(
    Object.entries(data.id2label).map(([k, v]) => [String(k), v]),
  );
  const label2id = Object.fromEntries(
    Object.entries(data.id2label).map(([k, v]) => [v, Number(k)]),
  );
  if (!o.model) {
    const config = new BertConfig({ ...DEFAULT_MODEL_CONFIG, id2label, label2id, num_labels: n });
    if (attn_implementation) config.attn_implementation = attn_implementation;
    const model = new BertForSequenceClassification(device, config, {
      seed: o.seed ?? FINETUNE_DEFAULTS.seed,
    });
    return { model, tokenizer: await PreTrainedTokenizer.default(), name: DEFAULT_MODEL_NAME };
  }
  const model = await BertForSequenceClassification.from_pretrained(o.model, {
    device,
    num_labels: n,
    seed: o.seed ?? FINETUNE_DEFAULTS.seed,
    ...(attn_implementation ? { attn_implementation } : {}),
  });
  model.config.id2label = Object.fromEntries(
    Object.entries(data.id2label).map(([k, v]) => [Number(k), v]),
  );
  model.config.label2id = label2id;
  return { model, tokenizer: await AutoTokenizer.from_pretrained(o.model), name: o.model };
}

/** The six encoder linear types of BERT, and the paper's "vd" (value + FFN down projection). */
export { VELORA_PRESETS };

/** What {@linkcode setupMode} made of the model. */
export interface ModeSetup {
  /** The model to train: the base model, or its PeftModel in the LoRA modes. */
  model: BertForSequenceClassification | PeftModel;
  /** The VeLoRA report in velora mode. */
  report: VeLoRAReport | null;
  /** The PEFT wrapper in the LoRA modes. */
  peft: PeftModel | null;
}

/** The LoRA config of the LoRA modes (task SEQ_CLS: the classifier trains and is saved too). */
export function loraConfigFor(mode: FinetuneMode, o: FinetuneOptions): LoraConfig {
  const D = FINETUNE_DEFAULTS;
  const spec = (o.loraTargetModules ?? D.loraTargetModules).trim();
  return new LoraConfig({
    r: o.loraR ?? D.loraR,
    lora_alpha: o.loraAlpha ?? D.loraAlpha,
    lora_dropout: o.loraDropout ?? D.loraDropout,
    target_modules: spec === "all-linear"
      ? spec
      : spec.split(",").map((t) => t.trim()).filter(Boolean),
    task_type: "SEQ_CLS",
    base_model_name_or_path: o.model ?? null,
    seed: o.seed ?? D.seed,
    velora_config: mode === "lora-velora"
      ? { num_groups: o.numGroups ?? D.numGroups, init_type: o.veloraInit, scale: o.veloraScale }
      : null,
  });
}

/**
 * Sets up `mode` on `model`: VeLoRA patching, gradient checkpointing, LoRA adapters, or (lean)
 * f16 saved activations + VeLoRA; lean's recomputed attention is chosen when the model is built.
 */
export function setupMode(
  model: BertForSequenceClassification,
  mode: FinetuneMode,
  o: FinetuneOptions,
): ModeSetup {
  if (mode === "checkpointing") model.gradient_checkpointing_enable();
  if (mode === "lora" || mode === "lora-velora") {
    const peft = get_peft_model(model, loraConfigFor(mode, o));
    return { model: peft, report: null, peft };
  }
  if (mode === "lean") enableHalfSavedActivations(model);
  if (mode !== "velora" && mode !== "lean") return { model, report: null, peft: null };
  const spec = o.veloraLayers ?? "all";
  const targets = VELORA_PRESETS[spec] ?? spec.split(",").map((s) => s.trim()).filter(Boolean);
  const report = applyVeLoRA(model, {
    target_modules: targets,
    num_groups: o.numGroups ?? FINETUNE_DEFAULTS.numGroups,
    init_type: o.veloraInit,
    scale: o.veloraScale,
  });
  return { model, report, peft: null };
}

/** `metrics.json` of one mode (API.md "Main job"); `eval_*` are those of the saved model. */
export interface RunMetrics {
  mode: FinetuneMode;
  model: string;
  dataset: string;
  steps: number;
  train_loss: number;
  final_loss: number;
  eval_accuracy: number;
  eval_loss: number;
  eval_f1?: number;
  eval_examples: number;
  peak_bytes: number;
  activation_bytes: number;
  tokens_per_second: number;
  seconds: number;
  train_examples: number;
  adapter: string;
  velora_layers?: { name: string; num_groups: number; sub_token_size: number }[];
  /** LoRA modes: trainable / all parameter counts and the adapter config. */
  lora?: { trainable_params: number; all_params: number; config: Record<string, unknown> };
  /** HF `trainer_state.json` style: one entry per logging step and per evaluation. */
  log_history: LogEntry[];
}

/** The `TrainingArguments` of a run of the main job. */
export function finetuneTrainingArgs(o: FinetuneOptions, outputDir: string): TrainingArguments {
  const D = FINETUNE_DEFAULTS;
  const batch = o.batchSize ?? D.batchSize;
  return new TrainingArguments({
    output_dir: outputDir,
    num_train_epochs: o.epochs ?? D.epochs,
    max_steps: o.maxSteps ?? D.maxSteps,
    per_device_train_batch_size: batch,
    per_device_eval_batch_size: Math.max(batch, D.evalBatchSize),
    learning_rate: o.lr ?? (o.model ? D.lrPretrained : D.lr),
    warmup_ratio: o.warmupRatio ?? D.warmupRatio,
    weight_decay: o.weightDecay ?? D.weightDecay,
    max_grad_norm: o.maxGradNorm ?? D.maxGradNorm,
    gradient_accumulation_steps: o.gradientAccumulationSteps ?? D.gradientAccumulationSteps,
    seed: o.seed ?? D.seed,
    eval_strategy: o.evalStrategy ?? D.evalStrategy,
    eval_steps: o.evalSteps ?? null,
    save_steps: o.saveSteps ?? D.saveSteps,
    save_total_limit: o.saveTotalLimit ?? D.saveTotalLimit,
    logging_steps: o.loggingSteps ?? D.loggingSteps,
    max_length: o.maxLength ?? D.maxLength,
    disable_tqdm: !(o.progress ?? true),
  });
}

/** Hooks and switches of {@linkcode runFinetune}. */
export interface RunFinetuneOptions {
  /** Continue from the newest checkpoint in the output folder. */
  resume?: boolean;
  /** Log sink (default console.log). */
  log?: (m: string) => void;
  /** HF `on_step_end`; returning true stops training after that step. */
  onStepEnd?: (state: Readonly<TrainerState>) => boolean | void;
}

/**
 * Runs one mode of the main job end to end: build the model, set up the mode, train (evaluating
 * as `evalStrategy` says and always the final model), save the model and tokenizer into
 * `outputDir` (`save_pretrained`) with checkpoints under it, and write `metrics.json`.
 */
export async function runFinetune(
  device: Device,
  mode: FinetuneMode,
  o: FinetuneOptions,
  data: PreparedData,
  outputDir: string,
  run: RunFinetuneOptions = {},
): Promise<{ metrics: RunMetrics; output: TrainOutput }> {
  const lora = mode === "lora" || mode === "lora-velora";
  const args = finetuneTrainingArgs(
    lora && o.lr === undefined && o.model ? { ...o, lr: FINETUNE_DEFAULTS.lrLora } : o,
    outputDir,
  );
  await ensureWritableDir(outputDir, "--output-dir");
  const { model: base, tokenizer, name } = await buildModel(
    device,
    o,
    data,
    mode === "lean" ? "flash_attention_2" : undefined,
  );
  const { model, report, peft } = setupMode(base, mode, o);
  let trainer: Trainer;
  try {
    trainer = new Trainer({
      model,
      tokenizer,
      train_dataset: data.train,
      eval_dataset: data.eval,
      regression: base.config.num_labels === 1,
      log: run.log,
      on_step_end: run.onStepEnd,
      args,
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  try {
    const output = await trainer.train({ resume_from_checkpoint: run.resume ?? false });
    if (peft && !o.model) {
      // The embedded base has no hub id: save it (frozen, unchanged) beside the adapter and
      // name that folder as the adapter's base.
      const baseDir = join(outputDir, "base_model");
      await saveBase(peft, baseDir);
      await tokenizer.save_pretrained(baseDir);
      peft.peft_config[peft.active_adapter].base_model_name_or_path = resolve(baseDir);
    }
    await model.save_pretrained(outputDir);
    await tokenizer.save_pretrained(outputDir);
    const ev = output.eval!;
    const metrics: RunMetrics = {
      mode,
      model: name,
      dataset: data.name,
      steps: output.global_step,
      train_loss: output.training_loss,
      final_loss: output.final_loss,
      eval_accuracy: ev.eval_accuracy,
      ...(ev.eval_f1 !== undefined ? { eval_f1: ev.eval_f1 } : {}),
      eval_examples: ev.eval_examples,
      eval_loss: ev.eval_loss,
      peak_bytes: output.peak_bytes,
      activation_bytes: output.activation_bytes,
      tokens_per_second: output.tokens_per_second,
      seconds: output.seconds,
      train_examples: data.train.length,
      adapter: device.describe(),
      ...(report
        ? {
          velora_layers: report.layers.map((l) => ({
            name: l.name,
            num_groups: l.num_groups,
            sub_token_size: l.sub_token_size,
          })),
        }
        : {}),
      ...(peft
        ? {
          lora: {
            trainable_params: peft.get_nb_trainable_parameters()[0],
            all_params: peft.get_nb_trainable_parameters()[1],
            config: peft.peft_config[peft.active_adapter].to_dict(),
          },
        }
        : {}),
      log_history: output.log_history,
    };
    await writeJsonAtomic(join(outputDir, "metrics.json"), metrics);
    return { metrics, output };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/**
 * Saves the base model of `peft` as a plain HF checkpoint (its original weights: adapters not
 * merged, the original classifier).
 */
async function saveBase(peft: PeftModel, dir: string): Promise<void> {
  const base = peft.get_base_model() as BertForSequenceClassification;
  const state = new Map(
    [...peft.base_model.model.state_dict()].flatMap(([k, t]): [string, typeof t][] => {
      if (k.includes(".lora_") || k.includes(".modules_to_save.")) return [];
      return [[k.replace(".base_layer.", ".").replace(".original_module.", "."), t]];
    }),
  );
  await Deno.mkdir(dir, { recursive: true });
  const tensors = new Map<string, ShardTensor>();
  for (const [k, t] of state) {
    tensors.set(k, { shape: t.shape, bytes: t.numel * 4, read: () => t.toArray() });
  }
  // As save_pretrained: sharded past HF's default 5GB, stale weight files removed.
  await saveSafetensorsShards(dir, tensors);
  base.config.architectures = [base.constructor.name];
  await base.config.save_pretrained(dir);
}
