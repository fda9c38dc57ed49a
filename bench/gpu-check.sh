#!/usr/bin/env bash
# GPU check for the torch engine, for a machine with PyTorch + torchvision + CUDA and neither
# Node nor registry access: copy the repository (engines/torch and bench/ are all it needs) and
#
#   bash bench/gpu-check.sh [--repeats 3] [--precision bf16] [--cpu]
#
# For each model it runs the torch engine's training loop (engines/torch/durable_vision_torch/
# train.py, exactly what the TypeScript adapter drives: uint8 data, per-batch scaling, schedule,
# loss guard, accuracy, checkpoint bytes every epoch) beside a bare PyTorch loop on the same
# model, batch, data size and device, and prints images/s and the ratio engine / bare (target
# >= 0.90, i.e. overhead <= 10%), with the card's name. Best of --repeats runs each.
# --cpu runs a short version on the CPU (to check the script where there is no GPU).
# PYTHON picks the interpreter (default python3); .tools/torch/env.json is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=3
PRECISION=()
DEVICE=cuda
CPU=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeats) REPEATS="$2"; shift 2 ;;
    --precision) PRECISION=(--precision "$2"); shift 2 ;;
    --cpu) CPU=1; DEVICE=cpu; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (expected --repeats N, --precision bf16, --cpu)" >&2; exit 2 ;;
  esac
done
PYTHON="${PYTHON:-python3}"
if [[ -f .tools/torch/env.json ]]; then
  # The project's unpacked Debian PyTorch (scripts/install-torch.mjs), when it is there.
  eval "$("$PYTHON" -c 'import json,shlex; e=json.load(open(".tools/torch/env.json")); print("export PYTHONPATH=%s LD_LIBRARY_PATH=%s; PYTHON=%s" % (shlex.quote(e["PYTHONPATH"]), shlex.quote(e["LD_LIBRARY_PATH"]), shlex.quote(e.get("PYTHON","python3"))))')"
fi
export PYTHONPATH="$PWD/engines/torch${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
if ! "$PYTHON" -c 'import torch, torchvision' 2>/dev/null; then
  echo "gpu-check: $PYTHON cannot import torch and torchvision" >&2; exit 3
fi
if [[ $CPU == 0 ]] && ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu-check: torch.cuda.is_available() is False (use --cpu to try the script on the CPU)" >&2; exit 4
fi
"$PYTHON" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "| card:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (cpu)")'
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

# arch size channels batch steps(gpu) steps(cpu)
CASES=(
  "small-cnn 28 1 256 300 20"
  "mobilenet-v3-small 96 3 128 150 4"
  "resnet-18 64 3 128 150 4"
)
printf '%-20s %6s %6s %12s %12s %7s\n' model size batch engine_img/s bare_img/s ratio
for c in "${CASES[@]}"; do
  read -r arch size ch batch gsteps csteps <<<"$c"
  steps=$gsteps; [[ $CPU == 1 ]] && steps=$csteps && batch=32
  best_e=0; best_b=0
  for ((r = 0; r < REPEATS; r++)); do
    line=$("$PYTHON" -m durable_vision_torch.bench --arch "$arch" --size "$size" --channels "$ch" --batch "$batch" --steps "$steps" --device "$DEVICE" "${PRECISION[@]}")
    read -r e b <<<"$("$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["engineImgPerS"], d["bareImgPerS"])' "$line")"
    best_e=$("$PYTHON" -c "print(max($best_e, $e))"); best_b=$("$PYTHON" -c "print(max($best_b, $b))")
  done
  "$PYTHON" -c "print('%-20s %6s %6s %12.0f %12.0f %6.3fx' % ('$arch', '$size', '$batch', $best_e, $best_b, $best_e / $best_b))"
done
echo "ratio = torch engine / bare PyTorch loop, best of $REPEATS; target >= 0.90 (overhead <= 10%)"
