#!/usr/bin/env bash
# Trains detector variants side by side on one CUDA GPU (the lent device machine), from the dev-data cache that
# scripts/seg_prepare_detector_data.ts writes to .cache/seg-train. Writes OUT/<name>.pt (state dicts) and OUT/<name>.log;
# export a chosen one here with: /usr/bin/python3 scripts/seg_train_detector.py --init OUT/<name>.pt --iters 0 [--width W]
set -u
OUT=${OUT:-/tmp/gpu-train}
LIMIT=${LIMIT:-300}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
run() {
  local name=$1; shift
  python3 -u scripts/seg_train_detector.py --device cuda --workers 4 --iters 1000000 --time-limit "$LIMIT" \
    --eval-every 3000 --out "/tmp/$name.onnx" --state-out "$OUT/$name.pt" "$@" >"$OUT/$name.log" 2>&1 &
}
ROUND=${ROUND:-2}
if [ "$ROUND" = 1 ]; then
  # Round 1 (2026-11-26, H200, 300 s each): bench/detect.ts --split even put crop 128 ahead (BCD F1 0.886).
  run a96 --crop 96 --batch 32 --pool 16000 --seed 7
  run b128 --crop 128 --batch 32 --pool 12000 --seed 8
  run c96w15 --crop 96 --batch 32 --pool 16000 --seed 9 --width 1.5
  run d96w2 --crop 96 --batch 64 --pool 16000 --seed 10 --width 2
else
  # Round 2: more context per crop, and other seeds of the round-1 winner.
  run e160 --crop 160 --batch 32 --pool 10000 --seed 8
  run f192 --crop 192 --batch 24 --pool 8000 --seed 8
  run g128 --crop 128 --batch 32 --pool 12000 --seed 11
  run h128 --crop 128 --batch 32 --pool 12000 --seed 12
fi
wait
grep -H "done:\|held-out" "$OUT"/*.log | tail -n 40
