import { join } from "node:path";
import type { Module } from "../nn/module.ts";
import type { AdamW, AdamWStateDictInput } from "../optim/adamw.ts";
import { loadSafetensors, saveSafetensors } from "../io/safetensors.ts";
import { loadExtraState, saveExtraState } from "../nn/extra_state_io.ts";
import { writeAtomic } from "../util/write_atomic.ts";

/**
 * One `log_history` entry (HF `trainer_state.json`): a logging step carries `loss` and
 * `learning_rate`, an evaluation its `eval_*` metrics.
 */
export interface LogEntry {
  /** Optimizer step. */
  step: number;
  /** Epochs done, fractional. */
  epoch: number;
  /** Mean training loss since the previous logging step. */
  loss?: number;
  /** Learning rate of the step. */
  learning_rate?: number;
  /** `eval_loss`, `eval_accuracy`, ... of an evaluation. */
  [metric: string]: number | undefined;
}

/** Position and history of a training run, written as `trainer_state.json` (HF name). */
export interface TrainerState {
  /** Optimizer steps done. */
  global_step: number;
  /** Epoch of the next batch. */
  epoch: number;
  /** Micro-batches of `epoch` already consumed. */
  step_in_epoch: number;
  /** HF `log_history`: one entry per logging step and per evaluation. */
  log_history: LogEntry[];
  /** Random state of modules (dropout call counters), by module name. */
  rng_states: Record<string, unknown>;
  /** LambdaLR state. */
  scheduler: { last_epoch: number; base_lrs: number[] };
  /** Tokens processed and training seconds so far (for tokens/s across a resume). */
  tokens_seen: number;
  /** Seconds spent in training steps so far. */
  train_seconds: number;
  /** Σ of the per-micro-batch losses read so far, and how many (for the run's mean loss). */
  loss_sum?: number;
  /** Number of micro-batch losses in `loss_sum`. */
  loss_count?: number;
}

/** Checkpoint folders `checkpoint-<step>` in `dir`, highest step last. */
export async function listCheckpoints(dir: string): Promise<{ step: number; path: string }[]> {
  const out: { step: number; path: string }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^checkpoint-(\d+)$/.exec(e.name);
      if (e.isDirectory && m) out.push({ step: Number(m[1]), path: join(dir, e.name) });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Writes a complete checkpoint (model via `save`, optimizer moments, modules' extra state such as
 * VeLoRA's vectors (`extra_state.safetensors`), trainer
 * state) into `<dir>/checkpoint-<step>` atomically: everything goes into a temporary folder that
 * is renamed only when complete, so a failed or interrupted save never leaves a broken checkpoint.
 * Keeps the newest `keep` checkpoints. With `tokenizer`, its files go in too.
 * @throws {Error} naming the folder when writing fails.
 */
export async function saveCheckpoint(
  dir: string,
  state: TrainerState,
  model: Module & { save_pretrained(dir: string): Promise<void> },
  optimizer: AdamW,
  keep = 2,
  tokenizer?: { save_pretrained(dir: string): Promise<void> },
): Promise<string> {
  const final = join(dir, `checkpoint-${state.global_step}`);
  await Deno.mkdir(dir, { recursive: true });
  await writeAtomic(final, async (tmp) => {
    await Deno.mkdir(tmp);
    await model.save_pretrained(tmp);
    await saveExtraState(model, tmp);
    // With the tokenizer inside, a checkpoint folder is a complete model folder (classify.ts).
    await tokenizer?.save_pretrained(tmp);
    const opt = await optimizer.state_dict();
    const moments = new Map<string, { shape: number[]; data: Float32Array }>();
    const steps: Record<string, number> = {};
    for (const [i, s] of Object.entries(opt.state)) {
      moments.set(`${i}.exp_avg`, { shape: [s.exp_avg.length], data: s.exp_avg });
      moments.set(`${i}.exp_avg_sq`, { shape: [s.exp_avg_sq.length], data: s.exp_avg_sq });
      steps[i] = s.step;
    }
    await saveSafetensors(join(tmp, "optimizer.safetensors"), moments);
    await Deno.writeTextFile(
      join(tmp, "optimizer.json"),
      JSON.stringify({ steps, param_groups: opt.param_groups }),
    );
    await Deno.writeTextFile(join(tmp, "trainer_state.json"), JSON.stringify(state, null, 1));
    // A folder cannot be renamed onto a non-empty one: an older save of this step goes first.
    await Deno.remove(final, { recursive: true }).catch(() => {});
  }, { what: "saving the checkpoint" });
  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    await Deno.remove(old.path, { recursive: true }).catch(() => {});
  }
  return final;
}

/** Sibling temporaries a killed save leaves: `checkpoint-<step>.tmp-<8 hex digits>`. */
const STALE_TEMP = /^checkpoint-\d+\.tmp-[0-9a-f]{8}$/;

/**
 * Removes the temporary checkpoint folders (`checkpoint-<step>.tmp-*`) that a run killed during a
 * save left in `dir` (a complete save renames its temporary, so none belongs to a live run of
 * this folder). Returns the paths removed.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!STALE_TEMP.test(e.name)) continue;
      const path = join(dir, e.name);
      await Deno.remove(path, { recursive: true });
      removed.push(path);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed.sort();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Checks a parsed `trainer_state.json` field by field (it drives the data order, the schedule
 * and the step count of a resumed run, so nonsense must not get through).
 * @param raw the parsed JSON
 * @param file the file, for messages
 * @param step the step the folder name says (`checkpoint-<step>`); `global_step` must equal it
 * @throws {Error} naming the file, field and value.
 */
