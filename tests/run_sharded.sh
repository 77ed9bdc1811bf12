#!/usr/bin/env bash
# Runs the test binary as N processes in parallel, each with --shard=I/N (tests/test_main.cpp: every
# N-th test case passing the filters), and ends with the same closing line as one process:
# "tests: N passed, N failed, N skipped, N parts skipped", the shards' counts summed. Most test
# cases run on one thread, so on a machine with N cores the suite takes about 1/N of the time.
# Shard 0's output streams; the others' follow it, each whole. Exit status: the first failing
# shard's, or 1 when a shard did not print its closing line.
#
# Usage: tests/run_sharded.sh N COMMAND [ARGS...]
#   COMMAND is the test binary or a prefix that runs it (`qemu-aarch64 -cpu max build-arm/pomt_tests`);
#   N = 1 runs COMMAND as is.
set -uo pipefail
if [ $# -lt 2 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: tests/run_sharded.sh N COMMAND [ARGS...] (N >= 1)" >&2
    exit 2
fi
n=$1
shift
[ "$n" -eq 1 ] && exec "$@"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pids=()
for ((i = 1; i < n; i++)); do
    "$@" --shard="$i/$n" >"$dir/$i.log" 2>&1 &
    pids+=($!)
done
"$@" --shard="0/$n" 2>&1 | tee "$dir/0.log"
rcs=("${PIPESTATUS[0]}")
for ((i = 1; i < n; i++)); do
    wait "${pids[i - 1]}"
    rcs+=($?)
    echo "== shard $i/$n =="
    cat "$dir/$i.log"
done

rc=0
sum=(0 0 0 0)
for ((i = 0; i < n; i++)); do
    line=$(grep -E "^tests \(shard $i/$n\): [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped, [0-9]+ parts skipped$" "$dir/$i.log" | tail -1)
    if [ -z "$line" ]; then
        echo "run_sharded.sh: shard $i/$n printed no closing line (exit ${rcs[i]})"
        [ "$rc" -eq 0 ] && rc=1
    else
        read -r -a nums <<<"$(echo "${line#*: }" | tr -cs '0-9' ' ')"
        for k in 0 1 2 3; do sum[k]=$((sum[k] + nums[k])); done
    fi
    [ "$rc" -eq 0 ] && [ "${rcs[i]}" -ne 0 ] && rc=${rcs[i]}
done
echo "tests: ${sum[0]} passed, ${sum[1]} failed, ${sum[2]} skipped, ${sum[3]} parts skipped"
exit "$rc"
