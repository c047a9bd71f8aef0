/**
 * `resolveModelFile`: a local model directory, or a hub repo file downloaded once into the
 * `huggingface_hub`-compatible cache (see `cache.ts`) and reused from there.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { blobNameFromEtag, isFile, RepoCache } from "./cache.ts";
import { writeAtomic } from "../util/write_atomic.ts";
import {
  DEFAULT_MAX_METADATA_BYTES,
  type DownloadLimits,
  fetchFollowingRedirects,
  type HubResponse,
  type ProgressCallback,
  readBody,
} from "./download.ts";
import { defaultCacheDir, hubEndpoint, hubOffline, hubTimeouts, hubToken } from "./env.ts";
import {
  isCommitHash,
  repoFolderName,
  resolveUrl,
  validateFilename,
  validateRepoId,
  validateRevision,
} from "./repo.ts";

/** Options of {@link resolveModelFile}; names follow `transformers` / transformers.js. */
export interface ResolveModelFileOptions {
  /** Branch, tag or commit hash. Default `"main"`. */
  revision?: string;
  /**
   * Cache root. Default: env `HF_HUB_CACHE`, else `${HF_HOME ?? ~/.cache/huggingface}/hub`
   * (see `defaultCacheDir`).
   */
  cache_dir?: string;
  /** Use only the cache; never touch the network (also set by env `HF_HUB_OFFLINE=1`). */
  local_files_only?: boolean;
  /** Receives `initiate`, `download`, `progress` and `done` events for hub files. */
  progress_callback?: ProgressCallback;
  /** When false, a file the repo does not have resolves to null instead of throwing. Default true. */
  required?: boolean;
  /** Hub base URL. Default: env `HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Access token for private or gated repos. Default: env `HF_TOKEN`. */
  token?: string;
  /**
   * Milliseconds to wait for the hub's response headers (each redirect hop); on timeout a cached
   * copy is used, else an Error names the URL. Default: env `HF_HUB_ETAG_TIMEOUT` (seconds), else
   * 10,000.
   */
  connectTimeoutMs?: number;
  /**
   * Milliseconds a download may go without receiving a byte before it fails. Default: env
   * `HF_HUB_DOWNLOAD_TIMEOUT` (seconds), else 10,000.
   */
  idleTimeoutMs?: number;
  /**
   * Largest accepted size in bytes of a `.json` file, and of any file whose size the server does
   * not declare. Default 50,000,000. Other files must match their `Content-Length`.
   */
  maxMetadataBytes?: number;
}

interface Context {
  id: string;
  filename: string;
  revision: string;
  cacheDir: string;
  cache: RepoCache;
  required: boolean;
  emit: ProgressCallback;
  limits: DownloadLimits;
}

