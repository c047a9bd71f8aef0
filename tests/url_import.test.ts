import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

Deno.test("mod.ts works imported by URL from another Deno script (no import map)", async () => {
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("bad", { status: 400 });
      try {
        const body = await Deno.readFile(root + path.slice(1));
        const type = path.endsWith(".ts") ? "application/typescript" : "text/plain";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/use.ts`;
    await Deno.writeTextFile(
      script,
      `import { Device, Tensor, tidy, ops } from "${base}/mod.ts";
const device = await Device.create();
const x = Tensor.from(device, [1, 2, 3], [3], { requiresGrad: true });
const y = tidy(() => ops.sum(ops.mul(x, x)).keep());
y.backward();
console.log(JSON.stringify(Array.from(await x.grad!.toArray())));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", "--no-config", `--reload=${base}`, script],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "[2,4,6]");
  } finally {
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
