#!/usr/bin/env bash
# bench-sd.sh BIN: `likeness bench` on an SD 1.5-sized mcdm pack with random
# weights (built once by sd-pack.py, about 4 GB, into
# $LIKENESS_SD_PACK or ~/.cache/likeness/bench/sd15-random). Three runs, each
# a fresh process: the first start (which writes ONNX Runtime's optimised
# graphs into an empty cache), the second start (which loads them), and one
# without the cache. Needs about 6 GB of free memory; on 2 cores the pack
# takes about 10 minutes to build and each run a few minutes.
# PROVIDER=cuda runs on an NVIDIA GPU (with an onnxruntime-gpu library in
# LIKENESS_ORT_LIB); BENCH_ARGS adds bench flags (default --steps 2 --mask-seeds 1).
set -euo pipefail
bin=${1:?usage: bench-sd.sh BIN}
cd "$(dirname "$0")/.."
pack=${LIKENESS_SD_PACK:-${XDG_CACHE_HOME:-$HOME/.cache}/likeness/bench/sd15-random}
if [ ! -f "$pack/likeness.json" ]; then
  echo "bench-sd: building the SD 1.5-sized pack in $pack (once)" >&2
  "${PYTHON:-/usr/bin/python3}" packaging/sd-pack.py --out "$pack"
fi
graphs=$(mktemp -d "${TMPDIR:-/tmp}/likeness-graphs.XXXXXX")
trap 'rm -rf "$graphs"' EXIT
read -r -a extra <<< "${BENCH_ARGS:---steps 2 --mask-seeds 1}"
args=(--pack "$pack" --provider "${PROVIDER:-cpu}" "${extra[@]}")
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/^Mem:/{print $2}') GiB RAM; ONNX Runtime $(basename "$(dirname "${LIKENESS_ORT_LIB:-x/unknown}")")"
echo
echo "== first start: optimises the graphs and writes them to an empty cache"
"$bin" bench "${args[@]}" --graph-cache "$graphs"
echo
echo "== second start: loads the cached optimised graphs"
"$bin" bench "${args[@]}" --graph-cache "$graphs"
echo
echo "== without the graph cache"
"$bin" bench "${args[@]}" --graph-cache off
