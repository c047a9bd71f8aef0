let enabled = true;

/** Whether operations currently record the autograd graph (false inside {@linkcode noGrad}). */
export function isGradEnabled(): boolean {
  return enabled;
}

/**
 * Runs `fn` without recording the autograd graph (PyTorch's `torch.no_grad()`): no op saves
 * anything for backward, so eval forwards hold no activation memory.
 */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Sets grad mode and returns the previous one (for async code that cannot use a callback). */
export function setGradEnabled(mode: boolean): boolean {
  const prev = enabled;
  enabled = mode;
  return prev;
}
