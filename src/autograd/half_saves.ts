let enabled = false;

/** Whether ops save their f16-tolerant tensors as packed f16 now (inside {@linkcode halfSaves}). */
export function isHalfSaving(): boolean {
  return enabled;
}

/**
 * Runs `fn` with f16 saved activations on (or off with `enable` false): every tensor an op saves
 * for backward with `save(t, { half: true })` — LayerNorm/RMSNorm inputs, GELU/ReLU/tanh/SiLU
 * inputs, and attention's q, k, v and context — is kept as packed f16 (half the bytes) and
 * unpacked to f32 when backward reads it (the activations' backward reads the halves directly,
 * with no f32 copy). The forward is unchanged (f32); gradients carry the
 * rounding of those saved tensors (relative error ≤ 2⁻¹¹ per element). Like `noGrad`, a scope
 * flag: it decides at save time, so backward can run outside it.
 */
export function halfSaves<T>(fn: () => T, enable = true): T {
  const prev = enabled;
  enabled = enable;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
