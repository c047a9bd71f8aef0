/**
 * Hub files over `fetch` alone, for the browser (no file system): a hub repo id (resolved like
 * `resolveModelFile`, with the same id, file name and revision checks, redirects, timeouts and size
 * caps) or a model folder URL, cached with the Cache API when the page has one.
 *
 * @module
 */

import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_METADATA_BYTES,
  type DownloadLimits,
  fetchFollowingRedirects,
  type HubResponse,
  type ProgressCallback,
  readBody,
} from "./download.ts";
import { DEFAULT_ENDPOINT } from "./env.ts";
import {
  isCommitHash,
  resolveUrl,
  validateFilename,
  validateRepoId,
  validateRevision,
} from "./repo.ts";

/** Options of {@link fetchModelFile}; names as `resolveModelFile`'s. */
export interface FetchModelFileOptions {
  /** Branch, tag or commit hash (hub ids only). Default `"main"`. */
  revision?: string;
  /** Hub base URL. Default https://huggingface.co. */
  endpoint?: string;
  /** Access token for private or gated repos (sent to the hub's origin only). */
  token?: string;
  /** Use only the cache; never touch the network. */
  local_files_only?: boolean;
  /** When false, a file the repo does not have resolves to null. Default true. */
  required?: boolean;
  /** Receives `initiate`, `download`, `progress` and `done` events. */
  progress_callback?: ProgressCallback;
  /**
   * Name of the Cache API cache, or false for none. Default `"velora-hub"`. Ignored where the page
   * has no Cache API (insecure origins).
   */
  cache?: string | false;
  /** Milliseconds to wait for response headers. Default 10,000. */
  connectTimeoutMs?: number;
  /** Milliseconds a body may stall. Default 10,000. */
  idleTimeoutMs?: number;
  /** Largest `.json` file, and file of undeclared size, in bytes. Default 50,000,000. */
  maxMetadataBytes?: number;
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** The URL of `filename` in a model folder URL or hub repo. */
function fileUrl(idOrUrl: string, filename: string, o: FetchModelFileOptions): string {
  validateFilename(filename, `fetchModelFile("${idOrUrl}")`);
  if (isUrl(idOrUrl)) {
    const file = filename.split("/").map(encodeURIComponent).join("/");
    return `${idOrUrl.replace(/\/+$/, "")}/${file}`;
  }
  validateRepoId(idOrUrl);
  const revision = o.revision ?? "main";
  validateRevision(revision, `fetchModelFile("${idOrUrl}") option revision`);
  return resolveUrl(
    (o.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    idOrUrl,
    revision,
    filename,
  );
}

async function openCache(name: string | false): Promise<Cache | null> {
  if (name === false || typeof caches === "undefined") return null;
  try {
    return await caches.open(name);
  } catch {
    return null; // e.g. an opaque origin
  }
}

async function readAll(
  hub: HubResponse,
  filename: string,
  limits: DownloadLimits,
  report: (loaded: number, total: number) => void,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  const n = await readBody(hub, filename, limits, (chunk, loaded, total) => {
    chunks.push(chunk);
    report(loaded, total);
  });
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * Fetches one file of a model: `idOrUrl` is a model folder URL (`https://host/models/tiny`,
 * `http://127.0.0.1:8000/model`) or a hub repo id (`org/name`, fetched from
 * `${endpoint}/${id}/resolve/${revision}/${filename}`). The answer is kept in the Cache API; a
 * later call uses the cached copy when the server's `ETag` is unchanged (the body is then not
 * downloaded again), when the revision is a commit hash, or when the network is unreachable.
 *
 * @returns the file's bytes, or null when `required` is false and the server answers 404
 * @throws Error naming the repo or URL and file on HTTP errors (404 when required, 401/403 with a
 * token hint), an unreachable server without a cached copy, a timeout, a size cap, or an invalid
 * id, file name or revision.
 */
export function fetchModelFile(
  idOrUrl: string,
  filename: string,
  options?: FetchModelFileOptions & { required?: true },
): Promise<Uint8Array<ArrayBuffer>>;
/** Variant with `required: false`: null when the file does not exist. */
export function fetchModelFile(
  idOrUrl: string,
  filename: string,
  options: FetchModelFileOptions,
): Promise<Uint8Array<ArrayBuffer> | null>;
export async function fetchModelFile(
  idOrUrl: string,
  filename: string,
  o: FetchModelFileOptions = {},
): Promise<Uint8Array<ArrayBuffer> | null> {
  const url = fileUrl(idOrUrl, filename, o);
  const what = `"${filename}" of ${isUrl(idOrUrl) ? idOrUrl : `repository "${idOrUrl}"`}`;
  const emit: ProgressCallback = o.progress_callback ?? (() => {});
  const base = { name: idOrUrl, file: filename };
  const limits: DownloadLimits = {
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxMetadataBytes: o.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES,
  };
  emit({ status: "initiate", ...base });
  const cache = await openCache(o.cache ?? "velora-hub");
  const cached = cache ? await cache.match(url) : undefined;
  const done = (bytes: Uint8Array<ArrayBuffer>) => {
    emit({ status: "done", ...base });
    return bytes;
  };
  const pinned = !isUrl(idOrUrl) && isCommitHash(o.revision ?? "main");
  if (cached && (pinned || o.local_files_only)) {
    return done(new Uint8Array(await cached.arrayBuffer()));
  }
  if (o.local_files_only) {
    if (o.required === false) return null;
    throw new Error(`${what} is not in the browser cache, and local_files_only is set`);
  }
  const headers: Record<string, string> = {};
  if (o.token && !isUrl(idOrUrl)) headers["Authorization"] = `Bearer ${o.token}`;
  let hub: HubResponse;
  try {
    hub = await fetchFollowingRedirects(url, headers, limits);
  } catch (e) {
    if (cached) return done(new Uint8Array(await cached.arrayBuffer()));
    throw new Error(`${what}: ${url} could not be fetched (${(e as Error).message})`, {
      cause: e,
    });
  }
  const { response } = hub;
  if (!response.ok) {
    await response.body?.cancel();
    if (response.status >= 500 && cached) return done(new Uint8Array(await cached.arrayBuffer()));
    if (response.status === 404 && o.required === false) return null;
    const auth = response.status === 401 || response.status === 403
      ? ": the repo may be private, gated or missing; pass a token with access"
      : "";
    throw new Error(`${what}: HTTP ${response.status} from ${hub.url}${auth}`);
  }
  const etag = response.headers.get("etag");
  if (cached && etag && cached.headers.get("etag") === etag) {
    await response.body?.cancel();
    return done(new Uint8Array(await cached.arrayBuffer()));
  }
  emit({ status: "download", ...base });
  const bytes = await readAll(hub, filename, limits, (loaded, total) =>
    emit({
      status: "progress",
      ...base,
      loaded,
      total,
      progress: total > 0 ? (loaded / total) * 100 : 0,
    })).catch((e) => {
      throw new Error(`downloading ${what} from ${hub.url} failed: ${(e as Error).message}`, {
        cause: e,
      });
    });
  if (cache) {
    const keep = new Headers({ "content-type": "application/octet-stream" });
    if (etag) keep.set("etag", etag);
    if (hub.commit) keep.set("x-repo-commit", hub.commit);
    await cache.put(url, new Response(bytes, { headers: keep })).catch(() => {});
  }
  return done(bytes);
}
