/**
 * `AdamW` with `torch.optim.AdamW` semantics (amsgrad = False): one fused WGSL dispatch per
 * parameter, all queued into the current submit, no readback.
 *
 * @module
 */

import type { Device } from "../runtime/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import { defineKernel, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { zeros } from "../ops/basic.ts";
import src from "../../kernels/adamw.wgsl" with { type: "text" };

const ADAMW = defineKernel({
  name: "adamw.wgsl",
  code: GRID_WGSL + src,
  bindings: ["param", "grad", "exp_avg", "exp_avg_sq", "gscale", "steps"],
  uniforms: ["n", "scaled", "slot", "eps", "beta1", "beta2", "omb1", "omb2"],
});

/** Hyperparameters of {@linkcode AdamW} (PyTorch names and defaults). */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Coefficients of the running averages of g and g² (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01). */
  weight_decay?: number;
}

/** Parameters to optimise: tensors, `[name, tensor]` pairs (`named_parameters()`) or groups. */
export type ParamsInput =
  | Iterable<Tensor>
  | Iterable<readonly [string, Tensor]>
  | Iterable<ParamGroupInput>;

/** One parameter group with its own hyperparameters (PyTorch `param_groups` entry). */
export interface ParamGroupInput extends AdamWOptions {
  /** The group's parameters. */
  params: Iterable<Tensor> | Iterable<readonly [string, Tensor]>;
}

/** A parameter group as the optimizer holds it; `lr` may be changed between steps. */
export interface ParamGroup {
  /** Parameters, in order. */
  params: Tensor[];
  /** Names, when the optimizer was given `[name, tensor]` pairs (else null entries). */
  param_names: (string | null)[];
  /** Learning rate of the next step. */
  lr: number;
  /** [β1, β2]. */
  betas: [number, number];
  /** Denominator epsilon. */
  eps: number;
  /** Decoupled weight decay. */
  weight_decay: number;
  /** The lr before any scheduler changed it (set by `LambdaLR`). */
  initial_lr?: number;
}

/** Per-parameter state. */
export interface AdamWParamState {
  /** Steps taken by this parameter (a parameter without grad in a step does not count it). */
  step: number;
  /** First moment m, category "optimizer". */
  exp_avg: Tensor;
  /** Second moment v, category "optimizer". */
  exp_avg_sq: Tensor;
}

/** Optimizer state on the CPU, keyed by global parameter index (PyTorch `state_dict()` layout). */
export interface AdamWStateDict {
  /** Index → `{step, exp_avg, exp_avg_sq}` for every parameter that has taken a step. */
  state: Record<number, { step: number; exp_avg: Float32Array; exp_avg_sq: Float32Array }>;
  /** Group hyperparameters; `params` lists global indices, `param_names` the names if known. */
  param_groups: {
    lr: number;
    betas: [number, number];
    eps: number;
    weight_decay: number;
    amsgrad: false;
    maximize: false;
    initial_lr?: number;
    params: number[];
    param_names?: (string | null)[];
  }[];
}

/** A state dict as it may come back from JSON (indices as strings, plain arrays). */
export interface AdamWStateDictInput {
  /** Index (number or string) → state with plain or typed arrays. */
  state: Record<
    number | string,
    { step: number; exp_avg: ArrayLike<number>; exp_avg_sq: ArrayLike<number> }
  >;
  /** Groups as saved. */
  param_groups: (AdamWOptions & {
    initial_lr?: number;
    params: number[];
    param_names?: (string | null)[];
  })[];
}

/** Options of {@linkcode AdamW.step}. */
export interface StepOptions {
  /**
   * A one-element f32 tensor multiplied into every gradient before the update (e.g. the clip
   * coefficient from `clipGradNormCoef`, so clipping needs neither a readback nor a pass over g).
   */
  gradScale?: Tensor;
}

const READ_BATCH_BYTES = 64 << 20;

function checkHyper(o: Required<AdamWOptions>): void {
  const [b1, b2] = o.betas;
  if (!(o.lr >= 0)) throw new Error(`AdamW: invalid learning rate ${o.lr}`);
  if (!(o.eps >= 0)) throw new Error(`AdamW: invalid epsilon value ${o.eps}`);
  if (!(b1 >= 0 && b1 < 1)) throw new Error(`AdamW: invalid beta parameter at index 0: ${b1}`);
  if (!(b2 >= 0 && b2 < 1)) throw new Error(`AdamW: invalid beta parameter at index 1: ${b2}`);
  if (!(o.weight_decay >= 0)) {
    throw new Error(`AdamW: invalid weight_decay value ${o.weight_decay}`);
  }
}

