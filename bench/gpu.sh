#!/usr/bin/env bash
# The benchmark on a GPU machine, in one call of a few minutes (it stops itself after 9 minutes).
# On a machine without a GPU it runs the CPU benchmark, with the GPU rows saying why they were skipped.
#
#   bench/gpu.sh [bench options]      results: $OUT (when set) or bench/results/
#
# GPU rows: TF.js WebGPU through Dawn (Vulkan on NVIDIA), tfjs-node-gpu when its libraries are
# installed, and ONNX Runtime's CUDA provider (when installed) or its WebGPU provider. Every section
# runs, the fine-tune one included: our step against PyTorch's (when python3-torch is installed; the
# peer stays on the CPU), 3 epochs on 512 images end to end on both sides (tl.fit's frozen part
# takes ONNX Runtime's first working provider), and head epochs through tl.fit.
#
# Where it runs from, in this order:
# - an unpacked platform package (`unzip transfer-lab-linux-x64-<v>.vsix; bash extension/bench/gpu.sh`):
#   the package's own bundles and engines, no node_modules, no network;
# - a checkout given a platform package (`bench/gpu.sh transfer-lab-linux-x64-<v>.vsix`, or one
#   lying in the checkout's top folder when there is no node_modules): unpacks it and runs as above;
# - a checkout with node_modules: `node bench/run.mjs`.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$here/bench/results}"
mkdir -p "$out"

vsix=""
if [ "${1:-}" != "" ] && [ "${1%.vsix}" != "$1" ]; then vsix="$1"; shift; fi
if [ -z "$vsix" ] && [ ! -f "$here/dist/engines.json" ] && [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  vsix="$(ls "$here"/transfer-lab-linux-x64-*.vsix 2>/dev/null | head -1)"
fi
if [ -n "$vsix" ]; then
  dir="$(mktemp -d)"
  echo "unpacking $vsix into $dir"
  if command -v unzip >/dev/null 2>&1; then unzip -q "$vsix" -d "$dir"
  elif command -v python3 >/dev/null 2>&1; then python3 -m zipfile -e "$vsix" "$dir"
  else node --input-type=module -e "import('$here/scripts/vsix-contents.mjs').then((m) => m.extractZip(process.argv[1], process.argv[2]))" "$vsix" "$dir"
  fi || { echo "gpu.sh: could not unpack $vsix"; exit 1; }
  OUT="$out" exec bash "$dir/extension/bench/gpu.sh" "$@"
fi

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
# The PyTorch peer: bench.ts defaults to /usr/bin/python3; GPU images often keep torch in another
# python3 on PATH.
case " $* " in *" --python="*) ;; *)
  py="$(command -v python3 || true)"
  [ -n "$py" ] && "$py" -c 'import torch, torchvision' >/dev/null 2>&1 && args+=(--python="$py") ;;
esac
# Dawn wants a runtime dir; headless machines often have none.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

if [ -f "$here/dist/engines.json" ] && [ -f "$here/dist/bench.js" ]; then
  echo "== platform package $(cat "$here/dist/engines.json" | tr -d '\n ' )"
  timeout 540 node --max-old-space-size=8192 "$here/dist/bench.js" --root="$here" "${args[@]}" "$@"
elif [ -d "$here/node_modules/onnxruntime-node" ]; then
  timeout 540 node "$here/bench/run.mjs" "${args[@]}" "$@"
else
  pack="$here/bench/.out/gpu-pack.tar.gz"
  if [ ! -f "$pack" ]; then
    echo "no node_modules, no platform package and no $pack: give a transfer-lab-linux-x64-<version>.vsix (npm run package -- --target linux-x64), or run 'npm ci'"
    exit 1
  fi
  dir="$(mktemp -d)"
  tar xzf "$pack" -C "$dir"
  timeout 540 node --max-old-space-size=8192 "$dir/pack/bench/.out/bench.cjs" --root="$dir/pack" "${args[@]}" "$@"
fi
status=$?
[ $status = 124 ] && echo "gpu.sh: stopped after 540 s; the rows measured so far are in ${out}/latest.partial.json"
exit $status
