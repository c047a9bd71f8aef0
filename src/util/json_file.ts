/**
 * Reading a small JSON file (a config, a sidecar) that may be absent, with the file named when it
 * is not JSON.
 *
 * @module
 */

/**
 * Reads and parses the JSON file at `path`.
 * @returns the parsed value (unchecked), or undefined when the file does not exist.
 * @throws {Error} `"<path>: not valid JSON: <reason>"`; other read errors as Deno raises them.
 */
export async function readJsonIfExists(path: string | URL): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const name = path instanceof URL ? path.pathname : path;
    throw new Error(`${name}: not valid JSON: ${(e as Error).message}`);
  }
}
