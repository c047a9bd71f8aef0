import { MemoryStats } from "./memory.ts";
import { BufferPool } from "./pool.ts";
import type { Bindable } from "./kernel.ts";

/** Adapter facts, as reported by WebGPU. */
export interface AdapterInfo {
  /** Adapter vendor (may be a PCI id or empty). */
  vendor: string;
  /** GPU architecture family (may be empty). */
  architecture: string;
  /** Driver-provided name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** True for software adapters (llvmpipe, lavapipe, SwiftShader). */
  isFallbackAdapter: boolean;
}

/**
 * The two families of matmul kernels (src/ops/matmul_kernel.ts): "register" — large register
 * tiles per invocation, 8-invocation workgroups, no workgroup memory (tuned for software adapters:
 * Mesa llvmpipe/lavapipe, SwiftShader); "shared" — 16×16-invocation workgroups computing 64×64
 * tiles of C from K-chunks staged in workgroup memory (for hardware GPUs).
 */
export type MatmulFamily = "register" | "shared";

/** Options for {@linkcode Device.create}. */
export interface DeviceOptions {
  /** Passed to `navigator.gpu.requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /**
   * The matmul kernel family every `launchMatmul` on this device uses unless a launch overrides
   * it. Default: "register" on a software adapter (`isFallbackAdapter`), "shared" otherwise.
   */
  matmulFamily?: MatmulFamily;
  /**
   * Request the `shader-f16` feature when the adapter offers it (default true). False forces the
   * kernels' f32-arithmetic fallbacks that read packed halves with `unpack2x16float` (the same
   * bytes), e.g. to test them on an adapter that has the feature.
   */
  shaderF16?: boolean;
  /** Dispatches recorded before an automatic submit (bounds encoder memory). Default 2048. */
  maxDispatchesPerSubmit?: number;
}

// Raised limits: the defaults (128 MiB storage binding, 16 KiB workgroup memory) are too small
// for BERT-base attention scores at batch 32 and for the large matmul tiles.
const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxStorageBuffersPerShaderStage",
] as const;

const MAX_UNIFORM_CACHE = 8192;
/** Bytes of per-launch values one batch (the launches between two flushes) may queue. */
const LAUNCH_BYTES = 256 * 1024;

/**
 * A WebGPU adapter + device with the pieces training needs: a pipeline cache (each WGSL variant is
 * compiled once), a buffer pool, an immutable uniform cache, memory accounting by category, and a
 * command encoder that batches every kernel launch and copy until {@linkcode Device.flush} or a
 * readback. Kernels are declared and launched through `defineKernel` (src/runtime/kernel.ts);
 * buffer copies through {@linkcode Device.copy}.
 *
 * WebGPU errors (validation, out-of-memory, device loss) are collected as they happen and thrown
 * with their reason from the next {@linkcode Device.sync} or readback.
 */
export class Device {
  /** The WebGPU device. */
  readonly gpu: GPUDevice;
  /** Adapter facts (vendor, architecture, description, isFallbackAdapter). */
  readonly adapterInfo: AdapterInfo;
  /** Live GPU bytes we allocated, by category. */
  readonly memory: MemoryStats = new MemoryStats();
  /** Limits granted to the device. */
  readonly limits: GPUSupportedLimits;
  /**
   * The matmul kernel family launches use by default: `DeviceOptions.matmulFamily`, or by adapter
   * ("register" for software adapters, "shared" for hardware GPUs).
   */
  readonly matmulFamily: MatmulFamily;
  /**
   * Whether the device was created with the `shader-f16` feature (the adapter offers it and
   * `DeviceOptions.shaderF16` is not false): kernels may then declare `enable f16;` and read
   * packed-f16 tensors as `array<f16>` / `array<vec4<f16>>` (same bytes as the packed u32 words).
   */
  readonly shaderF16: boolean;
  /** @internal */
  readonly pool: BufferPool;

  readonly #modules = new Map<
    string,
    { module: GPUShaderModule; pipelines: Map<string, GPUComputePipeline> }
  >();
  #pipelineCount = 0;
  readonly #kernelPipelines = new WeakMap<object, Map<string, GPUComputePipeline>>();
  readonly #uniforms = new Map<string, GPUBuffer>();
  readonly #retiredUniforms: GPUBuffer[] = [];
  readonly #maxDispatches: number;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pending = 0;
  #errors: string[] = [];
  #lost: string | null = null;
  #dummy: GPUBuffer | null = null;
  #uniformsCreated = 0;
  readonly #launchWords = new Uint32Array(LAUNCH_BYTES / 4);
  #launchBytes = 0;
  #launchBuffer: GPUBuffer | null = null;
  #stagingCreated = 0;

