#!/usr/bin/env bash
# Start-up cost of .pomt files: for each MODEL given (e.g. a model's fp32 file and its int8 one),
# RUNS runs of `pomt classify -m MODEL IMAGE IMAGE --threads 1`, reporting medians of
#   load   the `load` time classify prints (map + Model::load + workspace)
#   cold   the first image's forward (pages of the mapping are touched for the first time)
#   warm   the second image's forward
#   wall   the whole process, start to exit
# The files stay in the page cache between runs (a warm-cache measurement; dropping the cache needs root).
#   usage: tools/load_time.sh POMT_BINARY IMAGE MODEL.pomt [MODEL.pomt ...]   (env: RUNS=15, TMPDIR)
#   e.g.:  tools/load_time.sh build/pomt cat.jpg vit_tiny.pomt vit_tiny_int8.pomt
set -euo pipefail
usage="usage: load_time.sh POMT_BINARY IMAGE MODEL.pomt [MODEL.pomt ...]"
pomt=${1:?$usage}
image=${2:?$usage}
shift 2
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
runs=${RUNS:-15}
times=$(mktemp "${TMPDIR:-/tmp}/load_time.XXXXXX")
trap 'rm -f "$times"' EXIT

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for file in "$@"; do
  "$pomt" classify -m "$file" "$image" --threads 1 >/dev/null  # into the page cache
  : >"$times"
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    out=$("$pomt" classify -m "$file" "$image" "$image" --threads 1)
    t1=$(date +%s%N)
    # Timing lines: "load L ms  decode+preprocess D ms  forward F ms", one per image.
    echo "$out" | awk -v wall="$(( (t1 - t0) / 1000 ))" '
      /^load / {n++; if (n == 1) {load = $2; cold = $8} else warm = $8}
      END {printf "%s %s %s %.1f\n", load, cold, warm, wall / 1000}' >>"$times"
  done
  printf '%s  %s bytes  median of %s runs:  load %6.1f ms   cold forward %6.1f ms   warm forward %6.1f ms   wall %6.1f ms\n' \
    "$file" "$(stat -c %s "$file")" "$runs" \
    "$(cut -d' ' -f1 "$times" | median)" "$(cut -d' ' -f2 "$times" | median)" \
    "$(cut -d' ' -f3 "$times" | median)" "$(cut -d' ' -f4 "$times" | median)"
done
