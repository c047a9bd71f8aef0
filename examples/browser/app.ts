/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The browser example's page logic: WebGPU device, model and data choice, in-page fine-tuning with
 * a live Chart.js loss chart, memory by category, tokens/s, stop, classification and download.
 * Bundled by `build.ts` into `dist/app.js`.
 *
 * @module
 */

import Chart from "npm:chart.js@4.6.1/auto";
import { Device, MEMORY_CATEGORIES, type ProgressInfo } from "../../mod.ts";
import type { Example } from "../../src/data/types.ts";
import { epochPermutation } from "../../src/data/split.ts";
import { parseTextClassification } from "../../src/data/text_file.ts";
import { embeddedModel, type LoadedModel, modelFiles, modelFromUrl } from "./model.ts";
import {
  attnImplementationFor,
  BROWSER_MODES,
  type BrowserMode,
  classifyTexts,
  type StepReport,
  trainLoop,
} from "./train_loop.ts";
import type { PageState } from "./page_state.ts";

/** The bundled sample (written by build.ts): real e-mail sentences from an npm corpus. */
interface Sample {
  source: string;
  labels: string[];
  examples: Example[];
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const state: PageState = {
  ready: false,
  adapter: "",
  training: false,
  losses: [],
  times: [],
  result: null,
  classification: null,
  error: null,
};
(globalThis as unknown as { veloraPage: PageState }).veloraPage = state;

function log(message: string, error = false): void {
  const line = document.createElement("div");
  line.textContent = `${new Date().toLocaleTimeString()}  ${message}`;
  if (error) line.className = "error";
  $("status").append(line);
  $("status").scrollTop = $("status").scrollHeight;
  if (error) state.error = message;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

/** Live and peak bytes per category, with a bar scaled to the largest peak. */
function showMemory(live: Record<string, number>, peak: Record<string, number> = live): void {
  const max = Math.max(1, ...Object.values(peak));
  const rows = MEMORY_CATEGORIES.map((c) =>
    `<tr><td>${c}</td><td style="width:45%"><div class="bar" style="width:${
      (100 * peak[c] / max).toFixed(1)
    }%"></div></td><td>${mib(live[c])}</td><td>${mib(peak[c])}</td></tr>`
  );
  $("memory").innerHTML = `<tr><th></th><th></th><th>now</th><th>peak</th></tr>${rows.join("")}`;
}

const chart = new Chart($<HTMLCanvasElement>("chart"), {
  type: "line",
  data: {
    labels: [],
    datasets: [{
      label: "training loss",
      data: [],
      borderColor: "#2563eb",
      backgroundColor: "rgba(37, 99, 235, 0.1)",
      pointRadius: 0,
      borderWidth: 2,
      tension: 0.2,
    }],
  },
  options: {
    animation: false,
    maintainAspectRatio: false,
    scales: { x: { title: { display: true, text: "step" } }, y: { beginAtZero: false } },
  },
});

let device: Device | null = null;
let current: LoadedModel | null = null;
let labels: string[] = [];
let stopRequested = false;
const maxLength = () => Number($<HTMLInputElement>("max-length").value);

/** Examples whose mean loss is measured before and after training. */
const PROBE = 64;

/** A fixed, seeded choice of {@link PROBE} training examples. */
function probeSet(examples: Example[]): Example[] {
  const order = epochPermutation(examples.length, 7, 0);
  return Array.from(order.subarray(0, PROBE), (i) => examples[i]);
}

async function loadSample(): Promise<Sample> {
  const res = await fetch(new URL("./dist/sample.json", location.href));
  if (!res.ok) {
    throw new Error(`dist/sample.json: HTTP ${res.status} (run deno task build:browser)`);
  }
  return await res.json() as Sample;
}

async function chosenData(): Promise<{ examples: Example[]; labels: string[]; name: string }> {
  const useFile = ($<HTMLInputElement>("data-file").files?.length ?? 0) > 0 &&
    document.querySelector<HTMLInputElement>('input[name="data"][value="file"]')!.checked;
  if (useFile) {
    const file = $<HTMLInputElement>("data-file").files![0];
    const ds = await parseTextClassification(new Uint8Array(await file.arrayBuffer()), file.name);
    const names = Object.keys(ds.id2label).sort((a, b) => Number(a) - Number(b))
      .map((k) => ds.id2label[Number(k)]);
    return { examples: ds.examples, labels: names, name: file.name };
  }
  const sample = await loadSample();
  return { examples: sample.examples, labels: sample.labels, name: sample.source };
}

async function chosenModel(
  dev: Device,
  dataLabels: string[],
  attn: string | undefined,
): Promise<LoadedModel> {
  const useUrl = document.querySelector<HTMLInputElement>('input[name="model"][value="url"]')!
    .checked;
  const url = $<HTMLInputElement>("model-url").value.trim();
  if (useUrl && url) {
    return await modelFromUrl(
      dev,
      url,
      dataLabels,
      42,
      {
        progress_callback: (p: ProgressInfo) => {
          if (p.status === "progress") {
            $("adapter").dataset.progress = `${p.file} ${p.progress.toFixed(0)}%`;
          }
        },
      },
      (m) => log(m),
      attn,
    );
  }
  return await embeddedModel(dev, dataLabels, 42, attn);
}

async function train(): Promise<void> {
  if (!device || state.training) return;
  state.training = true;
  state.result = null;
  state.losses = [];
  stopRequested = false;
  $<HTMLButtonElement>("train").disabled = true;
  $<HTMLButtonElement>("stop").disabled = false;
  $<HTMLButtonElement>("download").disabled = true;
  try {
    const data = await chosenData();
    labels = data.labels;
    $("data-info").textContent = `${data.examples.length} examples, labels: ${labels.join(", ")}`;
    current?.model.dispose();
    current = null;
    const mode = $<HTMLSelectElement>("mode").value as BrowserMode;
    current = await chosenModel(device, labels, attnImplementationFor(mode));
    log(`training ${current.name} on ${data.name} (${data.examples.length} rows), mode ${mode}`);
    state.losses = [];
    state.times = [];
    const t0 = performance.now();
    chart.data.labels = [];
    chart.data.datasets[0].data = [];
    chart.update("none");
    const onStep = (r: StepReport) => {
      state.losses.push(r.loss);
      state.times.push((performance.now() - t0) / 1000);
      (chart.data.labels as number[]).push(r.step);
      (chart.data.datasets[0].data as number[]).push(r.loss);
      chart.update("none");
      $("stat-step").textContent = `${r.step} / ${r.totalSteps} (epoch ${r.epoch + 1})`;
      $("stat-loss").textContent = r.loss.toFixed(4);
      $("stat-tps").textContent = r.tokensPerSecond.toFixed(0);
      $("stat-peak").textContent = mib(r.peakBytes);
      $("stat-act").textContent = mib(r.activationPeak);
      showMemory(r.memory, r.peakMemory);
    };
    const result = await trainLoop(
      device,
      current.model,
      current.tokenizer,
      data.examples,
      {
        mode,
        epochs: Number($<HTMLInputElement>("epochs").value),
        maxSteps: Number($<HTMLInputElement>("max-steps").value),
        batchSize: Number($<HTMLInputElement>("batch-size").value),
        maxLength: maxLength(),
        lr: Number($<HTMLInputElement>("lr").value),
        warmupRatio: 0.1,
        weightDecay: 0.01,
        maxGradNorm: 1,
        seed: 42,
        numGroups: 32,
        probe: probeSet(data.examples),
      },
      onStep,
      () => stopRequested,
    );
    state.result = result;
    log(
      `${result.stopped ? "stopped" : "done"} after ${result.steps} steps in ${
        result.seconds.toFixed(1)
      } s; mean loss on ${PROBE} training examples ${result.probeBefore.toFixed(4)} → ${
        result.probeAfter.toFixed(4)
      }` +
        (result.veloraLayers.length ? ` (VeLoRA on ${result.veloraLayers.length} layers)` : ""),
    );
    $<HTMLButtonElement>("download").disabled = false;
  } catch (e) {
    log(`training failed: ${(e as Error).message}`, true);
  } finally {
    state.training = false;
    $<HTMLButtonElement>("train").disabled = false;
    $<HTMLButtonElement>("stop").disabled = true;
  }
}

async function classify(): Promise<void> {
  if (!device) return;
  try {
    if (!current) {
      const sample = await loadSample();
      labels = sample.labels;
      current = await embeddedModel(device, labels, 42);
      log("classifying with the untrained embedded model (train first for real answers)");
    }
    const text = $<HTMLTextAreaElement>("text").value;
    const [r] = await classifyTexts(device, current.model, current.tokenizer, [text], maxLength());
    state.classification = { label: r.label, score: r.score };
    $("result").textContent = `${r.label} (${(100 * r.score).toFixed(1)}%)`;
  } catch (e) {
    log(`classification failed: ${(e as Error).message}`, true);
  }
}

function download(name: string, data: BlobPart, type: string): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function downloadModel(): Promise<void> {
  if (!current) return;
  const files = await modelFiles(current.model);
  download("config.json", files.config, "application/json");
  download("model.safetensors", files.weights, "application/octet-stream");
  log(`downloaded config.json and model.safetensors (${mib(files.weights.byteLength)})`);
}

async function start(): Promise<void> {
  for (const [mode, what] of Object.entries(BROWSER_MODES)) {
    const opt = document.createElement("option");
    opt.value = mode;
    opt.textContent = `${mode}: ${what}`;
    if (mode === "velora") opt.selected = true;
    $<HTMLSelectElement>("mode").append(opt);
  }
  $("train").addEventListener("click", () => void train());
  $("stop").addEventListener("click", () => {
    stopRequested = true;
    log("stop requested: ending after the current step");
  });
  $("classify").addEventListener("click", () => void classify());
  $("download").addEventListener("click", () => void downloadModel());
  $("data-file").addEventListener("change", () => {
    document.querySelector<HTMLInputElement>('input[name="data"][value="file"]')!.checked = true;
  });
  try {
    const sample = await loadSample();
    $("sample-info").textContent = `${sample.examples.length} sentences (${
      sample.labels.join(" / ")
    }) from ${sample.source}`;
  } catch (e) {
    log((e as Error).message, true);
  }
  try {
    device = await Device.create();
    const info = device.adapterInfo;
    state.adapter = device.describe();
    $("adapter").innerHTML = "";
    const kv = document.createElement("div");
    kv.className = "kv";
    for (
      const [k, v] of [
        ["adapter", device.describe()],
        ["vendor", info.vendor || "–"],
        ["architecture", info.architecture || "–"],
        ["fallback adapter", String(info.isFallbackAdapter ?? false)],
      ]
    ) {
      const a = document.createElement("div");
      a.textContent = k;
      const b = document.createElement("div");
      b.textContent = v;
      kv.append(a, b);
    }
    $("adapter").append(kv);
    showMemory(Object.fromEntries(MEMORY_CATEGORIES.map((c) => [c, 0])));
    state.ready = true;
    log(`WebGPU ready: ${device.describe()}`);
  } catch (e) {
    $("adapter").textContent = `no WebGPU: ${(e as Error).message}`;
    log(`no WebGPU device: ${(e as Error).message}`, true);
  }
}

void start();
