#!/usr/bin/env bash
# Reliability checks (docs/RELIABILITY.md), called from .ci/run after `make test`, one step per call:
#   asan      the test suite built with AddressSanitizer + UndefinedBehaviorSanitizer (every UBSan
#             finding fatal, leaks checked); the heavy data tests are left to the plain build
#   tsan      the concurrency and determinism tests built with ThreadSanitizer
#   fuzz      every libFuzzer target: its committed corpus replayed in full, then FUZZ_SECONDS (10)
#             of fuzzing each (JOBS targets at a time)
#   valgrind  memcheck on build/pomt (`make`'s program): convert, quantize (int8, bf16), info, run,
#             classify, good and bad inputs, small models
# Usage: .ci/reliability.sh [STEP...] (default: all four, or $RELIABILITY_STEPS). Each step prints
# its time; it stops at the first failure. Environment: FUZZ_SECONDS, JOBS (make -j, default 2).
# The extra builds use -g1 (line tables: enough for the stack traces, a third faster to compile).
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
if [ $# -gt 0 ]; then STEPS="$*"; else STEPS=${RELIABILITY_STEPS:-asan tsan fuzz valgrind}; fi
for s in $STEPS; do
  case $s in asan|tsan|fuzz|valgrind) ;; *) echo "reliability.sh: unknown step '$s' (asan tsan fuzz valgrind)"; exit 2 ;; esac
done

export DEBIAN_FRONTEND=noninteractive
need=()
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
command -v clang++-14 >/dev/null || need+=(clang-14)
command -v valgrind >/dev/null || need+=(valgrind)
command -v llvm-symbolizer-14 >/dev/null || [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] || need+=(llvm-14)
[ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] ||
  ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer

declare -a summary
step_start=0
begin() { echo "== reliability: $1 =="; step_start=$(date +%s); }
done_step() { local t=$(($(date +%s) - step_start)); summary+=("$(printf '%-44s %4d s' "$1" "$t")"); echo "-- $1: ${t} s"; }
want() { [[ " $STEPS " == *" $1 "* ]]; }
# tests_quietly COMMAND...: runs a test binary; prints its summary lines when it passes, its whole
# output (the failed checks, the sanitizer report) when it fails.
tests_quietly() {
  local log
  log=$(mktemp)
  if "$@" >"$log" 2>&1; then
    tail -3 "$log"; rm -f "$log"
  else
    local rc=$?
    cat "$log"; rm -f "$log"; echo "reliability.sh: $* failed (exit $rc)"; return 1
  fi
}

# 1. ASan + UBSan: the whole suite (the CLI tests run the sanitized pomt binary too), JOBS
#    processes side by side (tests/run_sharded.sh).
if want asan; then
  begin "ASan + UBSan build"
  make -j"$JOBS" --no-print-directory SAN=address,undefined BUILD=build-asan OPT=-O1 DEBUG=-g1 \
    build-asan/pomt_tests build-asan/pomt >/dev/null
  done_step "ASan + UBSan build (gcc, -O1)"
  begin "ASan + UBSan test suite"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    tests_quietly tests/run_sharded.sh "$JOBS" build-asan/pomt_tests
  done_step "ASan + UBSan: all tests"
fi

# 2. TSan: the tests that share models, sessions and pools between threads.
if want tsan; then
  begin "TSan build"
  # The test files that hold those tests (the filter below), not the whole suite.
  make -j"$JOBS" --no-print-directory SAN=thread BUILD=build-tsan OPT=-O1 DEBUG=-g1 \
    TEST_SRCS="tests/test_main.cpp tests/test_util.cpp tests/test_util_pomt.cpp tests/test_api.cpp tests/test_forward.cpp tests/test_forward_int8.cpp tests/test_forward_bf16.cpp tests/test_kernels_gemm.cpp tests/test_kernels_gemm_int8.cpp tests/test_kernels_gemm_bf16.cpp tests/test_profiler_model_latency.cpp tests/test_profiler_steps.cpp tests/test_threads.cpp tests/test_weights_file.cpp" \
    build-tsan/pomt_tests >/dev/null
  done_step "TSan build (gcc, -O1)"
  begin "TSan concurrency tests"
  # setarch -R: TSan in LLVM 14 / GCC 12 cannot map its shadow with the high-entropy ASLR of
  # newer kernels ("unexpected memory mapping"); disabling randomisation for this process avoids it.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    tests_quietly tests/run_sharded.sh "$JOBS" setarch "$(uname -m)" -R build-tsan/pomt_tests \
    -tc="*thread*,forward: *,api: one model? 4 threads*"
  done_step "TSan: concurrency + thread pool tests"
fi

# 3. Fuzzing: replay the committed corpora (the regressions), then fuzz each target.
if want fuzz; then
  begin "fuzz targets"
  fuzz/run.sh --replay
  done_step "fuzz: build + corpus replay"
  begin "fuzzing"
  # The gate is the replay above (committed corpus + every past crash). New crashes found in this
  # bounded run are reported loudly with their inputs but do not fail the run: a random discovery
  # must become a fix + regression input (fuzz/regressions/), not a flaky CI.
  if ! fuzz/run.sh "$FUZZ_SECONDS"; then
    echo "fuzz: NEW FINDINGS (not a gate): inputs in build-fuzz/artifacts/, reports in build-fuzz/logs/"
    ls build-fuzz/artifacts/ || true
  fi
  done_step "fuzz: 6 targets x ${FUZZ_SECONDS} s, ${JOBS} at a time"
