import assert from "node:assert/strict";
import { join } from "node:path";
import {
  defaultCacheDir,
  hubEndpoint,
  type ProgressInfo,
  resolveModelFile,
  resolveModelWeights,
} from "../src/hub/hub.ts";
import { loadSafetensorsSharded, saveSafetensors } from "../src/io/safetensors.ts";
import { rejectsMatching } from "./helpers/rejects.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const text = (s: string) => new TextEncoder().encode(s);

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function safetensorsBytes(
  tensors: Record<string, number[]>,
): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "velora-hub-" });
  try {
    const path = join(dir, "x.safetensors");
    await saveSafetensors(
      path,
      Object.fromEntries(
        Object.entries(tensors).map((
          [k, v],
        ) => [k, { shape: [v.length], data: new Float32Array(v) }]),
      ),
    );
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Files served by the fake hub, per repo id; every repo has the single revision "main" = COMMIT. */
type Repos = Record<string, Record<string, Uint8Array<ArrayBuffer>>>;

interface FakeHub {
  url: string;
  /** Request paths received, in order. */
  log: string[];
  /** Authorization header per request path. */
  auth: Map<string, string | null>;
  close(): Promise<void>;
}

/**
 * A local server answering like the hub at `/{id}/resolve/{revision}/{file}`: files ending in
 * `.big` are 302-redirected to `/cdn/{sha256}` (with `X-Linked-Etag`), `truncated.bin` breaks
 * mid-body, `gated/*` answers 401, `flaky/*` answers 503, `offsite.bin` redirects to `offsite`.
 */
function startHub(repos: Repos, offsite?: string): FakeHub {
  const log: string[] = [];
  const auth = new Map<string, string | null>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { pathname } = new URL(req.url);
    log.push(pathname);
    auth.set(pathname, req.headers.get("authorization"));
    const cdn = pathname.match(/^\/cdn\/([0-9a-f]{64})$/);
    if (cdn) {
      for (const files of Object.values(repos)) {
        for (const bytes of Object.values(files)) {
          if ((await sha256(bytes)) === cdn[1]) {
            return new Response(bytes, { headers: { etag: `"cdn-${cdn[1].slice(0, 8)}"` } });
          }
        }
      }
      return new Response("no such blob", { status: 404 });
    }
    const m = pathname.match(/^\/([^/]+(?:\/[^/]+)?)\/resolve\/([^/]+)\/(.+)$/);
    if (!m) return new Response("bad path", { status: 400 });
    const [, id, rev, file] = [m[0], m[1], decodeURIComponent(m[2]), decodeURIComponent(m[3])];
    if (id.startsWith("gated/")) {
      return new Response("gated", { status: 401, headers: { "x-error-code": "GatedRepo" } });
    }
    if (id.startsWith("flaky/")) return new Response("down", { status: 503 });
    const files = repos[id];
    if (!files) {
      return new Response("no repo", {
        status: 404,
        headers: { "x-error-code": "RepositoryNotFound" },
      });
    }
    if (rev !== "main" && rev !== COMMIT) {
      return new Response("no rev", {
        status: 404,
        headers: { "x-error-code": "RevisionNotFound" },
      });
    }
    const common = { "x-repo-commit": COMMIT };
    if (file === "offsite.bin" && offsite) {
      return new Response(null, { status: 302, headers: { ...common, location: offsite } });
    }
    const bytes = files[file];
    if (!bytes) {
      return new Response("no entry", {
        status: 404,
        headers: { ...common, "x-error-code": "EntryNotFound" },
      });
    }
    const hash = await sha256(bytes);
    if (file === "truncated.bin") {
      // The connection closes after 10 of the announced bytes.
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(bytes.slice(0, 10));
          c.close();
        },
      });
      return new Response(body, {
        headers: { ...common, etag: `"${hash}"`, "content-length": String(bytes.byteLength) },
      });
    }
    if (file.endsWith(".big")) {
      return new Response(null, {
        status: 302,
        headers: { ...common, "x-linked-etag": `"${hash}"`, location: `/cdn/${hash}` },
      });
    }
    return new Response(bytes, { headers: { ...common, etag: `"${hash.slice(0, 40)}"` } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    log,
    auth,
    close: () => server.shutdown(),
  };
}

async function withHub(
  repos: Repos,
  fn: (hub: FakeHub, cacheDir: string) => Promise<void>,
): Promise<void> {
  const hub = startHub(repos);
  const cacheDir = await Deno.makeTempDir({ prefix: "velora-hub-cache-" });
  try {
    await fn(hub, cacheDir);
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    out.push(rel);
    if (e.isDirectory) out.push(...await listTree(join(dir, e.name), rel + "/"));
  }
  return out.sort();
}

