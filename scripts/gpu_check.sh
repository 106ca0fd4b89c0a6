#!/bin/sh
# The GPU check in one command (docs/gpu-check.md): run on the lent GPU machine from anywhere.
# Writes gpu_check.json and gpu_check.md into $OUT (the device tool's output folder) or ./gpu-check.
cd "$(dirname "$0")/.." || exit 1
PY="$(command -v python3 || command -v python)"
HF_HUB_OFFLINE=1 exec "$PY" scripts/gpu_check.py --out "${OUT:-gpu-check}" "$@"
