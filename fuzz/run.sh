#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/Makefile) and fuzzes each one for a bounded time from its
# committed seed corpus.
#   fuzz/run.sh [SECONDS] [TARGET...]   default 60 s, every target; exit 1 if any target failed
#   fuzz/run.sh --seeds                 regenerate fuzz/corpus/ with fuzz/make_seeds.cpp
#   fuzz/run.sh --replay [TARGET...]    run every committed input once: the seeds (fuzz/corpus/)
#                                       and the crashes found so far (fuzz/regressions/)
# Environment: FUZZ_BUILD (build-fuzz), JOBS (make -j and targets run at once, 2). New corpus entries go to
# $FUZZ_BUILD/corpus/<target>/ (kept between runs, never into the committed corpus); a crashing
# input is saved as $FUZZ_BUILD/artifacts/<target>-crash-<sha1>, and the sanitizer report is in
# $FUZZ_BUILD/logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD:-build-fuzz}
ALL="pomt_file safetensors npy config_json image prune_spec"

make --no-print-directory -f fuzz/Makefile -j"${JOBS:-2}" FUZZ_BUILD="$B" >"${TMPDIR:-/tmp}/pomt-fuzz-build.$$" 2>&1 || {
  cat "${TMPDIR:-/tmp}/pomt-fuzz-build.$$"; rm -f "${TMPDIR:-/tmp}/pomt-fuzz-build.$$"; echo "fuzz: build failed"; exit 1; }
rm -f "${TMPDIR:-/tmp}/pomt-fuzz-build.$$"

if [ "${1:-}" = "--seeds" ]; then
  rm -rf fuzz/corpus && "$B/make_seeds" fuzz/corpus && find fuzz/corpus -type f | wc -l | sed 's/^/fuzz: seeds written: /'
  exit $?
fi
mode=fuzz
if [ "${1:-}" = "--replay" ]; then mode=replay; shift; fi
secs=60
if [ "$mode" = fuzz ] && [[ "${1:-}" =~ ^[0-9]+$ ]]; then secs=$1; shift; fi
targets=${*:-$ALL}

mkdir -p "$B/logs" "$B/artifacts"
# run_target T: runs one target, writes its report (the lines printed below) to $B/logs/T.report;
# exit status 0 when clean.
run_target() {
  local t=$1 bin="$B/fuzz_$1" opts log report rc start end execs cov
  opts=(-rss_limit_mb=2560 -malloc_limit_mb=1024 -timeout=30 -print_final_stats=1
        -artifact_prefix="$B/artifacts/$t-")
  case $t in
    pomt_file|safetensors) opts+=(-max_len=65536 -dict=fuzz/json.dict) ;;
    config_json|prune_spec) opts+=(-max_len=8192 -dict=fuzz/json.dict) ;;
    image) opts+=(-max_len=65536) ;;
    npy) opts+=(-max_len=4096) ;;
  esac
  log="$B/logs/$t.log"
  report="$B/logs/$t.report"
  start=$(date +%s)
  if [ "$mode" = replay ]; then
    "$bin" "${opts[@]}" -runs=0 fuzz/corpus/"$t" $(ls -d fuzz/regressions/"$t" 2>/dev/null) >"$log" 2>&1
  else
    mkdir -p "$B/corpus/$t"
    "$bin" "${opts[@]}" -max_total_time="$secs" "$B/corpus/$t" fuzz/corpus/"$t" \
      $(ls -d fuzz/regressions/"$t" 2>/dev/null) >"$log" 2>&1
  fi
  rc=$?
  end=$(date +%s)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  {
    if [ $rc -eq 0 ]; then
      printf 'fuzz %-12s ok    %4ss  %9s execs  %s\n' "$t" $((end - start)) "${execs:-?}" "${cov:-}"
    else
      printf 'fuzz %-12s FAIL  %4ss  (exit %d) — %s\n' "$t" $((end - start)) $rc "$log"
      grep -E 'ERROR|SUMMARY|pomt fuzz|Test unit written|#[0-9]+ in ' "$log" | head -15 | sed 's/^/    /'
    fi
    grep -m1 'pomt fuzz: note' "$log" | sed 's/^/    /'
  } >"$report"
  return $rc
}

for t in $targets; do
  [ -x "$B/fuzz_$t" ] || { echo "fuzz: no target '$t' (known: $ALL)"; exit 2; }
done
# Each target runs on one core: JOBS of them at a time, reported in the order given.
failed=""
pids=()
names=()
flush() {
  local i
  for i in "${!pids[@]}"; do
    wait "${pids[i]}" || failed="$failed ${names[i]}"
    cat "$B/logs/${names[i]}.report"
  done
  pids=()
  names=()
}
for t in $targets; do
  run_target "$t" &
  pids+=($!)
  names+=("$t")
  [ ${#pids[@]} -ge "${JOBS:-2}" ] && flush
done
flush
[ -z "$failed" ] || { echo "fuzz: FAILED:$failed"; exit 1; }
echo "fuzz: all targets clean"
