#!/usr/bin/env bash
# What storing the Linear weights pre-packed (.pomt format version 2) saves at start-up: the same
# weights converted to format 1 (packed at every load) and format 2 (panels used from the mapping),
# then RUNS runs of `pomt classify -m FILE IMAGE IMAGE --threads 1` each, reporting medians of
#   load   the `load` time classify prints (map + Model::load + workspace)
#   cold   the first image's forward (pages of the mapping are touched for the first time)
#   warm   the second image's forward
#   wall   the whole process, start to exit
# The files stay in the page cache between runs (a warm-cache measurement; dropping the cache needs root).
#   usage: weights_tools/load_time.sh POMT_BINARY HUB_DIR IMAGE [RUNS=15] [WORK_DIR=/tmp]
set -euo pipefail
pomt=${1:?usage: load_time.sh POMT_BINARY HUB_DIR IMAGE [RUNS] [WORK_DIR]}
hub=${2:?hub folder}
image=${3:?image}
runs=${4:-15}
work=${5:-${TMPDIR:-/tmp}}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for version in 1 2; do
  file="$work/load_time_v$version.pomt"
  "$pomt" convert "$hub" --format-version "$version" --quiet -o "$file"
  "$pomt" classify -m "$file" "$image" --threads 1 >/dev/null  # into the page cache
  : >"$work/load_time_v$version.txt"
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    out=$("$pomt" classify -m "$file" "$image" "$image" --threads 1)
    t1=$(date +%s%N)
    # Timing lines: "load L ms  decode+preprocess D ms  forward F ms", one per image.
    echo "$out" | awk -v wall="$(( (t1 - t0) / 1000 ))" '
      /^load / {n++; if (n == 1) {load = $2; cold = $8} else warm = $8}
      END {printf "%s %s %s %.1f\n", load, cold, warm, wall / 1000}' >>"$work/load_time_v$version.txt"
  done
  printf 'format v%s  %s  median of %s runs:  load %6.1f ms   cold forward %6.1f ms   warm forward %6.1f ms   wall %6.1f ms\n' \
    "$version" "$(stat -c %s "$file") bytes" "$runs" \
    "$(cut -d' ' -f1 "$work/load_time_v$version.txt" | median)" "$(cut -d' ' -f2 "$work/load_time_v$version.txt" | median)" \
    "$(cut -d' ' -f3 "$work/load_time_v$version.txt" | median)" "$(cut -d' ' -f4 "$work/load_time_v$version.txt" | median)"
done
