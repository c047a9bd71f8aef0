/**
 * Validation of hub repo ids, file names and revisions, and the URLs and cache folder names
 * derived from them (the rules of `huggingface_hub`'s `validate_repo_id` and `hf_hub_url`).
 *
 * @module
 */

// As huggingface_hub's validate_repo_id: each part starts and ends with a word character, so
// "." and ".." (and ".hidden") can never name a folder.
const REPO_PART = /^(?=[\w.-]{1,96}$)\w(?:[\w.-]*\w)?$/;
const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** True when `revision` is a full 40-hex-digit commit hash. */
export function isCommitHash(revision: string): boolean {
  return COMMIT_HASH.test(revision);
}

/**
 * Checks a hub repo id (`name` or `org/name`: letters, digits, `_`, `-`, `.`, at most 96 each,
 * starting and ending with a letter, digit or `_`, no `--` or `..`, not ending in `.git`).
 *
 * @throws Error naming the id when it is invalid.
 */
export function validateRepoId(id: string): void {
  const parts = id.split("/");
  const ok = parts.length <= 2 && parts.every((p) => REPO_PART.test(p)) &&
    !id.includes("--") && !id.includes("..") && !id.endsWith(".git");
  if (!ok) {
    throw new Error(
      `"${id}" is neither an existing local directory nor a valid hub repo id ` +
        `("name" or "org/name" of letters, digits, "_", "-", ".")`,
    );
  }
}

function checkRelativePath(kind: string, value: string, context: string): void {
  const bad = value === "" || value.startsWith("/") || value.includes("\\") ||
    value.includes("\0") || value.split("/").some((s) => s === "" || s === "." || s === "..");
  if (bad) {
    throw new Error(
      `${context}: invalid ${kind} ${JSON.stringify(value)} (must be a relative path)`,
    );
  }
}

/**
 * Checks a file name inside a repo (`config.json`, `onnx/model.onnx`): relative, no `..`.
 *
 * @throws Error naming the option and value when it is invalid.
 */
export function validateFilename(filename: string, context: string): void {
  checkRelativePath("filename", filename, context);
}

/**
 * Checks a revision (branch, tag, `refs/pr/1` or commit hash) before it is used in a cache path.
 *
 * @throws Error naming the option and value when it is invalid.
 */
export function validateRevision(revision: string, context: string): void {
  checkRelativePath("revision", revision, context);
}

/** Cache folder of a model repo: `models--{org}--{name}`. */
export function repoFolderName(id: string): string {
  return ["models", ...id.split("/")].join("--");
}

/** Download URL of a file: `${endpoint}/${id}/resolve/${revision}/${filename}`, path-encoded. */
export function resolveUrl(
  endpoint: string,
  id: string,
  revision: string,
  filename: string,
): string {
  const file = filename.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${id}/resolve/${encodeURIComponent(revision)}/${file}`;
}