export function validateTrainerState(raw: unknown, file: string, step?: number): TrainerState {
  const bad = (field: string, want: string, v: unknown): never => {
    throw new Error(`${file}: "${field}" must be ${want}, got ${JSON.stringify(v) ?? "nothing"}`);
  };
  if (!isRecord(raw)) bad("(top level)", "an object", raw);
  const s = raw as Record<string, unknown>;
  const count = (k: string) => {
    const v = s[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0) bad(k, "an integer ≥ 0", v);
  };
  const amount = (k: string, optional = false) => {
    const v = s[k];
    if (optional && v === undefined) return;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) bad(k, "a finite number ≥ 0", v);
  };
  for (const k of ["global_step", "epoch", "step_in_epoch", "tokens_seen"]) count(k);
  amount("train_seconds");
  amount("loss_sum", true);
  amount("loss_count", true);
  if (step !== undefined && s.global_step !== step) {
    bad("global_step", `${step} (the folder's step)`, s.global_step);
  }
  if (!Array.isArray(s.log_history) || !s.log_history.every(isRecord)) {
    bad("log_history", "an array of objects", s.log_history);
  }
  if (!isRecord(s.rng_states)) bad("rng_states", "an object", s.rng_states);
  const sch = s.scheduler as Record<string, unknown>;
  if (
    !isRecord(sch) || !Number.isSafeInteger(sch.last_epoch) ||
    !Array.isArray(sch.base_lrs) ||
    !sch.base_lrs.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0)
  ) {
    bad("scheduler", "{ last_epoch: integer, base_lrs: finite numbers ≥ 0 }", sch);
  }
  if (sch.last_epoch !== s.global_step) {
    bad("scheduler.last_epoch", `global_step (${s.global_step})`, sch.last_epoch);
  }
  return s as unknown as TrainerState;
}

/** Throws naming the file and tensor when any value of `tensors` is Inf or NaN. */
function assertFinite(
  tensors: Map<string, { data: Float32Array | Int32Array }>,
  file: string,
): void {
  for (const [name, t] of tensors) {
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      throw new Error(
        `${file}: tensor "${name}" holds ${t.data[i]} at index ${i}; this checkpoint is not usable`,
      );
    }
  }
}

/**
 * Restores model weights, modules' extra state (a model with extra state needs the file) and
 * optimizer moments from a checkpoint folder and returns its trainer state. Everything is read
 * and checked first (trainer state fields, Inf/NaN in weights and moments, missing moments), so
 * a bad checkpoint changes nothing.
 * @throws {Error} naming the folder and file when something is missing, invalid or does not fit.
 */
export async function loadCheckpoint(
  path: string,
  model: Module,
  optimizer: AdamW,
): Promise<TrainerState> {
  try {
    const stateFile = join(path, "trainer_state.json");
    const folderStep = /checkpoint-(\d+)$/.exec(path.replace(/[\\/]+$/, ""))?.[1];
    let raw: unknown;
    try {
      raw = JSON.parse(await Deno.readTextFile(stateFile));
    } catch (e) {
      throw new Error(`${stateFile}: ${(e as Error).message}`);
    }
    const trainerState = validateTrainerState(
      raw,
      stateFile,
      folderStep === undefined ? undefined : Number(folderStep),
    );
    // A model whose save_pretrained writes something else (PeftModel: the adapter files) reads
    // (and checks) it with its own `load_checkpoint_weights`.
    const own = (model as { load_checkpoint_weights?: (dir: string) => Promise<void> })
      .load_checkpoint_weights;
    const weightsFile = join(path, "model.safetensors");
    const weights = own ? new Map() : await loadSafetensors(weightsFile);
    assertFinite(weights, weightsFile);
    const metaFile = join(path, "optimizer.json");
    const meta = JSON.parse(await Deno.readTextFile(metaFile));
    if (!isRecord(meta) || !isRecord(meta.steps) || !Array.isArray(meta.param_groups)) {
      throw new Error(`${metaFile}: expected { steps: {...}, param_groups: [...] }`);
    }
    const momentsFile = join(path, "optimizer.safetensors");
    const moments = await loadSafetensors(momentsFile);
    assertFinite(moments, momentsFile);
    const state: AdamWStateDictInput["state"] = {};
    for (const [i, step] of Object.entries(meta.steps as Record<string, number>)) {
      const m = moments.get(`${i}.exp_avg`);
      const v = moments.get(`${i}.exp_avg_sq`);
      if (!m || !v) throw new Error(`${momentsFile}: the moments of parameter ${i} are missing`);
      state[i] = { step, exp_avg: m.data, exp_avg_sq: v.data };
    }
    const sd: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
    for (const [k, v] of weights) sd[k] = v;
    // Extra state first: it checks its file (missing, bad metadata, keys) before changing anything.
    await loadExtraState(model, path);
    if (own) await own.call(model, path);
    else model.load_state_dict(sd);
    optimizer.load_state_dict({ state, param_groups: meta.param_groups });
    return trainerState;
  } catch (e) {
    throw new Error(`${path}: cannot resume from this checkpoint: ${(e as Error).message}`);
  }
}
