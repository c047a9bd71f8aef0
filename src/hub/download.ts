/**
 * HTTP for hub downloads: redirects followed by hand (to read the hub's own headers on the first
 * hop and to drop the token when leaving the hub's origin) and streaming of a body to a file with
 * progress reports.
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

/** The final response of a followed request, with the hub headers seen on the way. */
export interface HubResponse {
  /** The last response (not a redirect); its body is unread. */
  response: Response;
  /** `X-Repo-Commit` from the first hop that sent one, or null. */
  commit: string | null;
  /** `X-Linked-Etag`, else `ETag`, of the first hop (the hub's own answer), or null. */
  etag: string | null;
  /** The URL that gave `response`. */
  url: string;
}

const MAX_REDIRECTS = 10;

/**
 * GETs `url`, following up to 10 redirects; the `Authorization` header is dropped as soon as a
 * redirect leaves the original origin.
 *
 * @throws Error naming the URL on too many redirects or a redirect without `Location`;
 * network errors from `fetch` propagate.
 */
export async function fetchFollowingRedirects(
  url: string,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<HubResponse> {
  const origin = new URL(url).origin;
  let current = url;
  let commit: string | null = null;
  let etag: string | null = null;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const sameOrigin = new URL(current).origin === origin;
    const hopHeaders = { ...headers };
    if (!sameOrigin) delete hopHeaders["Authorization"];
    const response = await fetch(current, { headers: hopHeaders, redirect: "manual", signal });
    commit ??= response.headers.get("x-repo-commit");
    if (hop === 0) {
      etag = response.headers.get("x-linked-etag") ?? response.headers.get("etag");
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && response.status !== 304) {
      await response.body?.cancel();
      if (!location) throw new Error(`${current}: HTTP ${response.status} without Location`);
      current = new URL(location, current).href;
      continue;
    }
    return { response, commit, etag: etag ?? response.headers.get("etag"), url: current };
  }
  throw new Error(`${url}: more than ${MAX_REDIRECTS} redirects`);
}

/**
 * Streams a response body into a new file, reporting progress.
 *
 * @param response an OK response whose body is unread
 * @param path the file to create (must not exist)
 * @param report called with `(loaded, total)` after each chunk; total is 0 when unknown
 * @throws Error naming the file when the body ends before `Content-Length` bytes (uncompressed
 * responses only) or writing fails. The caller removes the file on failure.
 */
export async function streamToFile(
  response: Response,
  path: string,
  report: (loaded: number, total: number) => void,
): Promise<number> {
  const encoded = response.headers.get("content-encoding");
  const total = encoded ? 0 : Number(response.headers.get("content-length") ?? 0) || 0;
  const file = await Deno.open(path, { write: true, createNew: true });
  let loaded = 0;
  try {
    if (response.body) {
      for await (const chunk of response.body) {
        let off = 0;
        while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
        loaded += chunk.byteLength;
        report(loaded, total);
      }
    }
    if (total > 0 && loaded !== total) {
      throw new Error(`${path}: download ended after ${loaded} of ${total} bytes`);
    }
    await file.syncData();
  } finally {
    file.close();
  }
  return loaded;
}
