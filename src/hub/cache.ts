/**
 * The on-disk hub cache, laid out like `huggingface_hub`'s so both can share it:
 *
 * ```
 * {cache_dir}/models--{org}--{name}/
 *   refs/{revision}                      commit hash the revision pointed to
 *   blobs/{etag}                         file contents, named by etag
 *   snapshots/{commit}/{filename}        relative symlink to ../../blobs/{etag} (or a plain file)
 *   .no_exist/{commit}/{filename}        empty marker: the file is known to be absent
 * ```
 *
 * @module
 */

import { dirname, join, relative } from "node:path";
import { isCommitHash, validateFilename, validateRevision } from "./repo.ts";
import { writeAtomic } from "../util/write_atomic.ts";

/** The last line of defence: a commit that names a folder or goes into `refs/` is 40 hex digits. */
function assertCommit(commit: string, what: string): void {
  if (!isCommitHash(commit)) {
    throw new Error(
      `${what}: ${JSON.stringify(commit.slice(0, 80))} is not a 40-hex-digit commit hash`,
    );
  }
}

/** Paths inside one repo's cache folder. */
export class RepoCache {
  /** @param root the repo folder, `{cache_dir}/models--{org}--{name}` */
  constructor(readonly root: string) {}

  /** `snapshots/{snapshot}/{filename}`. */
  snapshotPath(snapshot: string, filename: string): string {
    validateRevision(snapshot, `${this.root}: snapshot`);
    validateFilename(filename, `${this.root}: snapshot file`);
    return join(this.root, "snapshots", snapshot, filename);
  }

  /** `blobs/{blob}`. */
  blobPath(blob: string): string {
    return join(this.root, "blobs", blob);
  }

  /** `.no_exist/{snapshot}/{filename}`. */
  noExistPath(snapshot: string, filename: string): string {
    validateRevision(snapshot, `${this.root}: .no_exist snapshot`);
    validateFilename(filename, `${this.root}: .no_exist file`);
    return join(this.root, ".no_exist", snapshot, filename);
  }

  /** The commit recorded in `refs/{revision}`, or null (also when it is not a commit hash). */
  async readRef(revision: string): Promise<string | null> {
    validateRevision(revision, `${this.root}: ref`);
    try {
      const text = (await Deno.readTextFile(join(this.root, "refs", revision))).trim();
      return isCommitHash(text) ? text : null;
    } catch {
      return null;
    }
  }

  /** Records `refs/{revision}` = `commit` (atomically; skipped when revision is the commit). */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    validateRevision(revision, `${this.root}: ref`);
    assertCommit(commit, `${this.root}: refs/${revision}`);
    const path = join(this.root, "refs", revision);
    if ((await this.readRef(revision)) === commit) return;
    await Deno.mkdir(dirname(path), { recursive: true });
    await writeAtomic(path, commit, { infix: "incomplete", what: "writing the ref" });
  }

  /** The snapshot folder a revision maps to offline: the commit from refs, else the revision. */
  async snapshotFor(revision: string): Promise<string> {
    if (isCommitHash(revision)) return revision;
    return (await this.readRef(revision)) ?? revision;
  }

  /**
   * Looks a file up without the network.
   *
   * @returns the snapshot path when cached, `"absent"` when a `.no_exist` marker says the repo
   * has no such file, or null when the cache knows nothing.
   */
  async lookup(revision: string, filename: string): Promise<string | "absent" | null> {
    const snapshot = await this.snapshotFor(revision);
    const path = this.snapshotPath(snapshot, filename);
    if (await isFile(path)) return path;
    if (await isFile(this.noExistPath(snapshot, filename))) return "absent";
    return null;
  }

  /** Writes the `.no_exist/{commit}/{filename}` marker. */
  async markAbsent(commit: string, filename: string): Promise<void> {
    assertCommit(commit, `${this.root}: .no_exist`);
    const path = this.noExistPath(commit, filename);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, new Uint8Array(0));
  }

  /**
   * Makes `snapshots/{snapshot}/{filename}` point at `blobs/{blob}` with a relative symlink,
   * replaced atomically; copies the blob where symlinks are not permitted.
   */
  async linkSnapshot(snapshot: string, filename: string, blob: string): Promise<string> {
    const pointer = this.snapshotPath(snapshot, filename);
    const blobPath = this.blobPath(blob);
    await Deno.mkdir(dirname(pointer), { recursive: true });
    await writeAtomic(pointer, async (tmp) => {
      try {
        await Deno.symlink(relative(dirname(pointer), blobPath), tmp);
      } catch {
        await Deno.copyFile(blobPath, tmp);
      }
    }, { infix: "incomplete", what: "linking the snapshot file" });
    return pointer;
  }
}

/** True when `path` exists and is (or links to) a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** True when `path` exists and is (or links to) a directory. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * A blob name from an `ETag` / `X-Linked-Etag` header value: weak prefix and quotes removed;
 * null when the result is not a safe file name.
 */
export function blobNameFromEtag(etag: string | null): string | null {
  if (!etag) return null;
  const name = etag.replace(/^W\//, "").replace(/"/g, "");
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(name) ? name : null;
}
