/**
 * HTTP for hub downloads, with no Deno-only API so that the browser build shares it: redirects
 * followed by hand (to read the hub's own headers on the first hop, to drop the token when leaving
 * the hub's origin, and to refuse anything but http(s)), connect and idle timeouts, and size caps
 * on what a body may stream.
 *
 * @module
 */

/** Progress events, in the style of transformers.js `progress_callback`. */
export type ProgressInfo =
  | { status: "initiate"; name: string; file: string }
  | { status: "download"; name: string; file: string }
  | {
    status: "progress";
    name: string;
    file: string;
    /** Percent, 0-100 (0 while the total is unknown). */
    progress: number;
    /** Bytes received so far. */
    loaded: number;
    /** Bytes expected (`Content-Length`), 0 when unknown. */
    total: number;
  }
  | { status: "done"; name: string; file: string };

/** Receives {@link ProgressInfo} events. */
export type ProgressCallback = (info: ProgressInfo) => void;

/** Timeouts and size caps of one hub request; see {@link resolveLimits} for the defaults. */
export interface DownloadLimits {
  /** Milliseconds to wait for each hop's response headers. */
  connectTimeoutMs: number;
  /** Milliseconds a body may go without sending a byte. */
  idleTimeoutMs: number;
  /**
   * Largest accepted size, in bytes, of a `.json` file and of any file whose size the server does
   * not declare (no `Content-Length` / `X-Linked-Size`).
   */
  maxMetadataBytes: number;
}

/** The final response of a followed request, with the hub headers seen on the way. */
export interface HubResponse {
  /** The last response (not a redirect); its body is unread. */
  response: Response;
  /**
   * `X-Repo-Commit` from the first hop that sent one (checked: 40 lowercase hex digits), or null.
   */
  commit: string | null;
  /** `X-Linked-Etag`, else `ETag`, of the first hop (the hub's own answer), or null. */
  etag: string | null;
  /** `X-Linked-Size` of the first hop (the LFS file's size), or null. */
  linkedSize: number | null;
  /** The URL that gave `response`. */
  url: string;
  /** Aborts the request (and so its body). */
  abort: () => void;
}

/** Redirect hops followed at most (as `requests`' default of 30 is far more than the hub uses). */
export const MAX_REDIRECTS = 10;
/** Default of {@link DownloadLimits.connectTimeoutMs} (`huggingface_hub`'s 10 s etag timeout). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default of {@link DownloadLimits.idleTimeoutMs} (`huggingface_hub`'s 10 s download timeout). */
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
/** Default of {@link DownloadLimits.maxMetadataBytes}: 50 MB, above any real tokenizer.json. */
export const DEFAULT_MAX_METADATA_BYTES = 50_000_000;

const COMMIT_HASH = /^[0-9a-f]{40}$/;

/**
 * Checks an `X-Repo-Commit` header before it names a cache folder or is written into `refs/`.
 *
 * @returns the commit, or null when the header is absent
 * @throws Error naming the URL and the value when it is not 40 lowercase hex digits.
 */
export function checkedCommit(value: string | null, url: string): string | null {
  if (value === null) return null;
  if (!COMMIT_HASH.test(value)) {
    throw new Error(
      `${url}: the hub sent X-Repo-Commit ${
        JSON.stringify(value.slice(0, 80))
      }, which is not a 40-hex-digit commit hash; refusing to use it in the cache`,
    );
  }
  return value;
}

function isHttp(url: URL): boolean {
  return url.protocol === "http:" || url.protocol === "https:";
}

/** True outside Deno: browsers answer `redirect: "manual"` with an opaque, unreadable response. */
function inBrowser(): boolean {
  return !("Deno" in globalThis);
}