function isGroup(v: unknown): v is ParamGroupInput {
  return typeof v === "object" && v !== null && !(v instanceof Tensor) && !Array.isArray(v) &&
    "params" in v;
}

/**
 * PyTorch `torch.optim.AdamW` (amsgrad = False, maximize = False). For each parameter with a
 * gradient, in one fused kernel: p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g;
 * v ← β2·v + (1 − β2)·g²; p ← p − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + eps), with t counted per
 * parameter. m and v are allocated (zeros, category "optimizer") at a parameter's first step.
 */
export class AdamW {
  /** Parameter groups (PyTorch `param_groups`); `param_groups[i].lr` may be set between steps. */
  readonly param_groups: ParamGroup[] = [];
  /** Defaults for groups that do not set a hyperparameter. */
  readonly defaults: Required<AdamWOptions>;
  readonly #state = new Map<Tensor, AdamWParamState>();
  #device: Device | null = null;
  /**
   * The step-dependent scalars of the current step, one vec4 per (group, t) slot, rewritten in
   * place each step: passing them as uniforms would create a new uniform buffer every step.
   */
  #steps: Tensor | null = null;

  /**
   * An optimizer over `params`.
   * @param params tensors, `[name, tensor]` pairs or parameter groups (each parameter once)
   * @param options defaults for every group
   * @throws {Error} for invalid hyperparameters, an empty or duplicated parameter list.
   */
  constructor(params: ParamsInput, options: AdamWOptions = {}) {
    this.defaults = {
      lr: options.lr ?? 1e-3,
      betas: [...(options.betas ?? [0.9, 0.999])] as [number, number],
      eps: options.eps ?? 1e-8,
      weight_decay: options.weight_decay ?? 0.01,
    };
    checkHyper(this.defaults);
    const items = [...params] as unknown[];
    const groups: ParamGroupInput[] = items.length && isGroup(items[0])
      ? items as ParamGroupInput[]
      : [{ params: items as Tensor[] }];
    const seen = new Set<Tensor>();
    for (const g of groups) {
      if (!isGroup(g)) throw new Error("AdamW: mix of parameter groups and parameters");
      const group: ParamGroup = {
        params: [],
        param_names: [],
        lr: g.lr ?? this.defaults.lr,
        betas: [...(g.betas ?? this.defaults.betas)] as [number, number],
        eps: g.eps ?? this.defaults.eps,
        weight_decay: g.weight_decay ?? this.defaults.weight_decay,
      };
      checkHyper(group);
      for (const item of g.params as Iterable<unknown>) {
        const [name, t] = Array.isArray(item) ? item as [string, Tensor] : [null, item];
        if (!(t instanceof Tensor)) {
          throw new Error(`AdamW: expected a parameter Tensor${name ? ` for ${name}` : ""}`);
        }
        if (seen.has(t)) {
          throw new Error("AdamW: some parameters appear in more than one parameter group");
        }
        seen.add(t);
        this.#device ??= t.device;
        group.params.push(t);
        group.param_names.push(name);
      }
      this.param_groups.push(group);
    }
    if (!seen.size) throw new Error("AdamW: optimizer got an empty parameter list");
  }

  /** The first group's learning rate; setting it sets every group's. */
  get lr(): number {
    return this.param_groups[0].lr;
  }

  set lr(value: number) {
    if (!(value >= 0)) throw new Error(`AdamW: invalid learning rate ${value}`);
    for (const g of this.param_groups) g.lr = value;
  }

  /** State of `p` (null before its first step). */
  getState(p: Tensor): AdamWParamState | null {
    return this.#state.get(p) ?? null;
  }

