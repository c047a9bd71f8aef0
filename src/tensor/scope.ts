/**
 * Disposes every given tensor now (null/undefined are skipped): modules free each intermediate
 * right after its last use, as PyTorch's reference counting does, so a forward's peak memory is
 * its saved activations plus a few live temporaries rather than every intermediate.
 */
export function free(...items: (Disposable | null | undefined)[]): void {
  for (const t of items) t?.dispose();
}

/** Anything a scope can dispose. */
export interface Disposable {
  /** Frees the object's resources now (GPU buffers for a tensor); a second call is a no-op. */
  dispose(): void;
  /** True once `dispose()` ran. */
  readonly isDisposed: boolean;
}

const stack: Set<Disposable>[] = [];

/** @internal Registers a new tensor with the innermost {@linkcode tidy} scope, if any. */
export function track(t: Disposable): void {
  stack[stack.length - 1]?.add(t);
}

/** @internal Removes `t` from the innermost scope (it outlives the scope, e.g. a parameter). */
export function untrack(t: Disposable): void {
  for (const s of stack) s.delete(t);
}

function collect(value: unknown, out: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if (typeof (value as Disposable).dispose === "function") out.add(value);
  if (Array.isArray(value)) { for (const v of value) collect(v, out, depth + 1); }
  else if (value instanceof Map) { for (const v of value.values()) collect(v, out, depth + 1); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (found in the
 * result, in arrays, Maps and plain objects up to 4 levels deep), like TensorFlow.js `tf.tidy`.
 * Tensors saved for backward stay alive until backward has used them: disposing a tensor only
 * drops this handle's reference to the GPU buffer.
 * `fn` must be synchronous (WebGPU work is queued anyway; await readbacks outside).
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    finish(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    finish(scope, undefined);
    throw new Error("tidy() takes a synchronous function: await outside of it");
  }
  return finish(scope, result);
}

function finish<T>(scope: Set<Disposable>, result: T): T {
  const i = stack.lastIndexOf(scope);
  if (i >= 0) stack.splice(i, 1);
  const keep = new Set<unknown>();
  collect(result, keep);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (keep.has(t)) parent?.add(t);
    else if (!t.isDisposed) t.dispose();
  }
  return result;
}
