import assert from "node:assert/strict";
import { join } from "node:path";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import type { ProgressInfo } from "../src/hub/hub.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { testDevice } from "./helpers/gpu.ts";
import { assertTensorClose, dir, loadInputs } from "./helpers/bert.ts";

const COMMIT = "fedcba9876543210fedcba9876543210fedcba98";

/** Serves tests/fixtures/bert_tiny as hub repo "test-org/bert-tiny" (weights behind a redirect). */
function startHub() {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    if (path === "/cdn/model") {
      return new Response(await Deno.readFile(join(dir, "model.safetensors")), {
        headers: { etag: '"blob-model"' },
      });
    }
    const m = path.match(/^\/test-org\/bert-tiny\/resolve\/main\/(.+)$/);
    if (!m) return new Response("Repository not found", { status: 404 });
    const headers = { "x-repo-commit": COMMIT, etag: `"etag-${m[1]}"` };
    if (m[1] === "model.safetensors") {
      return new Response(null, {
        status: 302,
        headers: { ...headers, location: "/cdn/model", "x-linked-etag": '"blob-model"' },
      });
    }
    if (m[1] !== "config.json") {
      return new Response("Entry not found", {
        status: 404,
        headers: { "x-error-code": "EntryNotFound" },
      });
    }
    return new Response(await Deno.readFile(join(dir, m[1])), { headers });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, requests, close: () => server.shutdown() };
}

Deno.test("from_pretrained downloads a hub repo (redirects, 404s, cache) and matches PyTorch", async () => {
  const device = await testDevice();
  const hub = startHub();
  const cache = await Deno.makeTempDir();
  const events: ProgressInfo[] = [];
  try {
    const model = await BertForSequenceClassification.from_pretrained("test-org/bert-tiny", {
      device,
      endpoint: hub.url,
      cache_dir: cache,
      progress_callback: (e) => events.push(e),
    });
    assert.ok(hub.requests.includes("/cdn/model"), "the weights came through the redirect");
    assert.ok(events.some((e) => e.status === "done"), "progress events were reported");
    const inp = await loadInputs(device);
    const logits = noGrad(() => tidy(() => model.forward(inp).logits.keep()));
    const golden = await loadSafetensors(`${dir}/golden.safetensors`);
    assertTensorClose(await logits.toArray(), golden.get("logits")!.data, 1e-4, "logits");
    logits.dispose();
    model.dispose();
    await hub.close();
    // Offline, from the HF-layout cache only.
    const again = await BertForSequenceClassification.from_pretrained("test-org/bert-tiny", {
      device,
      cache_dir: cache,
      local_files_only: true,
    });
    again.dispose();
    await assert.rejects(
      () =>
        BertForSequenceClassification.from_pretrained("test-org/other", {
          device,
          cache_dir: cache,
          local_files_only: true,
        }),
      /test-org\/other/,
    );
    Object.values(inp).forEach((t) => t.dispose());
  } finally {
    await hub.close().catch(() => {});
    await Deno.remove(cache, { recursive: true });
  }
});
