#!/bin/bash
# Everything a lent GPU machine is for, in one command (the lease is minutes, one start costs one or two):
#   1. train the toy model's UNet + text encoders on the GPU for TOY_MIN minutes, continuing from the
#      exported folder TOY_FROM (a CPU run's export; its VAE and latent space are kept), 16x the CPU's
#      batch, scenes rendered by the machine's cores; the exported folder comes back as toy_model.tar;
#   2. while the GPU check runs, the quality gate of that model on the CPU (toy_quality.txt, a sample sheet);
#   3. scripts/gpu_check.py on the full-size SDXL architecture within CHECK_S seconds (gpu_check.json/.md).
# Carry gpu-wheels/ (make gpu-wheels PYTHONS=3.12, numpy left out) and TOY_FROM. At most 8 files come back.
#   TOY_FROM=.toy-from TOY_MIN=4.5 CHECK_S=200 bash scripts/gpu_lease.sh
# DEVICE=cpu with tiny minutes rehearses it here (gpu_check then runs --dry-run).
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
TOY_FROM=${TOY_FROM:-.toy-from}
TOY_MIN=${TOY_MIN:-4.5}
CHECK_S=${CHECK_S:-200}
WORK=${WORK:-/tmp/toy_train}
LOG="$OUT/lease.log"
if [ -d gpu-wheels ] && ! $PY -c "import diffusers" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site gpu-wheels/*.whl >>"$LOG" 2>&1 \
    || { echo "gpu_lease: installing gpu-wheels failed (see $LOG)"; tail -5 "$LOG"; exit 2; }
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
{ date; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; $PY -c "import sys, torch, diffusers, transformers; print(sys.version.split()[0], torch.__version__, diffusers.__version__, transformers.__version__)"; nproc; } >>"$LOG" 2>&1
echo "gpu_lease: toy model, $TOY_MIN min on $DEVICE"
rm -rf "$WORK"
TOY_POOL=${TOY_POOL:-32768} TOY_WORKERS=${TOY_WORKERS:-12} TOY_REFRESH=${TOY_REFRESH:-64} TOY_LOG_EVERY=${TOY_LOG_EVERY:-250} \
  TOY_CKPT_EVERY=${TOY_CKPT_EVERY:-1000} timeout $(awk "BEGIN{print int($TOY_MIN*60+150)}") \
  $PY scripts/train_toy_model.py --stage unet --continue-from "$TOY_FROM" --work "$WORK" --minutes "$TOY_MIN" \
  --batch ${TOY_BATCH:-256} --lr ${TOY_LR:-6e-4} --device "$DEVICE" --threads 4 --export "$WORK/final" >>"$LOG" 2>&1
echo "gpu_lease: toy training exit $?"
cp "$WORK/train.log" "$OUT/toy_train.log" 2>/dev/null
FINAL="$WORK/final"; [ -f "$FINAL/model_index.json" ] || FINAL="$WORK/export"
if [ -f "$FINAL/model_index.json" ]; then
  tar -C "$(dirname "$FINAL")" -cf "$OUT/toy_model.tar" "$(basename "$FINAL")"
  (OMP_NUM_THREADS=4 timeout $((CHECK_S + 30)) $PY benchmarks/toy_model_quality.py --model "$FINAL" --baseline "" \
     --threads 4 --sheet "$OUT/toy_samples.png" > "$OUT/toy_quality.txt" 2>&1) &
fi
echo "gpu_lease: GPU check, $CHECK_S s"
CHECK_ARGS=(--out "$OUT" --budget "$CHECK_S")
[ "$DEVICE" = cuda ] || CHECK_ARGS+=(--dry-run)
timeout $((CHECK_S + 60)) $PY scripts/gpu_check.py "${CHECK_ARGS[@]}" > "$OUT/gpu_check.log" 2>&1
echo "gpu_lease: GPU check exit $?"
wait
grep -v "Writing\|Loading" "$OUT/toy_quality.txt" 2>/dev/null | tail -16
tail -3 "$OUT/toy_train.log" 2>/dev/null
cat "$OUT/gpu_check.md" 2>/dev/null
ls -la "$OUT"
