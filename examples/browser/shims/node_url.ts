/**
 * `node:url` for the browser build: only `fileURLToPath` is imported by the library, on paths
 * that read local files, which a page never takes. It fails with a clear message if one does.
 *
 * @module
 */

/** Throws: a page has no file system. */
export function fileURLToPath(url: string | URL): string {
  throw new Error(`${String(url)}: file URLs cannot be read in the browser build`);
}
