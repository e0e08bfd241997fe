#!/usr/bin/env bash
# The benchmark on a GPU machine, in one call of a few minutes (it stops itself after 9 minutes).
# On a machine without a GPU it runs the CPU benchmark, with the GPU rows saying why they were skipped.
#
#   bench/gpu.sh [bench options]      results: $OUT (when set) or bench/results/
#
# GPU rows: TF.js WebGPU through Dawn (Vulkan on NVIDIA), tfjs-node-gpu when its libraries are
# installed, and ONNX Runtime's CUDA provider (when installed) or its WebGPU provider.
# From a checkout with node_modules it runs `node bench/run.mjs`. Without node_modules (a machine
# with no network) it unpacks bench/.out/gpu-pack.tar.gz, made beforehand by `node bench/run.mjs --pack`.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$here/bench/results}"
mkdir -p "$out"

gpu=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && gpu=1

{
  echo "== $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
  if command -v node >/dev/null 2>&1; then echo "node $(node --version)"; else echo "node: not found"; fi
  if [ "$gpu" = 1 ]; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; else echo "GPU: none (no working nvidia-smi): CPU rows only"; fi
  echo "== Vulkan (Dawn needs the loader libvulkan.so.1 and the NVIDIA ICD)"
  ldconfig -p 2>/dev/null | grep -E 'libvulkan\.so\.1|libGLX_nvidia\.so|libnvidia-glcore' | head -5 || true
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null || echo "no Vulkan ICD folders"
  echo "== CUDA libraries (ONNX Runtime's CUDA provider needs CUDA 12 + cuDNN 9; tfjs-node-gpu needs CUDA 11.2 + cuDNN 8.1)"
  ldconfig -p 2>/dev/null | grep -E 'libcudart\.so|libcudnn\.so|libcublas\.so' | head -6 || true
} 2>&1 | tee "$out/gpu-env.txt"

command -v node >/dev/null 2>&1 || exit 1
args=(--out="$out/latest.json" --finetune-cap=60)
[ "$gpu" = 1 ] && args+=(--gpu)
# Dawn wants a runtime dir; headless machines often have none.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
export npm_config_onnxruntime_node_install=skip

if [ -d "$here/node_modules/onnxruntime-node" ]; then
  timeout 540 node "$here/bench/run.mjs" "${args[@]}" "$@"
else
  pack="$here/bench/.out/gpu-pack.tar.gz"
  if [ ! -f "$pack" ]; then
    echo "no node_modules and no $pack: run 'npm ci' (with network) or make the pack with 'node bench/run.mjs --pack'"
    exit 1
  fi
  dir="$(mktemp -d)"
  tar xzf "$pack" -C "$dir"
  timeout 540 node --max-old-space-size=8192 "$dir/pack/bench/.out/bench.cjs" --root="$dir/pack" "${args[@]}" "$@"
fi
status=$?
[ $status = 124 ] && echo "gpu.sh: stopped after 540 s; rows measured so far are lost (rerun with --only=...)"
exit $status