const CONFIG = text(JSON.stringify({ model_type: "bert", hidden_size: 32 }));
const BIG = new Uint8Array(200_000).map((_, i) => i % 251);

Deno.test("downloads into the HF cache layout and reuses the cache", async () => {
  await withHub({ "org/tiny": { "config.json": CONFIG } }, async (hub, cacheDir) => {
    const events: ProgressInfo[] = [];
    const opts = {
      cache_dir: cacheDir,
      endpoint: hub.url,
      progress_callback: (p: ProgressInfo) => events.push(p),
    };
    const path = await resolveModelFile("org/tiny", "config.json", opts);
    const repoDir = join(cacheDir, "models--org--tiny");
    assert.equal(path, join(repoDir, "snapshots", COMMIT, "config.json"));
    assert.deepEqual(await Deno.readFile(path), CONFIG);
    const etag = (await sha256(CONFIG)).slice(0, 40);
    assert.equal(await Deno.readLink(path), join("..", "..", "blobs", etag));
    assert.equal(await Deno.readTextFile(join(repoDir, "refs", "main")), COMMIT);
    assert.deepEqual(await listTree(repoDir), [
      "blobs",
      `blobs/${etag}`,
      "refs",
      "refs/main",
      "snapshots",
      `snapshots/${COMMIT}`,
      `snapshots/${COMMIT}/config.json`,
    ]);
    assert.deepEqual(events.map((e) => e.status), ["initiate", "download", "progress", "done"]);
    assert.deepEqual(events[2], {
      status: "progress",
      name: "org/tiny",
      file: "config.json",
      loaded: CONFIG.byteLength,
      total: CONFIG.byteLength,
      progress: 100,
    });

    // Second call: the hub is asked for the commit but nothing is downloaded again.
    events.length = 0;
    assert.equal(await resolveModelFile("org/tiny", "config.json", opts), path);
    assert.deepEqual(events.map((e) => e.status), ["initiate", "done"]);
    // A pinned commit that is cached needs no request at all.
    const before = hub.log.length;
    assert.equal(
      await resolveModelFile("org/tiny", "config.json", { ...opts, revision: COMMIT }),
      path,
    );
    assert.equal(hub.log.length, before);
  });
});

Deno.test("follows redirects, names blobs by X-Linked-Etag, reports progress", async () => {
  await withHub({ "org/big": { "weights.big": BIG } }, async (hub, cacheDir) => {
    const events: ProgressInfo[] = [];
    const path = await resolveModelFile("org/big", "weights.big", {
      cache_dir: cacheDir,
      endpoint: hub.url,
      progress_callback: (p) => events.push(p),
    });
    const hash = await sha256(BIG);
    assert.deepEqual(hub.log, ["/org/big/resolve/main/weights.big", `/cdn/${hash}`]);
    assert.deepEqual(await Deno.readFile(path), BIG);
    assert.equal(
      await Deno.realPath(path),
      await Deno.realPath(join(cacheDir, "models--org--big", "blobs", hash)),
    );
    const progress = events.filter((e) => e.status === "progress") as Extract<
      ProgressInfo,
      { status: "progress" }
    >[];
    assert.ok(progress.length >= 1);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].loaded > progress[i - 1].loaded);
    }
    const last = progress.at(-1)!;
    assert.equal(last.loaded, BIG.byteLength);
    assert.equal(last.total, BIG.byteLength);
    assert.equal(last.progress, 100);
    assert.equal(events.at(-1)!.status, "done");
  });
});

