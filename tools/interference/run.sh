#!/bin/sh
# Real interference against `pomt profile --fast` and `pomt bench` (docs/PROFILING.md,
# "Interference"): each runs quiet, then under busy loops (in bursts or all the time) and under a
# memory-bandwidth hog (hog.cpp), and the script prints what each run reported — steps, the steps
# that did not reproduce, thread speed-ups, warnings. Not part of the library or the tests; run it
# on an otherwise idle machine (it prints how busy the CPUs were during each profile).
#
#   tools/interference/run.sh [POMT_BINARY ...]     default: build/pomt
#   PRIO=1 REPEAT=3 tools/interference/run.sh build/pomt /tmp/old/build/pomt
#
# Scenarios (SCENARIOS, default "quiet burst2 busy4 membw"):
#   quiet    nothing else running
#   burst2   2 processes spin for 200 ms every second (all cores busy a fifth of the time)
#   long2    2 processes spin for 1.5 s every 5 s (a compile job's length)
#   burst1   1 process spins for 50 ms every 200 ms
#   busy2    2 processes spin all the time (a parallel build)
#   busy4    4 processes spin all the time (make -j4 on 2 cores)
#   membw    1 process streams over a 256 MB buffer (8× the 32 MB L3 of the machine measured)
# REPEAT=N profiles N times per scenario (false steps come and go); BENCH=0 skips `pomt bench`;
# ARCH (vit_tiny_patch16_224) picks the profiled model. On a shared machine, WAIT_QUIET=1 waits
# before each scenario until no CPU has been busy for 5 s (others' jobs may still start during
# it: the busy-CPU figure printed for each run says so), and PRIO=1 (root) runs everything in a
# fresh autogroup at nice -20 (docs/PERFORMANCE.md, "Measuring on a shared host"): other
# sessions' jobs then get a few percent of the CPU while the hog competes at equal weight.
# Raw outputs go to $OUT (default /tmp/pomt-interference).
set -eu

if [ "${PRIO:-0}" = 1 ] && [ -z "${POMT_PRIO_DONE:-}" ]; then
    export POMT_PRIO_DONE=1
    exec setsid sh -c 'echo -20 > /proc/$$/autogroup && renice -n -20 -p $$ >/dev/null && exec "$0" "$@"' "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-/tmp/pomt-interference}
scenarios=${SCENARIOS:-"quiet burst2 busy4 membw"}
arch=${ARCH:-vit_tiny_patch16_224}
bench=${BENCH:-1}
repeat=${REPEAT:-1}
wait_quiet=${WAIT_QUIET:-0}
mkdir -p "$out"
${CXX:-g++} -O2 -o "$out/hog" "$here/hog.cpp"
[ $# -gt 0 ] || set -- "$root/build/pomt"

hog_pid=
start_hog() {
    case $1 in
        quiet) hog_pid= ;;
        burst2) "$out/hog" burst 2 200 800 & hog_pid=$! ;;
        long2) "$out/hog" burst 2 1500 3500 & hog_pid=$! ;;
        burst1) "$out/hog" burst 1 50 150 & hog_pid=$! ;;
        busy2) "$out/hog" burst 2 1000 0 & hog_pid=$! ;;
        busy4) "$out/hog" burst 4 1000 0 & hog_pid=$! ;;
        membw) "$out/hog" membw 256 & hog_pid=$! ;;
        *) echo "unknown scenario '$1'" >&2; exit 2 ;;
    esac
    sleep 1  # the hog running before the measurement starts
}
stop_hog() {
    if [ -n "$hog_pid" ]; then
        kill "$hog_pid" 2>/dev/null || true
        wait "$hog_pid" 2>/dev/null || true
    fi
    hog_pid=
}
trap stop_hog EXIT
trap 'stop_hog; exit 130' INT TERM

# Busy CPUs (all processes) between two /proc/stat readings, as "1.23".
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
busy_cpus() {  # $1 $2: busy and total ticks before; $3 $4: after; $5: CPUs
    awk -v b0="$1" -v t0="$2" -v b1="$3" -v t1="$4" -v n="$5" 'BEGIN{printf "%.2f", n*(b1-b0)/(t1-t0)}'
}
ncpu=$(getconf _NPROCESSORS_ONLN)
until_quiet() {
    [ "$wait_quiet" != 0 ] || return 0
    while :; do
        a=$(cpu_ticks)
        sleep 5
        b=$(cpu_ticks)
        [ $((${b% *} - ${a% *})) -lt $((5 * $(getconf CLK_TCK) / 10)) ] && return 0  # < 0.1 CPU busy
    done
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $ncpu CPUs"
n=0
for bin in "$@"; do
    n=$((n + 1))
    echo
    echo "== $bin"
    for sc in $scenarios; do
        until_quiet
        start_hog "$sc"
        echo "-- $sc"
        r=0
        while [ $r -lt "$repeat" ]; do
            r=$((r + 1))
            tag="$n-$sc-$r"
            a=$(cpu_ticks)
            s0=$(date +%s.%N)
            "$bin" profile --arch "$arch" --fast --quiet --csv "$out/$tag.csv" --no-svg >"$out/$tag-profile.out" \
                2>"$out/$tag-profile.err" || echo "   (profile failed: $out/$tag-profile.err)"
            s1=$(date +%s.%N)
            b=$(cpu_ticks)
            secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.1f", b-a}')
            load=$(busy_cpus "${a% *}" "${a#* }" "${b% *}" "${b#* }" "$ncpu")
            steps=$(grep ' tokens: −' "$out/$tag-profile.out" | sed 's/^ *//; s/ tokens: / /; s/ latency.*//' |
                    tr '\n' ',' | sed 's/,$//; s/,/, /g')
            echo "   profile $r: ${secs} s, CPUs busy ${load} of $ncpu (pomt included); steps: ${steps:-none}"
            grep -h 'do not reproduce\|does not reproduce' "$out/$tag-profile.out" | sed 's/^/     /' || true
            grep -h '^warning' "$out/$tag-profile.err" | sed 's/^/     /' || true
        done
        if [ "$bench" != 0 ]; then
            tag="$n-$sc"
            "$bin" bench >"$out/$tag-bench.out" 2>"$out/$tag-bench.err" || echo "   (bench failed: $out/$tag-bench.err)"
            grep -E '^  (deit|vit)_' "$out/$tag-bench.out" |
                awk -v n="$ncpu" '{printf "   bench %s: 1 thread %s ms, %s threads %s ms, speed-up %s\n", $1, $2, n, $6, $NF}'
            grep -h '^  \* ' "$out/$tag-bench.out" | sed 's/^  \*/     */' || true
            grep -h '^warning' "$out/$tag-bench.err" | sed 's/^/     /' || true
        fi
        stop_hog
    done
done
