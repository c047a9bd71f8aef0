/**
 * Runs `fn` with a fresh temporary folder (named `${prefix}…`), removed with its contents
 * afterwards whether `fn` succeeds or throws.
 */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "velora-test-",
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
