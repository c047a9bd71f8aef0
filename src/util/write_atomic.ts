/**
 * The one atomic write of the project: content goes to a sibling temporary path that is renamed
 * onto the destination only when complete, so a crash, a full disk or a kill never leaves a
 * half-written file (or folder) under the final name, and an existing one stays untouched.
 *
 * @module
 */

/** Options of {@linkcode writeAtomic}. */
export interface WriteAtomicOptions {
  /**
   * Infix of the temporary name, `${path}.${infix}-<random>`. Default `"tmp"`; the hub cache uses
   * `"incomplete"` as `huggingface_hub` does.
   */
  infix?: string;
  /** What is written, for the error message (`"${path}: ${what} failed: ..."`). Default "write". */
  what?: string;
}

/** A sibling temporary name of `path`: `${path}.${infix}-<8 random hex digits>`. */
export function tempPath(path: string, infix = "tmp"): string {
  return `${path}.${infix}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Writes `content` to `path` atomically (temporary sibling + rename; the temporary is removed
 * on failure). `content` is text (UTF-8), bytes, or a function that creates the temporary path
 * itself (a file written in chunks, a symlink, a whole folder) and resolves when it is complete.
 * The parent folder must exist.
 *
 * @throws {Error} `"${path}: ${what} failed: <reason>"` with the original error as `cause`.
 */
export async function writeAtomic(
  path: string,
  content: string | Uint8Array | ((tmp: string) => Promise<unknown>),
  options: WriteAtomicOptions = {},
): Promise<void> {
  const tmp = tempPath(path, options.infix);
  try {
    if (typeof content === "string") await Deno.writeTextFile(tmp, content);
    else if (content instanceof Uint8Array) await Deno.writeFile(tmp, content);
    else await content(tmp);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`${path}: ${options.what ?? "write"} failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** {@linkcode writeAtomic} of `JSON.stringify(value, null, 2)` plus a newline. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Makes sure `dir` is a folder this process can write into (creating it and its parents), by
 * writing and removing a probe file, so a run fails before hours of work rather than at its
 * first save.
 * @param what the option that names the folder, for the message (e.g. "--output-dir")
 * @throws {Error} naming the option and path when it is a file, cannot be created, or is not
 * writable.
 */
export async function ensureWritableDir(dir: string, what = "output folder"): Promise<void> {
  // Any stat failure (missing, a file on the way) is reported by the mkdir below.
  const info = await Deno.stat(dir).catch(() => null);
  if (info && !info.isDirectory) throw new Error(`${what} ${dir}: is a file, not a folder`);
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = await Deno.makeTempFile({ dir, prefix: ".write-probe-" });
    await Deno.remove(probe);
  } catch (e) {
    throw new Error(`${what} ${dir}: not writable: ${(e as Error).message}`, { cause: e });
  }
}
