#!/usr/bin/env python3
"""Per-call overhead of the Python Model.run over the C++ forward pass it wraps.

    python3 tools/python_overhead.py [--arch deit_tiny_patch16_224] [--threads 1] [--rounds 40] [--per-round 25]

Same model (seeded random weights), same input, batch 1. Each round times `per-round` calls of
Python `m.run(x)` (time.perf_counter around each call: argument checks, output allocation,
nanobind, GIL release, workspace lease, Workspace::run_batch) and then `per-round` calls of
Workspace::run_batch timed inside C++ (steady_clock around each call, same workspace pool);
rounds alternate so drift and background load land on both. Prints both medians and their
difference. On a busy machine those medians swing by more than the overhead, so the script also
prints the per-call difference: each Python call's wall time minus the time the same call spent
in Workspace::run_batch (measured in C++ around it), whose median does not depend on how long the
forward pass itself took.
"""
import argparse
import statistics
import time

import numpy as np

import pomt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="deit_tiny_patch16_224")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--per-round", type=int, default=25)
    args = ap.parse_args()
    m = pomt.from_arch(args.arch, seed=0, threads=args.threads)
    x = np.random.default_rng(0).standard_normal((1,) + m.input_shape).astype(np.float32)
    for _ in range(10):
        m.run(x)
    m._time_cpp_runs(x, 10)
    py, cpp, per_call = [], [], []
    for _ in range(args.rounds):
        for _ in range(args.per_round):
            t0 = time.perf_counter()
            m.run(x)
            py.append((time.perf_counter() - t0) * 1e3)
            per_call.append(py[-1] - pomt._pomt.last_run_ms())
        cpp.extend(m._time_cpp_runs(x, args.per_round))
    mp, mc = statistics.median(py), statistics.median(cpp)
    print("%s, %d thread(s), batch 1, %s, %d calls each" % (args.arch, args.threads, pomt.isa(), len(py)))
    print("Python m.run(x)         median %.3f ms (p10 %.3f, p90 %.3f)" % (mp, *np.percentile(py, [10, 90])))
    print("C++ Workspace::run_batch median %.3f ms (p10 %.3f, p90 %.3f)" % (mc, *np.percentile(cpp, [10, 90])))
    print("per-call overhead        %.3f ms (median difference); p10 difference %.3f ms"
          % (mp - mc, np.percentile(py, 10) - np.percentile(cpp, 10)))
    print("per-call overhead        %.4f ms median of (Python wall - C++ run_batch) call by call (p10 %.4f, p90 %.4f)"
          % (statistics.median(per_call), *np.percentile(per_call, [10, 90])))


if __name__ == "__main__":
    main()
