#!/usr/bin/env bash
# Reproduces the two learned starter packs from fixed seeds, the way they were
# made on a 2-core machine (about 95 minutes of wall time):
#   1. one autoencoder shared by both packs (22 min);
#   2. the two MCDMs side by side, one thread each (on 2 cores that beats two
#      threads each), 60 min on 1,500 training identities, with the decoder
#      fine-tuned alongside (encoder frozen, so the latent space stays);
#   3. both MCDMs resumed to 73 min on 400 identities (the encoded set is
#      rendered again) while the decoder gets 11 more minutes;
#   4. export with float16-stored weights, then `likeness eval --calibrate`
#      on validation identities writes lambda and the mask normalisation.
# RUNS (default ./runs) keeps checkpoints. Needs the likeness binary for step 4
# (LIKENESS, default bin/likeness; `make starter-packs` builds it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
L=${LIKENESS:-$repo/bin/likeness}
RUNS=${RUNS:-$repo/runs}
out=${OUT:-$repo/models/starter/packs}
export PYTHONPATH=$here OMP_NUM_THREADS=1
start=$(date +%s)
mkdir -p "$RUNS"
start_both() { # identities minutes: both MCDMs in the background, pids in $pids
  pids=()
  for task in expressions costumes; do
    $PY -m likeness_train train --task "$task" --ae "$RUNS/ae/ae.pt" --identities "$1" --minutes "$2" \
      --sample-every 500 --resume --out "$RUNS/$task" >> "$RUNS/$task.log" 2>&1 &
    pids+=($!)
  done
}
[ -f "$RUNS/ae/ae.pt" ] || $PY -m likeness_train train-ae --identities 600 --minutes 22 --out "$RUNS/ae"
start_both 1500 60
[ -f "$RUNS/ae/ae-ft.pt" ] || $PY -m likeness_train train-decoder --ae "$RUNS/ae/ae.pt" --identities 200 \
  --minutes 22 --out "$RUNS/ae/ae-ft.pt" > "$RUNS/decoder.log" 2>&1
for p in "${pids[@]}"; do wait "$p"; done
start_both 400 73
[ -f "$RUNS/ae/ae-ft2.pt" ] || $PY -m likeness_train train-decoder --ae "$RUNS/ae/ae-ft.pt" --identities 150 \
  --lr 1.5e-4 --minutes 11 --out "$RUNS/ae/ae-ft2.pt" > "$RUNS/decoder2.log" 2>&1
for p in "${pids[@]}"; do wait "$p"; done
for task in expressions costumes; do
  $PY -m likeness_train export --run "$RUNS/$task" --ae "$RUNS/ae/ae-ft2.pt" --fp16-weights --out "$out/cartoon-$task"
  $PY -m likeness_train pairs --task "$task" --seed 1001 --n 8 --split val --out "$RUNS/pairs/$task-val"
  "$L" eval --calibrate --pack "$out/cartoon-$task" --pairs "$RUNS/pairs/$task-val" --limit 16 \
    --mask-guidance eq3_latent_blend --threads 1 --write
done
echo "starter packs in $out: $(( ($(date +%s) - start) / 60 )) min"
