/**
 * Serves the browser example (`examples/browser/`) on 127.0.0.1, after building it, and prints
 * the URL. `--models DIR` also serves an HF model folder tree under `/models/` (e.g.
 * `--models output` makes `output/finetune_bert` loadable as `http://127.0.0.1:PORT/models/finetune_bert`).
 *
 *   deno task serve:browser [--port 8000] [--models DIR] [--no-build]
 *
 * @module
 */

import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".safetensors": "application/octet-stream",
  ".css": "text/css",
  ".png": "image/png",
};

/** A running server. */
export interface ExampleServer {
  url: string;
  shutdown(): Promise<void>;
}

async function fileResponse(root: string, rel: string): Promise<Response> {
  const path = resolve(root, normalize(rel));
  // Never outside the served folder ("..", absolute paths).
  if (path !== root && !path.startsWith(root + sep)) {
    return new Response("forbidden", { status: 403 });
  }
  let target = path;
  try {
    if ((await Deno.stat(target)).isDirectory) target = join(target, "index.html");
    const body = await Deno.readFile(target);
    return new Response(body, {
      headers: {
        "content-type": TYPES[extname(target)] ?? "application/octet-stream",
        "cache-control": "no-store",
      },
    });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

/**
 * Starts the static server.
 *
 * @param port 0 picks a free port
 * @param modelsDir served under `/models/` when given
 */
export function serveExample(port = 8000, modelsDir?: string): ExampleServer {
  const models = modelsDir ? resolve(modelsDir) : null;
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (models && path.startsWith("/models/")) {
      return fileResponse(models, path.slice("/models/".length));
    }
    return fileResponse(here, path.slice(1) || "index.html");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    shutdown: () => server.shutdown(),
  };
}

/** Runs `build.ts` in a child process. */
export async function buildExample(): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(here, "build.ts")],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`examples/browser/build.ts failed (exit ${code})`);
}

if (import.meta.main) {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "8000" },
      models: { type: "string" },
      "no-build": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (args.help) {
    console.log("deno task serve:browser [--port 8000] [--models DIR] [--no-build]");
    Deno.exit(0);
  }
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port must be 0-65535, got ${args.port}`);
    Deno.exit(2);
  }
  if (!args["no-build"]) await buildExample();
  const server = serveExample(port, args.models);
  console.log(`velora browser example: ${server.url}  (Ctrl-C to stop)`);
}
