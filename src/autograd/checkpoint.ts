import type { Tensor } from "../tensor/tensor.ts";
import { tidy } from "../tensor/scope.ts";
import { isGradEnabled, noGrad, setGradEnabled } from "./grad_mode.ts";
import { record } from "./node.ts";
import { runBackward } from "./engine.ts";

/** Something whose random state must be replayed when a forward is recomputed (e.g. dropout). */
export interface RandomState {
  /** The state to restore before recomputation. */
  getRngState(): unknown;
  /** Restores a state from {@linkcode RandomState.getRngState}. */
  setRngState(state: unknown): void;
}

function hasRng(m: unknown): m is RandomState {
  return typeof (m as RandomState)?.getRngState === "function";
}

/** Collects objects with random state from a module tree (`named_modules()`). */
function randomStates(owner: unknown): RandomState[] {
  const mods = (owner as { named_modules?: () => Iterable<[string, unknown]> })?.named_modules;
  if (!mods) return hasRng(owner) ? [owner] : [];
  const out: RandomState[] = [];
  for (const [, m] of mods.call(owner)) if (hasRng(m)) out.push(m);
  return out;
}

/**
 * Gradient checkpointing (PyTorch `torch.utils.checkpoint`, HF `gradient_checkpointing_enable`):
 * runs `fn` without recording, keeping only its tensor `inputs` for backward; backward replays
 * `fn` with the same random state (dropout masks of modules under `owner`) and backpropagates
 * through the replay. Saves: the inputs. Costs one extra forward of `fn` per backward.
 * Parameters used by `fn` receive their gradients directly from the replay.
 */
export function checkpoint(
  fn: (...inputs: (Tensor | null)[]) => Tensor,
  inputs: (Tensor | null)[],
  owner?: unknown,
): Tensor {
  if (!isGradEnabled()) return fn(...inputs);
  const rngs = randomStates(owner);
  const states = rngs.map((r) => r.getRngState());
  // tidy hands the result to the caller's scope; everything else of the forward is freed.
  const out = noGrad(() => tidy(() => fn(...inputs)));
  // The node must exist even when no input requires grad: the parameters inside fn do.
  const anchor = inputs.find((t): t is Tensor => t !== null) ?? null;
  const forceGrad = anchor && !anchor.requiresGrad;
  if (forceGrad) anchor.requiresGrad = true;
  try {
    return record(out, inputs, "CheckpointBackward", (save) => {
      const saved = inputs.map((t) => (t ? save(t) : null));
      const wantsGrad = inputs.map((
        t,
      ) => (t ? t.requiresGrad && !(forceGrad && t === anchor) : false));
      return (g) => {
        const after = rngs.map((r) => r.getRngState());
        rngs.forEach((r, i) => r.setRngState(states[i]));
        const replayInputs = saved.map((s, i) => {
          if (!s) return null;
          const t = s.tensor.view();
          t.requiresGrad = wantsGrad[i];
          return t;
        });
        const prev = setGradEnabled(true);
        let y: Tensor;
        try {
          y = tidy(() => fn(...replayInputs).keep());
        } finally {
          setGradEnabled(prev);
          rngs.forEach((r, i) => r.setRngState(after[i]));
        }
        runBackward(y, g);
        y.dispose();
        return replayInputs.map((t) => {
          const grad = t?.grad ?? null;
          t?.dispose();
          return grad;
        });
      };
    });
  } finally {
    if (forceGrad) anchor.requiresGrad = false;
  }
}