async function fetchWithTimeout(
  url: string,
  init: RequestInit,
  controller: AbortController,
  timeoutMs: number,
): Promise<Response> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } catch (e) {
    if (timedOut) {
      throw new Error(
        `${url}: no response within ${timeoutMs} ms (connectTimeoutMs; env HF_HUB_ETAG_TIMEOUT in seconds)`,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GETs `url`, following up to {@link MAX_REDIRECTS} http(s) redirects; the `Authorization`
 * header is dropped as soon as a redirect leaves the original origin. In a browser the browser
 * follows redirects itself (it only follows http(s), and never sends the token cross-origin).
 *
 * @throws Error naming the URL on a non-http(s) URL or redirect target (`file:`, `data:`), too many
 * redirects, a redirect without `Location`, an invalid `X-Repo-Commit`, or no response headers
 * within `connectTimeoutMs`; other network errors from `fetch` propagate.
 */
export async function fetchFollowingRedirects(
  url: string,
  headers: Record<string, string>,
  limits: Pick<DownloadLimits, "connectTimeoutMs">,
): Promise<HubResponse> {
  const origin = new URL(url).origin;
  const controller = new AbortController();
  const abort = () => controller.abort();
  let current = url;
  let commit: string | null = null;
  let etag: string | null = null;
  let linkedSize: number | null = null;
  const browser = inBrowser();
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const target = new URL(current);
    if (!isHttp(target)) {
      throw new Error(
        `${url}: refusing to fetch ${target.protocol} URL${
          hop > 0 ? ` (redirected to ${current.slice(0, 100)})` : ""
        }; only http(s) is allowed`,
      );
    }
    const hopHeaders = { ...headers };
    if (target.origin !== origin) delete hopHeaders["Authorization"];
    const response = await fetchWithTimeout(
      current,
      {
        headers: hopHeaders,
        redirect: browser ? "follow" : "manual",
      },
      controller,
      limits.connectTimeoutMs,
    );
    try {
      commit ??= checkedCommit(response.headers.get("x-repo-commit"), current);
    } catch (e) {
      await response.body?.cancel();
      throw e;
    }
    if (hop === 0) {
      etag = response.headers.get("x-linked-etag") ?? response.headers.get("etag");
      const size = Number(response.headers.get("x-linked-size") ?? NaN);
      linkedSize = Number.isSafeInteger(size) && size >= 0 ? size : null;
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && response.status !== 304) {
      await response.body?.cancel();
      if (!location) throw new Error(`${current}: HTTP ${response.status} without Location`);
      current = new URL(location, current).href;
      continue;
    }
    const last = browser ? response.url || current : current;
    return {
      response,
      commit,
      etag: etag ?? response.headers.get("etag"),
      linkedSize,
      url: last,
      abort,
    };
  }
  controller.abort();
  throw new Error(`${url}: more than ${MAX_REDIRECTS} redirects`);
}

/**
 * The byte count a body must have (`Content-Length` of an uncompressed body, else the hub's
 * `X-Linked-Size`), and the cap it must stay under.
 *
 * @throws Error naming the file when the declared size of a `.json` file is over the cap.
 */
export function bodyBounds(
  hub: HubResponse,
  filename: string,
  limits: Pick<DownloadLimits, "maxMetadataBytes">,
): { expected: number | null; cap: number } {
  const { response } = hub;
  const encoded = response.headers.get("content-encoding");
  const length = Number(response.headers.get("content-length") ?? NaN);
  const declared = !encoded && Number.isSafeInteger(length) && length >= 0
    ? length
    : hub.linkedSize;
  const json = filename.toLowerCase().endsWith(".json");
  if (json && declared !== null && declared > limits.maxMetadataBytes) {
    throw new Error(
      `"${filename}" is ${declared} bytes (Content-Length), over the ${limits.maxMetadataBytes}-byte cap for JSON files (maxMetadataBytes)`,
    );
  }
  const cap = json || declared === null ? limits.maxMetadataBytes : declared;
  return { expected: encoded ? null : declared, cap };
}

/**
 * Reads a response body chunk by chunk with an idle timeout and the size bounds of
 * {@link bodyBounds}; on any failure the request is aborted, so no connection is left open.
 *
 * @param onChunk receives each chunk, the bytes received so far and the expected total (0 when
 * unknown)
 * @returns the number of bytes read
 * @throws Error naming the file when its declared size is over the cap, no byte arrives for
 * `idleTimeoutMs`, the body exceeds the cap, or it ends before the expected size.
 */
export async function readBody(
  hub: HubResponse,
  filename: string,
  limits: Pick<DownloadLimits, "idleTimeoutMs" | "maxMetadataBytes">,
  onChunk: (chunk: Uint8Array, loaded: number, total: number) => Promise<void> | void,
): Promise<number> {
  const body = hub.response.body;
  let loaded = 0;
  let bounds: { expected: number | null; cap: number };
  try {
    bounds = bodyBounds(hub, filename, limits);
  } catch (e) {
    hub.abort();
    await body?.cancel().catch(() => {});
    throw e;
  }
  if (body) {
    const reader = body.getReader();
    try {
      while (true) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(
              new Error(
                `"${filename}": download stalled, no data for ${limits.idleTimeoutMs} ms after ${loaded} bytes (idleTimeoutMs; env HF_HUB_DOWNLOAD_TIMEOUT in seconds)`,
              ),
            );
          }, limits.idleTimeoutMs);
        });
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await Promise.race([reader.read(), stalled]);
        } finally {
          clearTimeout(timer);
        }
        if (next.done) break;
        loaded += next.value.byteLength;
        if (loaded > bounds.cap) {
          throw new Error(
            bounds.expected !== null && bounds.cap === bounds.expected
              ? `"${filename}": the body is longer than the announced ${bounds.expected} bytes`
              : `"${filename}": over the ${bounds.cap}-byte cap for JSON files and files of undeclared size (maxMetadataBytes)`,
          );
        }
        await onChunk(next.value, loaded, bounds.expected ?? 0);
      }
    } catch (e) {
      hub.abort();
      reader.cancel().catch(() => {});
      throw e;
    }
  }
  if (bounds.expected !== null && loaded !== bounds.expected) {
    throw new Error(`"${filename}": download ended after ${loaded} of ${bounds.expected} bytes`);
  }
  return loaded;
}