fi

# 4. valgrind memcheck on the commands that read files, with the program `make` builds (-O3 -g):
#    no build of its own.
if want valgrind; then
  begin "valgrind memcheck"
  make -j"$JOBS" --no-print-directory build/pomt >/dev/null
  V=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
     --errors-for-leak-kinds=definite,indirect --track-origins=yes)
  # valgrind runs neither AVX-512 nor AVX-VNNI: the avx2 level and its int8 kernels.
  export POMT_ISA=avx2 POMT_INT8=avx2
  case "$(uname -m)" in x86_64) ;; *) unset POMT_ISA POMT_INT8 ;; esac
  W=$(mktemp -d)
  trap 'rm -rf "$W"' EXIT
  P=build/pomt
  # Inputs from the fuzz seed generator (tiny hub folder, images) and python3 (an NPY).
  [ -x build-fuzz/make_seeds ] || make --no-print-directory -f fuzz/Makefile build-fuzz/make_seeds >/dev/null
  build-fuzz/make_seeds "$W/seeds" >/dev/null
  mkdir -p "$W/hub"
  cp "$W/seeds/safetensors/f16.safetensors" "$W/hub/model.safetensors"
  cat >"$W/hub/config.json" <<'EOF'
{"architecture":"vit_tiny_patch16_224","num_classes":3,
 "model_args":{"embed_dim":8,"depth":1,"num_heads":2,"num_classes":3,"img_size":16,"patch_size":8},
 "pretrained_cfg":{"input_size":[3,16,16],"interpolation":"bicubic","crop_pct":0.9,"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}}
EOF
  for f in rgb8.png ycc420.jpg grey16.pgm; do tail -c +5 "$W/seeds/image/$f" >"$W/$f"; done
  python3 - "$W/x.npy" <<'EOF'
import struct, sys
d = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 96, 96), }"
d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
vals = [((i * 7919) % 1000) / 500.0 - 1.0 for i in range(2 * 3 * 96 * 96)]
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + struct.pack("<%df" % len(vals), *vals))
EOF
  printf 'not a model' >"$W/bad.pomt"
  vg() {  # vg EXPECTED_EXIT ARGS...: run pomt under memcheck; 99 = a memcheck error
    local want=$1 t0; shift
    t0=$(date +%s)
    set +e
    "${V[@]}" "$P" "$@" >"$W/out.txt" 2>"$W/err.txt"
    local rc=$?
    set -e
    if [ $rc -ne "$want" ]; then
      echo "valgrind: pomt $* exited $rc (expected $want)"; cat "$W/err.txt"; exit 1
    fi
    echo "valgrind ok: pomt $* (exit $rc, $(($(date +%s) - t0)) s)"
  }
  vg 0 convert "$W/hub" -o "$W/tiny.pomt"
  # DeiT-Tiny's widths at 96x96 (37 tokens): every kernel and its tails at a fifth of 224's cost.
  vg 0 convert --arch deit_tiny_patch16_224 --random --image-size 96 -o "$W/deit.pomt"
  vg 2 convert "$W/seeds/safetensors/mixed_dtypes.safetensors" --arch vit_tiny_patch16_224 -o "$W/x.pomt"
  vg 0 quantize "$W/tiny.pomt" -o "$W/tiny_int8.pomt"
  vg 0 info "$W/tiny_int8.pomt"
  vg 2 quantize "$W/tiny_int8.pomt" -o "$W/x.pomt"
  vg 0 run -m "$W/deit.pomt" --input "$W/x.npy" --output "$W/y.npy" --threads 2
  vg 0 run -m "$W/deit.pomt" --input "$W/x.npy" --output "$W/y.npy" --threads 1 --prune "tome:r=8" --verbose
  # bf16: the version 4 file, and the widen kernels rounding into the Session's workspace.
  vg 0 quantize "$W/deit.pomt" --precision bf16 -o "$W/deit_bf16.pomt"
  vg 0 run -m "$W/deit_bf16.pomt" --input "$W/x.npy" --output "$W/y.npy" --threads 2 --prune "pomt:R=12,layer=3"
  vg 2 run -m "$W/bad.pomt" --input "$W/x.npy" --output "$W/z.npy"
  vg 2 run -m "$W/deit.pomt" --input "$W/tiny.pomt" --output "$W/z.npy"
  vg 0 classify -m "$W/deit.pomt" "$W/rgb8.png" "$W/ycc420.jpg" "$W/grey16.pgm" --prune "pomt:R=12,layer=3"
  vg 0 classify -m "$W/tiny.pomt" "$W/rgb8.png" --json
  vg 0 classify -m "$W/tiny_int8.pomt" "$W/rgb8.png" --json
  vg 2 classify -m "$W/deit.pomt" "$W/bad.pomt"
  done_step "valgrind: convert, quantize, run, classify"
fi

echo "== reliability summary =="
printf '%s\n' "${summary[@]}"
