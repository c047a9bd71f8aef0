/**
 * `deno task test:browser`: builds and serves the browser example, opens it in Debian's Chromium
 * (headless, WebGPU on SwiftShader) through playwright-core, trains the embedded BERT in the page
 * for a bounded number of steps, classifies a text, saves a screenshot and prints one line with
 * the loss before and after. Exits 1 when anything fails (no WebGPU, no loss decrease, no
 * classification).
 *
 *   deno task test:browser [--steps 30] [--mode velora] [--output-dir output/browser] [--no-build]
 *
 * @module
 */

import { join, resolve } from "node:path";
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { chromium } from "npm:playwright-core@1.65.1";
import { buildExample, serveExample } from "./serve.ts";
import type { PageState } from "./page_state.ts";

/** Debian's Chromium (`apt-get install -y chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/** Flags for a clean, quiet, CPU-only headless run with WebGPU on SwiftShader. */
export const CHROMIUM_ARGS = [
  "--enable-unsafe-webgpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

async function run(): Promise<number> {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      steps: { type: "string", default: "30" },
      mode: { type: "string", default: "velora" },
      "output-dir": { type: "string", default: "output/browser" },
      "no-build": { type: "boolean", default: false },
    },
  });
  const steps = Number(args.steps);
  const outDir = resolve(args["output-dir"]);
  await Deno.mkdir(outDir, { recursive: true });
  if (!args["no-build"]) await buildExample();
  const server = serveExample(0);
  const profile = await Deno.makeTempDir({ prefix: "velora-chromium-" });
  const asRoot = Deno.uid?.() === 0;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(asRoot ? ["--no-sandbox"] : [])],
    viewport: { width: 1280, height: 1000 },
    acceptDownloads: true,
  });
  const t0 = performance.now();
  try {
    const page = context.pages()[0] ?? await context.newPage();
    const pageErrors: string[] = [];
    const consoleLines: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("requestfailed", (r) => consoleLines.push(`request failed: ${r.url()}`));
    await page.goto(server.url);
    const state = () =>
      page.evaluate(() => (globalThis as unknown as { veloraPage: PageState }).veloraPage);
    await page.waitForFunction(
      () => {
        const s = (globalThis as unknown as { veloraPage?: PageState }).veloraPage;
        return s && (s.ready || s.error);
      },
      undefined,
      { timeout: 60_000 },
    ).catch((e) => {
      throw new Error(
        `the page did not start: ${(e as Error).message}; page errors: ${
          pageErrors.join("; ") || "none"
        }; console: ${consoleLines.slice(-10).join(" | ") || "empty"}`,
      );
    });
    // After Stop (or the last step) the page publishes the run's result.
    const resultReady = () =>
      page.waitForFunction(
        () => (globalThis as unknown as { veloraPage: PageState }).veloraPage.result !== null,
        undefined,
        { timeout: 60_000 },
      );
    let s = await state();
    if (!s.ready) throw new Error(`the page has no WebGPU device: ${s.error}`);
    await page.fill("#max-steps", String(steps));
    await page.fill("#epochs", "3");
    await page.fill("#batch-size", "16");
    await page.fill("#max-length", "32");
    await page.selectOption("#mode", args.mode);
    await page.click("#train");
    // At most 2 minutes of training: press Stop if the steps have not finished by then.
    const deadline = performance.now() + 120_000;
    while (true) {
      s = await state();
      if (s.error) throw new Error(`training failed in the page: ${s.error}`);
      if (s.result) break;
      if (performance.now() > deadline) {
        await page.click("#stop");
        await resultReady();
        s = await state();
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const losses = s.losses;
    if (losses.length < 4) throw new Error(`only ${losses.length} training steps ran`);
    // The page measures the mean loss on 64 fixed training examples before and after training.
    const before = s.result!.probeBefore;
    const after = s.result!.probeAfter;
    await page.fill("#text", "FREE money!!! Click here to claim your prize, limited offer");
    await page.click("#classify");
    await page.waitForFunction(
      () => (globalThis as unknown as { veloraPage: PageState }).veloraPage.classification !== null,
      undefined,
      { timeout: 60_000 },
    );
    s = await state();
    const shot = join(outDir, "screenshot.png");
    await page.screenshot({ path: shot, fullPage: true });
    // As a user would: download the model, train again on a picked CSV file, stop it.
    const downloads: string[] = [];
    page.on("download", (d) => downloads.push(d.suggestedFilename()));
    await page.click("#download");
    const deadlineDl = performance.now() + 30_000;
    while (downloads.length < 2 && performance.now() < deadlineDl) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (downloads.sort().join() !== "config.json,model.safetensors") {
      throw new Error(`download gave ${JSON.stringify(downloads)}`);
    }
    const csv = [
      "text,label",
      ...s.losses.map((_, i) => `example number ${i},${i % 2 ? "b" : "a"}`),
    ]
      .join("\n");
    await page.setInputFiles("#data-file", {
      name: "picked.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(csv),
    });
    await page.fill("#max-steps", "0");
    await page.fill("#epochs", "50");
    await page.click("#train");
    await page.waitForFunction(
      () => {
        const s = (globalThis as unknown as { veloraPage: PageState }).veloraPage;
        return s.losses.length >= 2 || s.error !== null;
      },
      undefined,
      { timeout: 120_000 },
    );
    if ((await state()).error) {
      throw new Error(`training on the picked file failed: ${(await state()).error}`);
    }
    await page.click("#stop");
    await resultReady();
    const picked = await state();
    if (!picked.result!.stopped) throw new Error("Stop did not stop the run");
    const info = await page.textContent("#data-info");
    if (!info?.includes("labels: a, b")) throw new Error(`the picked file was not used: ${info}`);
    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
    const fell = after < before;
    if (Deno.env.get("VELORA_BROWSER_DEBUG")) {
      console.log(JSON.stringify({ losses, times: s.times }));
    }
    console.log(
      `browser: loss ${before.toFixed(4)} -> ${
        after.toFixed(4)
      } (mean over 64 training examples, before/after ${losses.length} steps of mode ${args.mode}, ${
        s.result!.seconds.toFixed(0)
      } s) on ${s.adapter}; ` +
        `classified as "${s.classification!.label}" (${s.classification!.score.toFixed(3)}); ` +
        `download, picked CSV and Stop work; ${
          ((performance.now() - t0) / 1000).toFixed(0)
        } s; screenshot ${shot}` +
        (fell ? "" : "  FAILED: the loss did not fall"),
    );
    return fell ? 0 : 1;
  } finally {
    await context.close();
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await run());
  } catch (e) {
    console.error(`browser: FAILED: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
