import type { Tensor } from "../tensor/tensor.ts";
import { dropout } from "../ops/dropout.ts";
import { nextSeed } from "./init.ts";
import { Module } from "./module.ts";

/** Options of {@linkcode Dropout}. */
export interface DropoutOptions {
  /** Base seed of the masks; default: drawn from the global stream (`manual_seed`). */
  seed?: number;
}

const CALLS = 2 ** 21; // forwards before the per-call seed sequence repeats

/**
 * PyTorch `nn.Dropout(p)`: in training mode zeroes each element with probability p and scales the
 * rest by 1/(1 − p); identity in eval mode (a view of the input). Each training forward uses a
 * fresh seed, (call count)·2³² + base seed, so masks differ between calls and between modules, and
 * a run is reproducible from its seeds. Nothing is saved for backward (the mask is regenerated).
 */
export class Dropout extends Module {
  /** Drop probability. */
  p: number;
  /** Base seed (32-bit); models set it from their own seed so runs are reproducible. */
  seed: number;
  /** Training forwards so far (the next call's seed uses it). */
  calls = 0;

  /** Drops with probability `p`. @throws {Error} when p is outside [0, 1]. */
  constructor(p = 0.5, options: DropoutOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
    this.seed = (options.seed ?? nextSeed()) >>> 0;
  }

  /** x [...] → [...]. */
  forward(x: Tensor): Tensor {
    const seed = this.drawSeed();
    return seed === null ? dropout(x, 0, 0, false) : dropout(x, this.p, seed);
  }

  /**
   * The seed of this call's mask, advancing the call counter; null when dropout is inactive
   * (eval or p = 0). For fused ops such as `dropoutMatmul`.
   */
  drawSeed(): number | null {
    if (!this.training || this.p === 0) return null;
    const seed = (this.calls % CALLS) * 4294967296 + this.seed;
    this.calls++;
    return seed;
  }

  /** The call counter, so gradient checkpointing can replay the same masks. */
  getRngState(): number {
    return this.calls;
  }

  /** Restores {@linkcode Dropout.getRngState}. */
  setRngState(state: unknown): void {
    this.calls = state as number;
  }

  /** As PyTorch prints it. */
  extra_repr(): string {
    return `p=${this.p}`;
  }
}
