import type { Device } from "../runtime/device.ts";
import type { Storage } from "../tensor/storage.ts";
import { Tensor } from "../tensor/tensor.ts";

/**
 * What the VeLoRA layers of one `applyVeLoRA` call share (owned by its report, no module-level
 * state): layers that read the same input with the same sub-token size and init type (BERT
 * query/key/value, LLaMA q/k/v and gate/up) initialise one v and compute and save z once; their
 * fallback flags are read back together in one transfer.
 *
 * Entries are keyed by the input's storage through `WeakMap`s and hold no reference to z: a
 * freed z storage or a collected input is simply a miss, so nothing outlives a step.
 */
export class VeLoRASharing {
  #v = new WeakMap<Storage, Map<string, Tensor>>();
  #z = new WeakMap<Storage, Map<Storage, { z: Storage; shape: number[] }>>();
  #interned = new Map<string, Tensor>();
  #pending: Tensor[] = [];
  #warned = false;

  /** The v another layer initialised from input `x` under `key` in this step, or null. */
  sharedV(x: Tensor, key: string): Tensor | null {
    const v = this.#v.get(x.storage)?.get(key);
    return v && !v.isDisposed ? v : null;
  }

  /** Records that `v` was initialised from input `x` under `key`. */
  rememberV(x: Tensor, key: string, v: Tensor): void {
    let byKey = this.#v.get(x.storage);
    if (!byKey) this.#v.set(x.storage, byKey = new Map());
    byKey.set(key, v);
  }

  /** A new handle on the z another layer computed from `x` with `v`, or null. */
  cachedZ(x: Tensor, v: Tensor): Tensor | null {
    const hit = this.#z.get(x.storage)?.get(v.storage);
    if (!hit || hit.z.freed) return null;
    return new Tensor(x.device, hit.z.retain(), hit.shape, "f16");
  }

  /** Records z computed from `x` with `v` (no reference is kept to z's handle). */
  rememberZ(x: Tensor, v: Tensor, z: Tensor): void {
    let byV = this.#z.get(x.storage);
    if (!byV) this.#z.set(x.storage, byV = new Map());
    byV.set(v.storage, { z: z.storage, shape: [...z.shape] });
  }

  /**
   * A kept parameter-category tensor holding `values`; equal vectors loaded for several layers
   * (q/k/v after a resume) get views of one tensor, so their shared z is computed once again.
   * The caller owns (and disposes) the returned handle; only live handles are matched.
   */
  internV(device: Device, values: Float32Array): Tensor {
    const key = Array.from(values).join(",");
    const twin = this.#interned.get(key);
    if (twin && !twin.isDisposed) return twin.view([values.length]).keep();
    const t = Tensor.from(device, values, [values.length], {
      category: "parameter",
      label: "velora.v",
    }).keep();
    this.#interned.set(key, t);
    return t;
  }

  /**
   * Queues a check of a layer's fallback flag (i32 [1], 1 when v fell back to a random vector).
   * All flags queued during one synchronous forward are copied into one buffer and read back
   * once, after the forward has queued its work; a warning is printed once per sharing object.
   */
  checkFallback(flag: Tensor): void {
    if (this.#warned) return;
    this.#pending.push(flag);
    if (this.#pending.length === 1) queueMicrotask(() => this.#readFlags());
  }

  #readFlags(): void {
    const flags = this.#pending.filter((f) => !f.isDisposed);
    this.#pending = [];
    if (!flags.length) return;
    const device = flags[0].device;
    const all = Tensor.empty(device, [flags.length], { dtype: "i32" });
    flags.forEach((f, i) => device.copy(f, all, 4, 0, 4 * i));
    all.toArray().then((values) => {
      if (values.some((f) => f !== 0) && !this.#warned) {
        this.#warned = true;
        console.warn(
          "VeLoRA: the mean sub-token of a batch has (near) zero norm; v fell back to a seeded " +
            "random unit vector",
        );
      }
    }).catch(() => {}).finally(() => all.dispose());
  }
}