  /**
   * Queues one update of every parameter whose `.grad` is set (parameters without a gradient are
   * skipped and keep their step count). Waits for nothing.
   * @throws {Error} when a gradient's shape differs from its parameter's.
   */
  step(options: StepOptions = {}): void {
    const scale = options.gradScale;
    if (scale && (scale.numel !== 1 || scale.dtype !== "f32")) {
      throw new Error(
        `AdamW.step: gradScale must be a one-element f32 tensor, got [${scale.shape}]`,
      );
    }
    // First pass: state, step counts and the (group, t) slots of this step.
    const work: { p: Tensor; g: Tensor; st: AdamWParamState; group: ParamGroup; slot: number }[] =
      [];
    const slots = new Map<string, number>();
    const scalars: number[] = [];
    this.param_groups.forEach((group, gi) => {
      const [beta1, beta2] = group.betas;
      for (const p of group.params) {
        const g = p.grad;
        if (!g || g.isDisposed) continue;
        if (g.numel !== p.numel || g.dtype !== "f32" || p.dtype !== "f32") {
          throw new Error(
            `AdamW.step: gradient ${g} does not match parameter ${p} (f32, same element count)`,
          );
        }
        let st = this.#state.get(p);
        if (!st) {
          st = {
            step: 0,
            exp_avg: zeros(p.device, p.shape, "optimizer").keep(),
            exp_avg_sq: zeros(p.device, p.shape, "optimizer").keep(),
          };
          this.#state.set(p, st);
        }
        st.step += 1;
        if (p.numel === 0) continue;
        const t = st.step;
        const key = `${gi}:${t}`;
        let slot = slots.get(key);
        if (slot === undefined) {
          slots.set(key, slot = slots.size);
          scalars.push(
            1 - group.lr * group.weight_decay,
            group.lr / (1 - beta1 ** t),
            Math.sqrt(1 - beta2 ** t),
            0,
          );
        }
        work.push({ p, g, st, group, slot });
      }
    });
    if (!work.length) return;
    const device = work[0].p.device;
    const steps = this.#stepBuffer(device, slots.size);
    device.write(steps.buffer, new Float32Array(scalars));
    for (const { p, g, st, group, slot } of work) {
      const [beta1, beta2] = group.betas;
      ADAMW.launch(device, {
        bindings: {
          param: p,
          grad: g,
          exp_avg: st.exp_avg,
          exp_avg_sq: st.exp_avg_sq,
          gscale: scale ?? null,
          steps,
        },
        uniforms: {
          n: p.numel,
          scaled: scale ? 1 : 0,
          slot,
          eps: group.eps,
          beta1,
          beta2,
          omb1: 1 - beta1,
          omb2: 1 - beta2,
        },
        workgroups: grid1d(p.numel),
      });
    }
  }

