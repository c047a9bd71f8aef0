// The kernels must pass on both of Mesa's software adapters: lavapipe (Vulkan, Deno's default
// here and in CI; offers shader-f16) and llvmpipe through GL (no shader-f16). The full suite runs
// on the default one; this test reruns the kernel-layer, matmul and packed-f16 test files in a
// subprocess on the GL backend (DENO_WEBGPU_BACKEND=gl), so the f32 fallbacks of the f16 paths
// and the GL shader translation of every matmul variant they use are tested too.
import assert from "node:assert/strict";

const FILES = [
  "tests/kernel.test.ts",
  "tests/matmul_kernel.test.ts",
  "tests/matmul_f16.test.ts",
  "tests/ops_half.test.ts",
];

Deno.test("kernel, matmul and half tests pass on the GL backend (DENO_WEBGPU_BACKEND=gl)", async () => {
  if (Deno.env.get("DENO_WEBGPU_BACKEND")) {
    console.log(
      `skipped: this run already selects DENO_WEBGPU_BACKEND=${
        Deno.env.get("DENO_WEBGPU_BACKEND")
      }, so the files above run on it directly`,
    );
    return;
  }
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", ...FILES],
    cwd: root,
    env: { DENO_WEBGPU_BACKEND: "gl", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success && /No WebGPU adapter found/.test(text)) {
    console.log("skipped: no GL adapter here (install libgl1-mesa-dri / libegl1 for llvmpipe)");
    return;
  }
  const summary = text.match(/(ok|FAILED) \| \d+ passed.*\n?/)?.[0].trim() ?? "no summary";
  assert(out.success, `GL run of ${FILES.join(" ")} failed (${summary}):\n${text.slice(-4000)}`);
  console.log(`GL backend: ${summary}`);
});