Deno.test("404: error names repo, file and revision; null when not required", async () => {
  await withHub({ "org/tiny": { "config.json": CONFIG } }, async (hub, cacheDir) => {
    const opts = { cache_dir: cacheDir, endpoint: hub.url };
    await rejectsMatching(
      () => resolveModelFile("org/tiny", "model.safetensors", opts),
      /"model\.safetensors"/,
      /"org\/tiny"/,
      /revision "main"/,
      /404/,
    );
    assert.equal(
      await resolveModelFile("org/tiny", "model.safetensors.index.json", {
        ...opts,
        required: false,
      }),
      null,
    );
    // The 404 is remembered like huggingface_hub does (.no_exist), so offline lookups know it.
    const marker = join(
      cacheDir,
      "models--org--tiny",
      ".no_exist",
      COMMIT,
      "model.safetensors.index.json",
    );
    assert.ok((await Deno.stat(marker)).isFile);
    const offline = { ...opts, local_files_only: true };
    assert.equal(
      await resolveModelFile("org/tiny", "model.safetensors.index.json", {
        ...offline,
        required: false,
      }),
      null,
    );
    await rejectsMatching(
      () => resolveModelFile("org/tiny", "model.safetensors.index.json", offline),
      /does not exist/,
      /cached 404/,
    );
    await rejectsMatching(
      () => resolveModelFile("org/missing", "config.json", opts),
      /repository "org\/missing" not found/,
    );
    await rejectsMatching(
      () =>
        resolveModelFile("org/tiny", "config.json", { ...opts, revision: "v9", required: false }),
      /revision "v9" not found in repository "org\/tiny"/,
    );
    await rejectsMatching(
      () => resolveModelFile("gated/model", "config.json", opts),
      /"config\.json" in repository "gated\/model" at revision "main" denied \(HTTP 401 GatedRepo/,
      /HF_TOKEN/,
    );
  });
});

Deno.test("local_files_only and offline fallback use only the cache", async () => {
  await withHub({ "org/tiny": { "config.json": CONFIG } }, async (hub, cacheDir) => {
    const opts = { cache_dir: cacheDir, endpoint: hub.url };
    await rejectsMatching(
      () => resolveModelFile("org/tiny", "config.json", { ...opts, local_files_only: true }),
      /"config\.json" of repository "org\/tiny" at revision "main" is not in the cache/,
      /local_files_only is set/,
    );
    assert.equal(hub.log.length, 0);
    assert.equal(
      await resolveModelFile("org/tiny", "config.json", {
        ...opts,
        local_files_only: true,
        required: false,
      }),
      null,
    );
    const path = await resolveModelFile("org/tiny", "config.json", opts);
    const n = hub.log.length;
    assert.equal(
      await resolveModelFile("org/tiny", "config.json", { ...opts, local_files_only: true }),
      path,
    );
    assert.equal(hub.log.length, n);

    // Unreachable hub (nothing listens on the port any more): the cached copy is used.
    const dead = startHub({});
    const deadUrl = dead.url;
    await dead.close();
    const offline = { cache_dir: cacheDir, endpoint: deadUrl };
    assert.equal(await resolveModelFile("org/tiny", "config.json", offline), path);
    await rejectsMatching(
      () => resolveModelFile("org/tiny", "vocab.txt", offline),
      /"vocab\.txt" of repository "org\/tiny"/,
      /could not be fetched/,
    );
    // A 5xx answer also falls back to the cache (here: nothing cached, so it says why).
    await rejectsMatching(
      () => resolveModelFile("flaky/model", "config.json", opts),
      /HTTP 503/,
      /not in the cache/,
    );
  });
});

Deno.test("HF_ENDPOINT selects the hub; defaults come from the environment", async () => {
  await withHub({ "tiny": { "config.json": CONFIG } }, async (hub, cacheDir) => {
    // A child process, so this process's environment (shared by parallel test modules) is untouched.
    const script = `
      import { resolveModelFile } from ${
      JSON.stringify(new URL("../src/hub/hub.ts", import.meta.url).href)
    };
      console.log(await resolveModelFile("tiny", "config.json"));`;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", script],
      env: { HF_ENDPOINT: hub.url + "/", HF_HUB_CACHE: cacheDir, HF_TOKEN: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.equal(
      new TextDecoder().decode(stdout).trim(),
      join(cacheDir, "models--tiny", "snapshots", COMMIT, "config.json"),
    );
    assert.deepEqual(hub.log, ["/tiny/resolve/main/config.json"]);
  });
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assert.equal(hubEndpoint(env({})), "https://huggingface.co");
  assert.equal(hubEndpoint(env({ HF_ENDPOINT: "http://x:1//" })), "http://x:1");
  assert.equal(defaultCacheDir(env({ HOME: "/h" })), "/h/.cache/huggingface/hub");
  assert.equal(defaultCacheDir(env({ HOME: "/h", XDG_CACHE_HOME: "/x" })), "/x/huggingface/hub");
  assert.equal(defaultCacheDir(env({ HOME: "/h", HF_HOME: "~/hf" })), "/h/hf/hub");
  assert.equal(
    defaultCacheDir(env({ HOME: "/h", HF_HOME: "/hf", HUGGINGFACE_HUB_CACHE: "/old" })),
    "/old",
  );
  assert.equal(
    defaultCacheDir(env({ HF_HOME: "/hf", HUGGINGFACE_HUB_CACHE: "/old", HF_HUB_CACHE: "/c" })),
    "/c",
  );
});

Deno.test("a failed download leaves no partial file; tokens stay on the hub's origin", async () => {
  const other = startHub({ "org/tiny": { "config.json": CONFIG } });
  const offsite = `${other.url}/org/tiny/resolve/main/config.json`;
  const hub = startHub({ "org/x": { "truncated.bin": BIG, "offsite.bin": BIG } }, offsite);
  const cacheDir = await Deno.makeTempDir({ prefix: "velora-hub-cache-" });
  try {
    const opts = { cache_dir: cacheDir, endpoint: hub.url, token: "hf_secret" };
    await rejectsMatching(
      () => resolveModelFile("org/x", "truncated.bin", opts),
      /downloading "truncated\.bin" of repository "org\/x" at revision "main"/,
    );
    const tree = await listTree(join(cacheDir, "models--org--x"));
    assert.ok(
      !tree.some((p) => p.includes("incomplete") || p.endsWith("truncated.bin")),
      `${tree}`,
    );

    assert.deepEqual(
      await Deno.readFile(await resolveModelFile("org/x", "offsite.bin", opts)),
      CONFIG,
    );
    assert.equal(hub.auth.get("/org/x/resolve/main/offsite.bin"), "Bearer hf_secret");
    assert.equal(other.auth.get("/org/tiny/resolve/main/config.json"), null);
  } finally {
    await hub.close();
    await other.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("local directories are used directly; bad ids and names are rejected", async () => {
  const dir = await Deno.makeTempDir({ prefix: "velora-hub-local-" });
  try {
    await Deno.writeFile(join(dir, "config.json"), CONFIG);
    assert.equal(await resolveModelFile(dir, "config.json"), join(dir, "config.json"));
    assert.equal(await resolveModelFile(dir, "vocab.txt", { required: false }), null);
    await rejectsMatching(
      () => resolveModelFile(dir, "vocab.txt"),
      /"vocab\.txt" not found in local model directory/,
    );
    await rejectsMatching(
      () => resolveModelFile(join(dir, "nope"), "config.json"),
      /nope: local model directory not found/,
    );
    await rejectsMatching(() => resolveModelFile(join(dir, "config.json"), "x"), /is a file/);
    await rejectsMatching(() => resolveModelFile("bad--id", "config.json"), /"bad--id" is neither/);
    await rejectsMatching(() => resolveModelFile("a b", "config.json"), /"a b" is neither/);
    await rejectsMatching(
      () => resolveModelFile(dir, "../etc/passwd"),
      /invalid filename "\.\.\/etc\/passwd"/,
    );
    await rejectsMatching(
      () => resolveModelFile("org/name", "config.json", { revision: "../x", cache_dir: dir }),
      /option revision: invalid revision "\.\.\/x"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveModelWeights: sharded and single-file repos, and repos without safetensors", async () => {
  const shard1 = await safetensorsBytes({ a: [1, 2] });
  const shard2 = await safetensorsBytes({ b: [3] });
  const index = text(JSON.stringify({
    metadata: { total_size: 12 },
    weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
  }));
  await withHub({
    "org/sharded": {
      "model.safetensors.index.json": index,
      "model-00001-of-00002.safetensors": shard1,
      "model-00002-of-00002.safetensors": shard2,
    },
    "org/single": { "model.safetensors": shard1 },
    "org/old": { "pytorch_model.bin": text("PK") },
  }, async (hub, cacheDir) => {
    const opts = { cache_dir: cacheDir, endpoint: hub.url };
    const indexPath = await resolveModelWeights("org/sharded", opts);
    assert.ok(indexPath.endsWith(join(COMMIT, "model.safetensors.index.json")));
    const tensors = await loadSafetensorsSharded(indexPath);
    assert.deepEqual([...tensors.get("a")!.data], [1, 2]);
    assert.deepEqual([...tensors.get("b")!.data], [3]);
    // Fully offline afterwards.
    assert.equal(
      await resolveModelWeights("org/sharded", { ...opts, local_files_only: true }),
      indexPath,
    );

    const single = await resolveModelWeights("org/single", opts);
    assert.ok(single.endsWith(join(COMMIT, "model.safetensors")));
    await rejectsMatching(
      () => resolveModelWeights("org/old", opts),
      /repository "org\/old" at revision "main" has no model\.safetensors/,
      /safe_serialization=True/,
    );
    // A local directory goes through findSafetensorsInDir.
    const snapshotDir = join(cacheDir, "models--org--single", "snapshots", COMMIT);
    assert.equal(await resolveModelWeights(snapshotDir), join(snapshotDir, "model.safetensors"));
  });
});
