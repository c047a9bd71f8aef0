/**
 * Runs `bench/peers/torch_step.py` (plain PyTorch on the CPU) with Debian's Python when it can
 * import torch, and turns its JSON line into a result row.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { ResultRow } from "./report.ts";
import type { ModelShape } from "./step.ts";

/** Debian's Python with `python3-torch`. */
export const PYTHON = "/usr/bin/python3";

const SCRIPT = fileURLToPath(new URL("../peers/torch_step.py", import.meta.url));

/** The torch version when `/usr/bin/python3` can import torch, else null. */
export async function torchVersion(): Promise<string | null> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch; print(torch.__version__)"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** Options of {@linkcode runTorchPeer}. */
export interface TorchPeerOptions {
  /** Model shapes (the small BERT). */
  shape: ModelShape;
  /** Rows per step. */
  batch: number;
  /** Tokens per row. */
  seq: number;
  /** Timed steps. */
  steps: number;
  /** Untimed steps first. */
  warmup: number;
  /** Seed. */
  seed: number;
  /** torch.set_num_threads. */
  threads: number;
}

/** Runs the PyTorch CPU step and returns its row ("pytorch-cpu"). @throws {Error} on failure. */
export async function runTorchPeer(o: TorchPeerOptions): Promise<ResultRow> {
  const args = [
    SCRIPT,
    "--batch",
    String(o.batch),
    "--seq",
    String(o.seq),
    "--steps",
    String(o.steps),
    "--warmup",
    String(o.warmup),
    "--layers",
    String(o.shape.layers),
    "--hidden",
    String(o.shape.hidden),
    "--heads",
    String(o.shape.heads),
    "--intermediate",
    String(o.shape.intermediate),
    "--vocab",
    String(o.shape.vocab),
    "--seed",
    String(o.seed),
    "--threads",
    String(o.threads),
  ];
  const out = await new Deno.Command(PYTHON, { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
    throw new Error(`${PYTHON} ${SCRIPT} failed (exit ${out.code}):\n${err}`);
  }
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (!line) throw new Error(`${SCRIPT}: no JSON line in its output`);
  const r = JSON.parse(line) as Record<string, unknown>;
  return {
    ...r,
    model: o.shape.name,
    mode: "pytorch-cpu",
    batch: o.batch,
    seq: o.seq,
    peak_bytes: null,
    activation_bytes: null,
    step_ms: Number(r.step_ms),
    tokens_per_second: Number(r.tokens_per_second),
  };
}