async function localDirectory(idOrDir: string): Promise<string | null> {
  try {
    const info = await Deno.stat(idOrDir);
    if (info.isDirectory) return idOrDir;
    throw new Error(`${idOrDir}: is a file; expected a model directory or a hub repo id`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const looksLikePath = /^[.~/]/.test(idOrDir) || idOrDir.includes("\\") ||
    idOrDir.split("/").length > 2;
  if (looksLikePath) throw new Error(`${idOrDir}: local model directory not found`);
  return null;
}

async function resolveLocal(
  dir: string,
  filename: string,
  required: boolean,
): Promise<string | null> {
  const path = join(dir, filename);
  if (await isFile(path)) return path;
  if (!required) return null;
  throw new Error(`${dir}: "${filename}" not found in local model directory`);
}

async function fromCache(ctx: Context, why: string): Promise<string | null> {
  const found = await ctx.cache.lookup(ctx.revision, ctx.filename);
  if (found === "absent") {
    if (!ctx.required) return null;
    throw new Error(
      `"${ctx.filename}" does not exist in repository "${ctx.id}" at revision "${ctx.revision}" (cached 404 in ${ctx.cacheDir})`,
    );
  }
  if (found !== null || !ctx.required) return found;
  throw new Error(
    `"${ctx.filename}" of repository "${ctx.id}" at revision "${ctx.revision}" is not in the cache ${ctx.cacheDir}, ` +
      `and ${why}; download it once with network access first`,
  );
}

async function failed(ctx: Context, hub: HubResponse, endpoint: string): Promise<null> {
  const { response, commit, url } = hub;
  await response.body?.cancel();
  const code = response.headers.get("x-error-code");
  const what = `"${ctx.filename}" in repository "${ctx.id}" at revision "${ctx.revision}"`;
  if (response.status === 404 && code === "RepositoryNotFound") {
    throw new Error(
      `repository "${ctx.id}" not found on ${endpoint} (a private repo needs HF_TOKEN) while resolving ${what}`,
    );
  }
  if (response.status === 404 && code === "RevisionNotFound") {
    throw new Error(`revision "${ctx.revision}" not found in repository "${ctx.id}"`);
  }
  if (response.status === 404) {
    if (commit) {
      await ctx.cache.markAbsent(commit, ctx.filename);
      await ctx.cache.writeRef(ctx.revision, commit);
    }
    if (!ctx.required) return null;
    throw new Error(`${what} not found (HTTP 404 from ${url})`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new Error(
      `access to ${what} denied (HTTP ${response.status}${code ? ` ${code}` : ""} from ${url}): ` +
        `the repo may be private, gated or missing; set HF_TOKEN to a token with access`,
    );
  }
  throw new Error(`downloading ${what} failed: HTTP ${response.status} from ${url}`);
}

/**
 * Streams a response body into a new file with the request's idle timeout and size bounds.
 *
 * @throws Error naming the file on a stall, an over-long or short body, or a write failure; the
 * caller removes the file.
 */
async function streamToFile(
  hub: HubResponse,
  ctx: Context,
  path: string,
  report: (loaded: number, total: number) => void,
): Promise<number> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    const loaded = await readBody(hub, ctx.filename, ctx.limits, async (chunk, n, total) => {
      let off = 0;
      while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
      report(n, total);
    });
    await file.syncData();
    return loaded;
  } finally {
    file.close();
  }
}

async function download(ctx: Context, hub: HubResponse): Promise<string> {
  const { response, etag, url } = hub;
  const commit = hub.commit; // checked: 40 hex digits (fetchFollowingRedirects)
  const snapshot = commit ?? ctx.revision;
  const pointer = ctx.cache.snapshotPath(snapshot, ctx.filename);
  const blob = blobNameFromEtag(etag);
  if (await isFile(pointer)) {
    await response.body?.cancel();
  } else if (blob && await isFile(ctx.cache.blobPath(blob))) {
    await response.body?.cancel();
    await ctx.cache.linkSnapshot(snapshot, ctx.filename, blob);
  } else {
    const base = { name: ctx.id, file: ctx.filename };
    ctx.emit({ status: "download", ...base });
    const target = blob ? ctx.cache.blobPath(blob) : pointer;
    await Deno.mkdir(dirname(target), { recursive: true });
    try {
      await writeAtomic(target, (tmp) =>
        streamToFile(hub, ctx, tmp, (loaded, total) =>
          ctx.emit({
            status: "progress",
            ...base,
            loaded,
            total,
            progress: total > 0 ? (loaded / total) * 100 : 0,
          })), { infix: "incomplete" });
    } catch (e) {
      // writeAtomic names the temporary target; the user needs the file, repo and URL.
      const reason = ((e as Error).cause ?? e) as Error;
      throw new Error(
        `downloading "${ctx.filename}" of repository "${ctx.id}" at revision "${ctx.revision}" from ${url} failed: ${reason.message}`,
        { cause: reason },
      );
    }
    if (blob) await ctx.cache.linkSnapshot(snapshot, ctx.filename, blob);
  }
  if (commit) await ctx.cache.writeRef(ctx.revision, commit);
  return pointer;
}

async function fromHub(
  ctx: Context,
  endpoint: string,
  token: string | undefined,
): Promise<string | null> {
  if (isCommitHash(ctx.revision)) {
    const pinned = ctx.cache.snapshotPath(ctx.revision, ctx.filename);
    if (await isFile(pinned)) return pinned;
  }
  const url = resolveUrl(endpoint, ctx.id, ctx.revision, ctx.filename);
  const headers: Record<string, string> = { "User-Agent": "velora (deno)" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  let hub: HubResponse;
  try {
    hub = await fetchFollowingRedirects(url, headers, ctx.limits);
  } catch (e) {
    return await fromCache(ctx, `${url} could not be fetched (${(e as Error).message})`);
  }
  if (hub.response.status >= 500) {
    await hub.response.body?.cancel();
    return await fromCache(ctx, `${url} answered HTTP ${hub.response.status}`);
  }
  if (!hub.response.ok) return await failed(ctx, hub, endpoint);
  return await download(ctx, hub);
}

function definedLimits(
  options: ResolveModelFileOptions,
): Partial<Pick<DownloadLimits, "connectTimeoutMs" | "idleTimeoutMs">> {
  const out: Partial<Pick<DownloadLimits, "connectTimeoutMs" | "idleTimeoutMs">> = {};
  for (const key of ["connectTimeoutMs", "idleTimeoutMs", "maxMetadataBytes"] as const) {
    const v = options[key];
    if (v === undefined) continue;
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new Error(`resolveModelFile option ${key}: expected a positive number, got ${v}`);
    }
    if (key !== "maxMetadataBytes") out[key] = v;
  }
  return out;
}

/**
 * Resolves one file of a model to a local path.
 *
 * - `idOrDir` an existing directory: returns `${idOrDir}/${filename}` (no network, no cache).
 * - Otherwise a hub repo id: downloads `${endpoint}/${id}/resolve/${revision}/${filename}`
 *   (following redirects) into the cache, atomically (temp file then rename), unless already
 *   cached; returns the path under `snapshots/{commit}/`. When the hub is unreachable or
 *   answers 5xx, a cached copy of the revision is used.
 *
 * @param idOrDir local model directory or hub repo id (`bert-base-uncased`, `org/name`)
 * @param filename file inside the repo (`config.json`, `model.safetensors`)
 * @param options revision, cache_dir, local_files_only, progress_callback, required, endpoint, token
 * @returns the local path; null only when `required` is false and the file does not exist
 * (or, with `local_files_only`, is not cached)
 * @throws Error naming the repo id, file and revision on 404 (when required), 401/403,
 * other HTTP errors, an unreachable hub without a cached copy, or a cache miss with
 * `local_files_only`; an Error naming the option for an invalid id, filename or revision.
 */
export function resolveModelFile(
  idOrDir: string,
  filename: string,
  options?: ResolveModelFileOptions & { required?: true },
): Promise<string>;
/** Variant with `required: false`: resolves to null when the file does not exist. */
export function resolveModelFile(
  idOrDir: string,
  filename: string,
  options: ResolveModelFileOptions,
): Promise<string | null>;
export async function resolveModelFile(
  idOrDir: string,
  filename: string,
  options: ResolveModelFileOptions = {},
): Promise<string | null> {
  const required = options.required ?? true;
  validateFilename(filename, `resolveModelFile("${idOrDir}")`);
  const local = await localDirectory(idOrDir);
  if (local !== null) return await resolveLocal(local, filename, required);

  validateRepoId(idOrDir);
  const revision = options.revision ?? "main";
  validateRevision(revision, `resolveModelFile("${idOrDir}") option revision`);
  const cacheDir = options.cache_dir ?? defaultCacheDir();
  const emit: ProgressCallback = options.progress_callback ?? (() => {});
  const ctx: Context = {
    id: idOrDir,
    filename,
    revision,
    cacheDir,
    cache: new RepoCache(join(cacheDir, repoFolderName(idOrDir))),
    required,
    emit,
    limits: {
      ...hubTimeouts(),
      ...definedLimits(options),
      maxMetadataBytes: options.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES,
    },
  };
  emit({ status: "initiate", name: idOrDir, file: filename });
  const offline = options.local_files_only
    ? "local_files_only is set"
    : hubOffline()
    ? "HF_HUB_OFFLINE is set"
    : null;
  const path = offline !== null ? await fromCache(ctx, offline) : await fromHub(
    ctx,
    (options.endpoint ?? hubEndpoint()).replace(/\/+$/, ""),
    options.token ?? hubToken(),
  );
  if (path !== null) emit({ status: "done", name: idOrDir, file: filename });
  return path;
}
