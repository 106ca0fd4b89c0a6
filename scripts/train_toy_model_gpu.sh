#!/bin/bash
# One-shot toy-model v2 training on a lent GPU machine (minutes there are worth days of the 2-core CPU).
# Run from the repository root; everything it writes goes under WORK (default $OUT/toy_train, which the
# device tool brings back): the VAE, the UNet checkpoint (resumable here or on a CPU with
# scripts/train_toy_model.py --work WORK) and the exported model folder WORK/export.
#   bash scripts/train_toy_model_gpu.sh [WORK] [UNET_MINUTES]
# Not yet run on a GPU (no device was lent to the session that wrote it, 2026-12-04).
set -euo pipefail
WORK=${1:-${OUT:-tmp}/toy_train}
MINUTES=${2:-6}
PY=${PYTHON:-python}
if ! $PY -c "import diffusers, transformers, safetensors" 2>/dev/null; then
  echo "train_toy_model_gpu: diffusers, transformers and safetensors are needed on this machine: carry a venv with them" >&2
  exit 2
fi
export HF_HUB_OFFLINE=1 PYTHONPATH=$PWD TOY_POOL=${TOY_POOL:-8192} TOY_LOG_EVERY=100 TOY_CKPT_EVERY=1000
mkdir -p "$WORK"
if [ ! -f "$WORK/vae_done" ]; then
  $PY scripts/train_toy_model.py --stage vae --minutes 2 --batch 64 --device cuda --threads 4 --work "$WORK"
  touch "$WORK/vae_done"
fi
$PY scripts/train_toy_model.py --stage unet --minutes "$MINUTES" --batch 128 --lr 1e-3 --device cuda --threads 4 \
  --work "$WORK" --export "$WORK/export"
$PY benchmarks/toy_model_quality.py --model "$WORK/export" --baseline "" --prompts 48 --sheet "$WORK/samples.png" || true