  /** The per-step scalar buffer with room for `slots` slots (grown rarely, never per step). */
  #stepBuffer(device: Device, slots: number): Tensor {
    if (!this.#steps || this.#steps.numel < slots * 4 || this.#steps.device !== device) {
      this.#steps?.dispose();
      const capacity = Math.max(4, slots, (this.#steps?.numel ?? 0) / 2);
      // "workspace": scratch rewritten every step, not state (it follows from t and lr).
      this.#steps = Tensor.empty(device, [capacity * 4], {
        category: "workspace",
        label: "adamw-step-scalars",
      }).keep();
    }
    return this.#steps;
  }

  /** Frees every parameter's `.grad` and sets it to null (PyTorch `set_to_none=True`). */
  zero_grad(): void {
    for (const g of this.param_groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /**
   * The optimizer state on the CPU (m and v read back in batches), PyTorch layout: `state` keyed
   * by the parameter's global index over all groups, `param_groups` with hyperparameters.
   */
  async state_dict(): Promise<AdamWStateDict> {
    const out: AdamWStateDict = { state: {}, param_groups: [] };
    const reads: [number, AdamWParamState][] = [];
    let index = 0;
    for (const g of this.param_groups) {
      const indices: number[] = [];
      for (const p of g.params) {
        const st = this.#state.get(p);
        if (st) reads.push([index, st]);
        indices.push(index++);
      }
      out.param_groups.push({
        lr: g.lr,
        betas: [...g.betas],
        eps: g.eps,
        weight_decay: g.weight_decay,
        amsgrad: false,
        maximize: false,
        ...(g.initial_lr !== undefined ? { initial_lr: g.initial_lr } : {}),
        params: indices,
        ...(g.param_names.some((n) => n !== null) ? { param_names: [...g.param_names] } : {}),
      });
    }
    // Read in batches: all readbacks of a batch share one GPU wait.
    let batch: Promise<void>[] = [];
    let bytes = 0;
    for (const [i, st] of reads) {
      batch.push(
        Promise.all([st.exp_avg.toArray(), st.exp_avg_sq.toArray()]).then(([m, v]) => {
          out.state[i] = {
            step: st.step,
            exp_avg: m as Float32Array,
            exp_avg_sq: v as Float32Array,
          };
        }),
      );
      bytes += 8 * st.exp_avg.numel;
      if (bytes >= READ_BATCH_BYTES) {
        await Promise.all(batch);
        batch = [];
        bytes = 0;
      }
    }
    await Promise.all(batch);
    return out;
  }

  /**
   * Restores state saved by {@linkcode AdamW.state_dict} (same parameters in the same order):
   * step counts, m and v (written into the GPU buffers) and each group's hyperparameters.
   * Everything is checked before anything changes.
   * @throws {Error} when groups, parameter counts, names or sizes do not match.
   */
  load_state_dict(sd: AdamWStateDictInput): void {
    if (sd.param_groups.length !== this.param_groups.length) {
      throw new Error(
        `AdamW.load_state_dict: loaded state dict has ${sd.param_groups.length} parameter groups, ` +
          `the optimizer has ${this.param_groups.length}`,
      );
    }
    const byIndex = new Map<number, Tensor>();
    sd.param_groups.forEach((sg, gi) => {
      const g = this.param_groups[gi];
      if (sg.params.length !== g.params.length) {
        throw new Error(
          `AdamW.load_state_dict: group ${gi} has ${sg.params.length} parameters in the state dict ` +
            `and ${g.params.length} in the optimizer`,
        );
      }
      sg.params.forEach((idx, j) => {
        const saved = sg.param_names?.[j] ?? null;
        const ours = g.param_names[j];
        if (saved !== null && ours !== null && saved !== ours) {
          throw new Error(
            `AdamW.load_state_dict: parameter ${j} of group ${gi} is "${saved}" in the state dict ` +
              `but "${ours}" in the optimizer`,
          );
        }
        byIndex.set(idx, g.params[j]);
      });
    });
    const entries: [Tensor, { step: number; m: Float32Array; v: Float32Array }][] = [];
    for (const [key, s] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(key));
      if (!p) throw new Error(`AdamW.load_state_dict: state for unknown parameter index ${key}`);
      if (s.exp_avg.length !== p.numel || s.exp_avg_sq.length !== p.numel) {
        throw new Error(
          `AdamW.load_state_dict: state of parameter ${key} has ${s.exp_avg.length}/` +
            `${s.exp_avg_sq.length} elements, the parameter [${p.shape}] has ${p.numel}`,
        );
      }
      if (!(Number.isInteger(s.step) && s.step >= 0)) {
        throw new Error(`AdamW.load_state_dict: invalid step ${s.step} for parameter ${key}`);
      }
      entries.push([p, {
        step: s.step,
        m: s.exp_avg instanceof Float32Array ? s.exp_avg : Float32Array.from(s.exp_avg),
        v: s.exp_avg_sq instanceof Float32Array ? s.exp_avg_sq : Float32Array.from(s.exp_avg_sq),
      }]);
    }
    sd.param_groups.forEach((sg, gi) => {
      const g = this.param_groups[gi];
      const merged = {
        lr: sg.lr ?? g.lr,
        betas: [...(sg.betas ?? g.betas)] as [number, number],
        eps: sg.eps ?? g.eps,
        weight_decay: sg.weight_decay ?? g.weight_decay,
      };
      checkHyper(merged);
      Object.assign(g, merged);
      if (sg.initial_lr !== undefined) g.initial_lr = sg.initial_lr;
    });
    const loaded = new Set(entries.map(([p]) => p));
    for (const [p, st] of this.#state) {
      if (!loaded.has(p)) {
        st.exp_avg.dispose();
        st.exp_avg_sq.dispose();
        this.#state.delete(p);
      }
    }
    for (const [p, { step, m, v }] of entries) {
      let st = this.#state.get(p);
      if (!st) {
        st = {
          step,
          exp_avg: Tensor.from(p.device, m, p.shape, { category: "optimizer" }).keep(),
          exp_avg_sq: Tensor.from(p.device, v, p.shape, { category: "optimizer" }).keep(),
        };
        this.#state.set(p, st);
      } else {
        st.step = step;
        if (p.numel) {
          p.device.write(st.exp_avg.buffer, m);
          p.device.write(st.exp_avg_sq.buffer, v);
        }
      }
    }
  }

  /** Frees m and v of every parameter (the optimizer can still step: state restarts at zero). */
  dispose(): void {
    for (const st of this.#state.values()) {
      st.exp_avg.dispose();
      st.exp_avg_sq.dispose();
    }
    this.#state.clear();
    this.#steps?.dispose();
    this.#steps = null;
  }

  /** The device of the parameters. */
  get device(): Device {
    return this.#device!;
  }
}