  private constructor(gpu: GPUDevice, info: AdapterInfo, options: DeviceOptions) {
    this.gpu = gpu;
    this.adapterInfo = info;
    this.limits = gpu.limits;
    this.matmulFamily = options.matmulFamily ?? (info.isFallbackAdapter ? "register" : "shared");
    this.shaderF16 = gpu.features.has("shader-f16");
    this.pool = new BufferPool(gpu, this.memory);
    this.#maxDispatches = options.maxDispatchesPerSubmit ?? 2048;
    gpu.addEventListener("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      if (this.#errors.length < 10) this.#errors.push(`${err.constructor.name}: ${err.message}`);
    });
    gpu.lost.then((info) => {
      this.#lost = `${info.reason}: ${info.message}`;
    });
  }

  /**
   * Requests an adapter and a device with raised limits.
   * @throws {Error} when WebGPU is missing or no adapter is found, saying what to install.
   */
  static async create(options: DeviceOptions = {}): Promise<Device> {
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) {
      throw new Error(
        "WebGPU is not available (navigator.gpu is undefined). Use Deno ≥ 2 (WebGPU is built in) " +
          "or a browser with WebGPU enabled.",
      );
    }
    const family = options.matmulFamily;
    if (family !== undefined && family !== "register" && family !== "shared") {
      throw new Error(
        `Device.create: matmulFamily must be "register" or "shared", got ${JSON.stringify(family)}`,
      );
    }
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter) {
      throw new Error(
        "No WebGPU adapter found. On Linux without a GPU install Mesa's software drivers " +
          "(`apt-get install -y mesa-vulkan-drivers libgl1-mesa-dri`); with a GPU, install its " +
          "Vulkan driver. In a browser, enable WebGPU (chrome://flags/#enable-unsafe-webgpu).",
      );
    }
    const requiredLimits: Record<string, number> = {};
    for (const name of RAISED_LIMITS) {
      const value = adapter.limits[name];
      if (typeof value === "number") requiredLimits[name] = value;
    }
    const requiredFeatures: GPUFeatureName[] =
      options.shaderF16 !== false && adapter.features.has("shader-f16") ? ["shader-f16"] : [];
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    const raw = adapter.info;
    const info: AdapterInfo = {
      vendor: raw.vendor,
      architecture: raw.architecture,
      description: raw.description,
      isFallbackAdapter: (raw as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
        /llvmpipe|lavapipe|swiftshader/i.test(raw.description),
    };
    return new Device(device, info, options);
  }

  /** A one-line description of the adapter, for logs. */
  describe(): string {
    const { description, vendor, architecture, isFallbackAdapter } = this.adapterInfo;
    const name = description || [vendor, architecture].filter(Boolean).join(" ") || "unknown";
    return `${name}${isFallbackAdapter ? " (software)" : ""}${
      this.shaderF16 ? ", shader-f16" : ""
    }`;
  }

  /**
   * @internal The compute pipeline for `code` with `constants` (WGSL `override`s) and
   * `entryPoint`, compiled once and cached by the code itself (a shader module per distinct
   * source), so two sources can never share a cache entry. Kernels come through
   * `Kernel.launch` (src/runtime/kernel.ts), which calls this once per constant set.
   * @param label names the source in WebGPU labels and errors (e.g. its file name).
   */
  pipeline(
    label: string,
    code: string,
    constants: Record<string, number> = {},
    entryPoint = "main",
  ): GPUComputePipeline {
    let entry = this.#modules.get(code);
    if (!entry) {
      entry = { module: this.gpu.createShaderModule({ code, label }), pipelines: new Map() };
      this.#modules.set(code, entry);
    }
    const names = Object.keys(constants).sort();
    const id = `${entryPoint}:${names.map((n) => `${n}=${constants[n]}`).join(",")}`;
    let p = entry.pipelines.get(id);
    if (!p) {
      p = this.gpu.createComputePipeline({
        label: `${label}:${id}`,
        layout: "auto",
        compute: { module: entry.module, entryPoint, constants },
      });
      entry.pipelines.set(id, p);
      this.#pipelineCount++;
    }
    return p;
  }

  /**
   * @internal The pipeline of `kernel` for the constant values `key`, built by `build` once per
   * device (a fast path in front of {@linkcode Device.pipeline} for `Kernel.launch`).
   */
  kernelPipeline(kernel: object, key: string, build: () => GPUComputePipeline): GPUComputePipeline {
    let byKey = this.#kernelPipelines.get(kernel);
    if (!byKey) this.#kernelPipelines.set(kernel, byKey = new Map());
    let p = byKey.get(key);
    if (!p) byKey.set(key, p = build());
    return p;
  }

  /** Number of distinct pipelines compiled so far. */
  get pipelineCount(): number {
    return this.#pipelineCount;
  }

  /**
   * @internal An immutable uniform buffer holding `data`, cached by content: training repeats the same
   * shapes every step, so after the first step no uniform is written at all, and an immutable
   * buffer can never be overwritten while queued work still reads it.
   */
  uniform(data: ArrayBuffer | ArrayBufferView): GPUBuffer {
    const bytes = data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let key = "";
    const words = new Uint32Array(
      bytes.buffer.slice(
        bytes.byteOffset,
        bytes.byteOffset + bytes.byteLength - (bytes.byteLength % 4),
      ),
    );
    for (let i = 0; i < words.length; i++) key += words[i].toString(36) + ",";
    let buf = this.#uniforms.get(key);
    if (buf) {
      // Refresh LRU position.
      this.#uniforms.delete(key);
      this.#uniforms.set(key, buf);
      return buf;
    }
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    buf = this.gpu.createBuffer({
      size,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
      label: "params",
    });
    new Uint8Array(buf.getMappedRange()).set(bytes);
    buf.unmap();
    this.memory.uniformBytes += size;
    this.#uniformsCreated++;
    this.#uniforms.set(key, buf);
    if (this.#uniforms.size > MAX_UNIFORM_CACHE) {
      const oldest = this.#uniforms.keys().next().value as string;
      this.#retiredUniforms.push(this.#uniforms.get(oldest)!);
      this.#uniforms.delete(oldest);
    }
    return buf;
  }

  /**
   * GPU buffers created so far: storage (pool misses), uniform and readback staging buffers. In a
   * steady training loop only readbacks add to it after the first step: storage buffers come
   * from the pool and uniforms are cached by value, so growth per step in a loop without
   * readbacks means a per-step value is passed as a uniform (pass it in a reused buffer).
   */
  get buffersCreated(): number {
    return this.pool.created + this.#uniformsCreated + this.#stagingCreated;
  }

  /** @internal A 16-byte storage buffer to bind where a kernel's optional input is absent. */
  get dummyBuffer(): GPUBuffer {
    return this.#dummy ??= this.gpu.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      label: "dummy",
    });
  }

  /**
   * @internal Queues per-launch values (u32 words) for a kernel of the current batch and returns
   * the binding of their slot in {@linkcode Device.launchWordsBuffer} (each slot starts at the
   * storage-offset alignment, so the kernel reads its words from index 0 and its uniform stays
   * the same from call to call). Values that change on every call (a dropout seed) go here
   * instead of into a uniform: uniforms are cached by value, so each new value would be a new
   * buffer. The words are uploaded once, at the flush that submits the batch (a queue write
   * before that submit and after every earlier one, so no batch sees another's).
   */
  pushLaunchWords(words: readonly number[]): GPUBufferBinding {
    const align = this.limits.minStorageBufferOffsetAlignment;
    const size = Math.max(4, words.length * 4);
    if (size > LAUNCH_BYTES) {
      throw new Error(`${words.length} launch words exceed ${LAUNCH_BYTES} bytes`);
    }
    let offset = Math.ceil(this.#launchBytes / align) * align;
    if (offset + size > LAUNCH_BYTES) {
      this.flush();
      offset = 0;
    }
    this.#launchWords.set(words, offset / 4);
    this.#launchBytes = offset + size;
    return { buffer: this.launchWordsBuffer, offset, size };
  }

  /** @internal The storage buffer holding the current batch's per-launch words. */
  get launchWordsBuffer(): GPUBuffer {
    if (!this.#launchBuffer) {
      this.#launchBuffer = this.gpu.createBuffer({
        size: LAUNCH_BYTES,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        label: "launch-words",
      });
      this.memory.uniformBytes += LAUNCH_BYTES;
      this.#uniformsCreated++;
    }
    return this.#launchBuffer;
  }

  /** @internal The compute pass that kernel launches go into (opened on demand). */
  computePass(): GPUComputePassEncoder {
    this.#assertAlive();
    if (!this.#pass) {
      this.#encoder ??= this.gpu.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    return this.#pass;
  }

  /** The command encoder for copies (closes the open compute pass first). */
  #commandEncoder(): GPUCommandEncoder {
    this.#assertAlive();
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    return this.#encoder ??= this.gpu.createCommandEncoder();
  }

  /**
   * Queues a copy of `bytes` bytes from `src` (at `srcOffset`) to `dst` (at `dstOffset`), in
   * order with the queued kernel launches. Offsets and sizes must be multiples of 4.
   * @throws {Error} when a range lies outside its buffer.
   */
  copy(src: Bindable, dst: Bindable, bytes: number, srcOffset = 0, dstOffset = 0): void {
    const from = "buffer" in src ? src.buffer : src;
    const to = "buffer" in dst ? dst.buffer : dst;
    if (srcOffset + bytes > from.size || dstOffset + bytes > to.size) {
      throw new Error(
        `copy: ${bytes} bytes from offset ${srcOffset} of a ${from.size}-byte buffer to offset ` +
          `${dstOffset} of a ${to.size}-byte buffer do not fit`,
      );
    }
    if (bytes === 0) return;
    this.#commandEncoder().copyBufferToBuffer(from, srcOffset, to, dstOffset, bytes);
    this.noteQueued();
  }

  /** @internal Counts a recorded command and submits when the batch is full. */
  noteQueued(): void {
    if (++this.#pending >= this.#maxDispatches) this.flush();
  }

  /** Submits all queued commands without waiting for them. */
  flush(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    if (this.#launchBytes) {
      const words = this.#launchBytes / 4;
      this.gpu.queue.writeBuffer(this.launchWordsBuffer, 0, this.#launchWords, 0, words);
      this.#launchBytes = 0;
    }
    if (this.#encoder) {
      this.gpu.queue.submit([this.#encoder.finish()]);
      this.#encoder = null;
      this.#pending = 0;
    }
    if (this.#retiredUniforms.length) {
      for (const b of this.#retiredUniforms) {
        this.memory.uniformBytes -= b.size;
        b.destroy();
      }
      this.#retiredUniforms.length = 0;
    }
  }

  /**
   * Writes `data` into `buffer` at `offset` bytes. Queued commands are submitted first: a queue
   * write runs before any later submit, so it must not overtake work that still reads the buffer.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.flush();
    this.gpu.queue.writeBuffer(
      buffer,
      offset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /**
   * Copies `bytes` bytes of `buffer` from `offset` back to the CPU (submits queued work first).
   * @throws {Error} with the WebGPU reason if an error happened since the last check.
   */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.gpu.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "readback",
    });
    this.memory.stagingBytes += size;
    this.#stagingCreated++;
    this.#commandEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      this.#throwErrors();
      return staging.getMappedRange().slice(0, bytes);
    } catch (e) {
      this.#throwErrors();
      throw e;
    } finally {
      staging.destroy();
      this.memory.stagingBytes -= size;
    }
  }

  /**
   * Waits until all queued GPU work is done.
   * @throws {Error} with the WebGPU reason if a validation error, out-of-memory or device loss
   * happened since the last check.
   */
  async sync(): Promise<void> {
    this.flush();
    await this.gpu.queue.onSubmittedWorkDone();
    this.#throwErrors();
  }

  /** Frees pooled buffers (after submitting queued work). */
  emptyCache(): void {
    this.flush();
    this.pool.clear();
  }

  /** Releases the GPU device; the Device is unusable afterwards. */
  destroy(): void {
    this.flush();
    this.pool.clear();
    for (const b of this.#uniforms.values()) {
      this.memory.uniformBytes -= b.size;
      b.destroy();
    }
    this.#uniforms.clear();
    this.#launchBuffer?.destroy();
    this.gpu.destroy();
  }

  #assertAlive(): void {
    if (this.#lost) throw new Error(`WebGPU device lost (${this.#lost})`);
  }

  #throwErrors(): void {
    this.#assertAlive();
    if (this.#errors.length) {
      const msg = this.#errors.join("\n");
      this.#errors = [];
      throw new Error(`WebGPU error: ${msg}`);
    }
  }
}
