#!/usr/bin/env bash
# One prepared benchmark run for a lent GPU machine (../shared/GPU.md, the device tool's README).
# Untried: no GPU was lent to the session that wrote it. It runs, in one call, our matmul and
# train-step benchmarks on the GPU's WebGPU adapter (Vulkan) and the PyTorch peer on CUDA, and
# writes $OUT/RESULTS_GPU.md (copy it to bench/RESULTS_GPU.md) plus the raw outputs.
#
# Prepare here once (x86-64, from the repository root):
#   echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu
#   xz -T2 -6 -c "$(readlink -f "$(which deno)")" > .gpu/deno.xz          # ~31 MB
#   DENO_DIR=.gpu/deno_dir deno cache bench/train_step.ts bench/matmul.ts  # npm packages, offline there
#   (+ the Vulkan loader debs in .gl, as the device README says)
# Then, only when `status` says the session has a device:
#   run(command: "bash bench/gpu.sh", carry: [".gpu", ".gl"], timeout_s: 560)
# The GPU machine has no network, no Deno and no npm; PyTorch, transformers and PEFT are there.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
log() { echo "[gpu.sh] $*" | tee -a "$OUT/gpu_sh.log"; }

if [ -d .gl ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ ! -x .gpu/deno ]; then xz -dc .gpu/deno.xz > .gpu/deno && chmod +x .gpu/deno; fi
export DENO_DIR="$PWD/.gpu/deno_dir" DENO_NO_UPDATE_CHECK=1
DENO="$PWD/.gpu/deno"
probe='const a = await navigator.gpu.requestAdapter(); console.log(a ? JSON.stringify(a.info) : "none");'
adapter=$($DENO eval "$probe" 2>&1 | tail -1)
if [ "$adapter" = "none" ] || [ -z "$adapter" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  adapter=$($DENO eval "$probe" 2>&1 | tail -1)
fi
log "adapter: $adapter"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia_smi.txt" 2>&1

# Ours: matmul GFLOP/s, then the train step (quick: hardware defaults are batch 32 × 128 small,
# 8 × 128 base, 2 interleaved rounds), modes that matter for the memory/speed trade.
timeout 150 $DENO run -A --cached-only bench/matmul.ts > "$OUT/matmul.txt" 2>&1
log "matmul exit $?"
timeout 240 $DENO run -A --cached-only bench/train_step.ts --quick --no-save \
  --modes full,velora-all,checkpointing,lean > "$OUT/train_step.txt" 2>&1
log "train_step exit $?"
# The PyTorch peer on CUDA, same small-BERT and base shapes as our quick run.
for shape in "--batch 32 --seq 128" \
  "--batch 8 --seq 128 --layers 12 --hidden 768 --heads 12 --intermediate 3072"; do
  PYTHONUNBUFFERED=1 timeout 60 python3 bench/peers/torch_step.py --device cuda --steps 5 \
    --warmup 2 $shape >> "$OUT/torch_cuda.jsonl" 2>> "$OUT/torch_cuda.err"
done
log "torch exit $?"

{
  echo "# GPU benchmark results"
  echo
  echo "Produced by \`bench/gpu.sh\` on the lent GPU machine; adapter: \`$adapter\`."
  echo
  echo "## Train step (\`bench/train_step.ts --quick\`)"
  echo
  sed -n '/^| model/,$p' "$OUT/train_step.txt"
  echo
  echo "## Matmul (\`bench/matmul.ts\`)"
  echo
  echo '```'
  tail -40 "$OUT/matmul.txt"
  echo '```'
  echo
  echo "## PyTorch peer on CUDA (\`bench/peers/torch_step.py --device cuda\`)"
  echo
  echo '```'
  cat "$OUT/torch_cuda.jsonl" 2>/dev/null
  echo '```'
} > "$OUT/RESULTS_GPU.md"
log "wrote $OUT/RESULTS_GPU.md"
