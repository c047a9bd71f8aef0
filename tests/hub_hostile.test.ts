// A hostile or broken hub must not touch files outside the cache, read local files, or hang.
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveModelFile } from "../src/hub/hub.ts";
import { rejectsMatching } from "./helpers/rejects.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const CONFIG = new TextEncoder().encode(JSON.stringify({ model_type: "bert" }));

type Handler = (path: string, req: Request) => Response | Promise<Response>;

async function withServer(
  handler: Handler,
  fn: (url: string, cacheDir: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => handler(new URL(req.url).pathname, req),
  );
  const cacheDir = await Deno.makeTempDir({ prefix: "velora-hostile-" });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, join(cacheDir, "a", "b", "cache"));
  } finally {
    await server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("X-Repo-Commit is validated: a hostile 404 or 200 cannot write outside the cache", async () => {
  const evil = "../../../../victim";
  await withServer(
    (path) =>
      path.endsWith("/config.json")
        ? new Response(CONFIG, { headers: { "x-repo-commit": evil } })
        : new Response("no", {
          status: 404,
          headers: { "x-repo-commit": evil, "x-error-code": "EntryNotFound" },
        }),
    async (url, cacheDir) => {
      // The victim: <cache>/models--org--x/.no_exist/<evil>/config.json resolves to it.
      const victim = join(cacheDir, "..", "victim", "config.json");
      await Deno.mkdir(join(cacheDir, "..", "victim"), { recursive: true });
      await Deno.writeTextFile(victim, "precious");
      const opts = { cache_dir: cacheDir, endpoint: url };
      await rejectsMatching(
        () => resolveModelFile("org/x", "missing.json", opts),
        /X-Repo-Commit "\.\.\/\.\.\/\.\.\/\.\.\/victim"/,
        /not a 40-hex-digit commit hash/,
      );
      await rejectsMatching(() => resolveModelFile("org/x", "config.json", opts), /X-Repo-Commit/);
      assert.equal(await Deno.readTextFile(victim), "precious");
      const repo = join(cacheDir, "models--org--x");
      assert.equal(await exists(join(repo, "refs", "main")), false);
      assert.equal(await exists(join(repo, ".no_exist")), false);
    },
  );
});

Deno.test("a refs/main that is not a commit hash is ignored offline", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "velora-hostile-" });
  try {
    const repo = join(cacheDir, "models--org--x");
    await Deno.mkdir(join(repo, "refs"), { recursive: true });
    await Deno.mkdir(join(repo, "snapshots"), { recursive: true });
    await Deno.writeTextFile(join(repo, "refs", "main"), "..");
    // With the ref followed, snapshots/../config.json would be found.
    await Deno.writeFile(join(repo, "config.json"), CONFIG);
    await rejectsMatching(
      () =>
        resolveModelFile("org/x", "config.json", { cache_dir: cacheDir, local_files_only: true }),
      /is not in the cache/,
    );
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("redirects: only http(s), and a bounded number", async () => {
  const secret = await Deno.makeTempFile({ prefix: "velora-secret-" });
  await Deno.writeTextFile(secret, "s3cr3t");
  try {
    await withServer((path) => {
      if (path.includes("/file/")) {
        return new Response(null, {
          status: 302,
          headers: { location: `file://${secret}`, "x-repo-commit": COMMIT },
        });
      }
      if (path.includes("/data/")) {
        return new Response(null, {
          status: 302,
          headers: { location: "data:text/plain,hello", "x-repo-commit": COMMIT },
        });
      }
      return new Response(null, { status: 302, headers: { location: path } }); // a loop
    }, async (url, cacheDir) => {
      const opts = { cache_dir: cacheDir, endpoint: url };
      await rejectsMatching(
        () => resolveModelFile("file/x", "config.json", opts),
        /refusing to fetch file: URL/,
        /only http\(s\)/,
      );
      await rejectsMatching(
        () => resolveModelFile("data/x", "config.json", opts),
        /refusing .*data:/,
      );
      await rejectsMatching(
        () => resolveModelFile("loop/x", "config.json", opts),
        /more than 10 redirects/,
      );
      assert.equal(await exists(join(cacheDir, "models--file--x", "snapshots")), false);
    });
  } finally {
    await Deno.remove(secret);
  }
});

Deno.test("timeouts and size caps: stalls, endless bodies and oversized files fail clearly", async () => {
  const pending: ReadableStreamDefaultController<Uint8Array>[] = [];
  // Answered only at the end, so that the server can shut down.
  let release = (_: Response) => {};
  const late = new Promise<Response>((r) => (release = r));
  await withServer((path) => {
    const headers = { "x-repo-commit": COMMIT };
    if (path.startsWith("/silent/")) return late; // no answer within the test
    if (path.startsWith("/stall/")) {
      // Headers and one chunk, then nothing.
      return new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            pending.push(c);
            c.enqueue(new Uint8Array(10));
          },
        }),
        { headers },
      );
    }
    if (path.startsWith("/endless/")) {
      // An endless chunked body, no Content-Length.
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            c.enqueue(new Uint8Array(64 * 1024).fill(32));
          },
        }),
        { headers },
      );
    }
    if (path.startsWith("/huge/")) {
      // Announces 64 MiB; the client must refuse before reading it.
      return new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            pending.push(c);
            c.enqueue(new Uint8Array(16));
          },
        }),
        { headers: { ...headers, "content-length": String(64 * 1024 * 1024) } },
      );
    }
    if (path.startsWith("/linked/")) {
      // The hub says the LFS file has 100 bytes; the body (chunked) goes on.
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            c.enqueue(new Uint8Array(4096));
          },
        }),
        { headers: { ...headers, "x-linked-size": "100" } },
      );
    }
    return new Response("no", { status: 404 });
  }, async (url, cacheDir) => {
    try {
      const opts = {
        cache_dir: cacheDir,
        endpoint: url,
        connectTimeoutMs: 300,
        idleTimeoutMs: 300,
      };
      const t0 = performance.now();
      await rejectsMatching(
        () => resolveModelFile("silent/x", "config.json", opts),
        /no response within 300 ms \(connectTimeoutMs/,
      );
      await rejectsMatching(
        () => resolveModelFile("stall/x", "model.safetensors", opts),
        /download stalled, no data for 300 ms after 10 bytes \(idleTimeoutMs/,
      );
      await rejectsMatching(
        () => resolveModelFile("endless/x", "tokenizer.json", { ...opts, maxMetadataBytes: 1e6 }),
        /over the 1000000-byte cap for JSON files/,
      );
      await rejectsMatching(
        () =>
          resolveModelFile("endless/x", "model.safetensors", { ...opts, maxMetadataBytes: 1e6 }),
        /over the 1000000-byte cap .* undeclared size/,
      );
      await rejectsMatching(
        () => resolveModelFile("huge/x", "config.json", opts),
        /"config\.json" is 67108864 bytes \(Content-Length\), over the 50000000-byte cap/,
      );
      await rejectsMatching(
        () => resolveModelFile("linked/x", "model.safetensors", opts),
        /longer than the announced 100 bytes/,
      );
      assert.ok(performance.now() - t0 < 10_000);
      // Nothing half-written is left behind.
      for await (const e of (await exists(cacheDir)) ? Deno.readDir(cacheDir) : []) {
        const blobs = join(cacheDir, e.name, "blobs");
        if (!(await exists(blobs))) continue;
        for await (const b of Deno.readDir(blobs)) assert.fail(`left ${b.name}`);
      }
    } finally {
      release(new Response("late"));
      for (const c of pending) {
        try {
          c.close();
        } catch {
          // already cancelled by the client's abort
        }
      }
    }
  });
});

Deno.test("repo ids '.', '..' and '.x' parts and revision '..' are refused", async () => {
  for (const id of ["a/.", "a/..", "a/.hidden", "a/x.", "-a/b"]) {
    await rejectsMatching(
      () => resolveModelFile(id, "config.json", { cache_dir: "/nonexistent" }),
      /is neither/,
    );
  }
  for (const revision of ["..", ".", "a/../..", ""]) {
    await rejectsMatching(
      () => resolveModelFile("org/x", "config.json", { revision, cache_dir: "/nonexistent" }),
      /option revision: invalid revision/,
    );
  }
});
