#!/usr/bin/env bash
# Reproduces the two learned starter packs from fixed seeds on this machine:
# one shared autoencoder (22 min), then the two MCDMs side by side (60 min,
# one thread each: on 2 cores that is faster than two threads each), a
# decoder fine-tune alongside them, then export. Prints the time taken.
# RUNS (default ./runs) keeps checkpoints; rerunning resumes the MCDMs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
RUNS=${RUNS:-$repo/runs}
AE_MIN=${AE_MINUTES:-22}
MCDM_MIN=${MCDM_MINUTES:-60}
DEC_MIN=${DECODER_MINUTES:-45}
out=${OUT:-$repo/models/starter/packs}
export PYTHONPATH=$here OMP_NUM_THREADS=1
start=$(date +%s)
mkdir -p "$RUNS"
[ -f "$RUNS/ae/ae.pt" ] || $PY -m likeness_train train-ae --identities 600 --minutes "$AE_MIN" --out "$RUNS/ae"
pids=()
for task in expressions costumes; do
  $PY -m likeness_train train --task "$task" --ae "$RUNS/ae/ae.pt" --identities 1500 \
    --minutes "$MCDM_MIN" --sample-every 500 --resume --out "$RUNS/$task" > "$RUNS/$task.log" 2>&1 &
  pids+=($!)
done
[ -f "$RUNS/ae/ae-ft.pt" ] || $PY -m likeness_train train-decoder --ae "$RUNS/ae/ae.pt" --minutes "$DEC_MIN" \
  --out "$RUNS/ae/ae-ft.pt" > "$RUNS/decoder.log" 2>&1
for p in "${pids[@]}"; do wait "$p"; done
for task in expressions costumes; do
  cp "$RUNS/ae/ae-ft.pt" "$RUNS/$task/ae.pt"
  $PY -m likeness_train export --run "$RUNS/$task" --ae "$RUNS/ae/ae-ft.pt" --fp16-weights --out "$out/cartoon-$task"
done
echo "starter packs in $out: $(( ($(date +%s) - start) / 60 )) min"
