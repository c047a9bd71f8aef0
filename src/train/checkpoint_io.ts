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
 * Keeps the newest `keep` checkpoints.
 * @throws {Error} naming the folder when writing fails.
 */
export async function saveCheckpoint(
  dir: string,
  state: TrainerState,
  model: Module & { save_pretrained(dir: string): Promise<void> },
  optimizer: AdamW,
  keep = 2,
): Promise<string> {
  const final = join(dir, `checkpoint-${state.global_step}`);
  await Deno.mkdir(dir, { recursive: true });
  await writeAtomic(final, async (tmp) => {
    await Deno.mkdir(tmp);
    await model.save_pretrained(tmp);
    await saveExtraState(model, tmp);
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

/**
 * Restores model weights, modules' extra state (a model with extra state needs the file) and
 * optimizer moments from a checkpoint folder and
 * returns its trainer state.
 * @throws {Error} naming the folder and file when something is missing or does not fit.
 */
export async function loadCheckpoint(
  path: string,
  model: Module,
  optimizer: AdamW,
): Promise<TrainerState> {
  try {
    const weights = await loadSafetensors(join(path, "model.safetensors"));
    const sd: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
    for (const [k, v] of weights) sd[k] = v;
    model.load_state_dict(sd);
    await loadExtraState(model, path);
    const meta = JSON.parse(await Deno.readTextFile(join(path, "optimizer.json")));
    const moments = await loadSafetensors(join(path, "optimizer.safetensors"));
    const state: AdamWStateDictInput["state"] = {};
    for (const [i, step] of Object.entries(meta.steps as Record<string, number>)) {
      state[i] = {
        step,
        exp_avg: moments.get(`${i}.exp_avg`)!.data,
        exp_avg_sq: moments.get(`${i}.exp_avg_sq`)!.data,
      };
    }
    optimizer.load_state_dict({ state, param_groups: meta.param_groups });
    return JSON.parse(await Deno.readTextFile(join(path, "trainer_state.json")));
  } catch (e) {
    throw new Error(`${path}: cannot resume from this checkpoint: ${(e as Error).message}`);
  }
}
