import { record } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import src from "../../kernels/swiglu.wgsl" with { type: "text" };
import { defineKernels, grid1d, GRID_WGSL } from "../runtime/kernel.ts";
import { elementReader, enableFor, type ReadKind, readKind } from "../runtime/half_read.ts";

/** The kernels, with backward's gate and up declared for how they are kept (f32 or f16 saves). */
function declare(kind: ReadKind) {
  const code = enableFor(kind) + GRID_WGSL + elementReader(kind, "bgate", 1, "ldG") +
    elementReader(kind, "bup", 2, "ldU") + src;
  return defineKernels(`swiglu${kind === "f32" ? "" : `_${kind}`}.wgsl`, code, {
    forward: { bindings: ["gate", "up", "out"], uniforms: ["n"] },
    backward: { bindings: ["bgate", "bup", "bdy", "dgate", "dup"], uniforms: ["n"] },
  });
}
const KERNELS = Object.freeze({
  f32: declare("f32"),
  f16: declare("f16"),
  f16native: declare("f16native"),
});
const K = KERNELS.f32;

/**
 * SwiGLU (Shazeer 2020, "GLU Variants Improve Transformer"), HF `LlamaMLP`'s
 * `act_fn(gate_proj(x)) * up_proj(x)` with `hidden_act` "silu": `silu(gate) · up`, one kernel.
 *
 * Shapes: gate, up f32 [...] (same shape) → [...].
 * Saves (when recording): gate and up (the output is never kept).
 * Backward: dgate = dy · up · σ(g)(1 + g(1 − σ(g))), dup = dy · silu(g), one kernel.
 *
 * @throws {Error} when gate or up is not f32 or their shapes differ.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.dtype !== "f32" || up.dtype !== "f32" || gate.shape.join() !== up.shape.join()) {
    throw new Error(
      `swiglu: gate ${gate.dtype} [${gate.shape}] and up ${up.dtype} [${up.shape}] must be f32 ` +
        "of one shape",
    );
  }
  const device = gate.device;
  const n = gate.numel;
  const out = Tensor.empty(device, gate.shape);
  if (n > 0) {
    K.forward.launch(device, {
      bindings: { gate, up, out },
      uniforms: { n },
      workgroups: grid1d(n),
    });
  }
  return record(out, [gate, up], "SwiGLUBackward", (save) => {
    const sg = save(gate, { half: true });
    const su = save(up, { half: true });
    return (g) => {
      const dg = Tensor.empty(device, gate.shape);
      const du = Tensor.empty(device, up.shape);
      // f16 saves are read as halves (no f32 copies); both saves share one kind (same dtype,
      // same size, same halfSaves scope).
      const [kg, ku] = [sg.kept, su.kept];
      if (kg.dtype !== ku.dtype) throw new Error("swiglu: gate and up were saved differently");
      if (n > 0) {
        KERNELS[readKind(device, kg.dtype)].backward.launch(device, {
          bindings: { bgate: kg, bup: ku, bdy: g, dgate: dg, dup: du },
          uniforms: { n },
          workgroups: grid1d(n),
        });
      }
      return [gate.requiresGrad ? dg : null, up.requiresGrad ? du : null];
    };
  });
}
