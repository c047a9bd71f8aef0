// The layering rule (CONTRIBUTING.md: arrows point down, no import cycles) as a test: parses the
// value imports of every TypeScript file under src/ (`import type` / `export type` and imports
// whose names are all `type` are erased at run time, so they cannot form a cycle) and fails on
// any cycle, listing its files.
import * as assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = join(root, "src");

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* tsFiles(p);
    else if (e.isFile && e.name.endsWith(".ts")) yield p;
  }
}

// `import ... from "x"`, `export ... from "x"` and bare `import "x"`, across lines.
const FROM = /^\s*(import|export)\s+([^;]*?)\s*from\s*["']([^"']+)["']/gm;
const BARE = /^\s*import\s*["']([^"']+)["']/gm;

/** Whether an import/export clause is erased at run time. */
function typeOnly(clause: string): boolean {
  if (/^type\s/.test(clause)) return true;
  const braces = clause.match(/^\{([\s\S]*)\}$/);
  if (!braces) return false;
  const names = braces[1].split(",").map((s) => s.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => /^type\s/.test(n));
}

/** Relative .ts files `file` imports for their values. */
export function valueImports(file: string, text: string): string[] {
  const out: string[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  for (const m of code.matchAll(FROM)) {
    if (!typeOnly(m[2].trim())) out.push(m[3]);
  }
  for (const m of code.matchAll(BARE)) out.push(m[1]);
  return out
    .filter((s) => s.startsWith(".") && s.endsWith(".ts"))
    .map((s) => normalize(join(dirname(file), s)));
}

/** Every elementary cycle found by a depth-first search (one per back edge), as file lists. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 1 | 2>(); // 1 = on the path, 2 = finished
  const path: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    path.push(n);
    for (const next of graph.get(n) ?? []) {
      const s = state.get(next);
      if (s === 1) cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    path.pop();
    state.set(n, 2);
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

Deno.test("import parser: type-only imports are not edges, value imports are", () => {
  const text = [
    'import type { A } from "./a.ts";',
    'import { type B, type C } from "./b.ts";',
    'import { type D, e } from "./c.ts";',
    "import {\n  f,\n  g,\n} from './d.ts';",
    'export { h } from "./e.ts";',
    'export type { I } from "./f.ts";',
    'import src from "./k.wgsl" with { type: "text" };',
    '// import { x } from "./commented.ts";',
    'import "./side.ts";',
  ].join("\n");
  const got = valueImports("/x/m.ts", text).map((p) => relative("/x", p));
  assert.deepEqual(got.sort(), ["c.ts", "d.ts", "e.ts", "side.ts"]);
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.deepEqual(findCycles(g), [["a", "b", "c", "a"]]);
});

Deno.test("no import cycles among value imports under src/", async () => {
  const graph = new Map<string, string[]>();
  for await (const file of tsFiles(srcDir)) {
    graph.set(file, valueImports(file, await Deno.readTextFile(file)));
  }
  assert.ok(graph.size > 50, `expected the source tree under ${srcDir}, found ${graph.size} files`);
  const cycles = findCycles(graph).map((c) => c.map((f) => relative(root, f)).join(" → "));
  assert.deepEqual(cycles, [], `import cycles under src/:\n${cycles.join("\n")}`);
});
