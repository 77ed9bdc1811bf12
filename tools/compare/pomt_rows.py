#!/usr/bin/env python3
"""pomt against itself: model files and kernel variants timed side by side, alternated in one run.

Each row is `LABEL=FILE` with optional `ENV=VALUE` settings after it, comma-separated (POMT_ISA,
POMT_INT8, POMT_BF16 force a kernel level or variant; `bin=PATH` runs another pomt binary for that
row, e.g. a build of the commit before a change). Every block runs each row once as one
`pomt bench -m FILE --threads T --runs R --warmup W --json` process, in list order rotated by
⌊b/2⌋ and reversed when b is odd, so every row meets every position and neighbour. A row's figure
is the median over blocks of its block medians; each ratio "row / base" (the first row unless
--base) is the median over blocks of the paired block ratios, with its min–max. Standard library
only; no timing is judged (print, then read).

    python3 tools/compare/pomt_rows.py --threads 1 --blocks 6 \\
        fp32=deit_small.pomt int8=deit_small.int8.pomt \\
        'int8 vnni=deit_small.int8.pomt,POMT_INT8=avx512-vnni' bf16=deit_small.bf16.pomt \\
        'bf16 avx512=deit_small.bf16.pomt,POMT_BF16=avx512-bf16'
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def fail(message):
    """One line naming the problem, exit 2 (as pomt's own bad inputs)."""
    print("pomt_rows.py: " + message, file=sys.stderr)
    sys.exit(2)


def parse_row(text):
    label, _, rest = text.partition("=")
    if not rest:
        fail(f"row '{text}' is not LABEL=FILE[,ENV=VALUE...]")
    parts = rest.split(",")
    env, binary = {}, None
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if not k or not _:
            fail(f"'{p}' in row '{text}' is not ENV=VALUE")
        if k == "bin":
            binary = v
        else:
            env[k] = v
    for path in [parts[0]] + ([binary] if binary else []):
        if not os.path.isfile(path):
            fail(f"{path}: no such file")
    return label, parts[0], env, binary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="+", help="LABEL=FILE[,ENV=VALUE...]")
    ap.add_argument("--pomt", default="build/pomt")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--base", help="the label the ratios are against (default: the first row)")
    ap.add_argument("--extra", default="", help="more pomt bench options for every row, e.g. '--full-last-block'")
    args = ap.parse_args()
    rows = [parse_row(r) for r in args.rows]
    labels = [r[0] for r in rows]
    base = args.base or labels[0]
    if base not in labels:
        fail(f"--base {base} is not a row label")
    times = {label: [] for label in labels}
    load = os.getloadavg()[0]
    for b in range(args.blocks):
        order = list(range(len(rows)))
        shift = (b // 2) % len(rows)
        order = order[shift:] + order[:shift]
        if b % 2:
            order.reverse()
        for i in order:
            label, path, env, binary = rows[i]
            cmd = [binary or args.pomt, "bench", "-m", path, "--threads", str(args.threads), "--runs", str(args.runs),
                   "--warmup", str(args.warmup), "--json"] + args.extra.split()
            out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
            if out.returncode != 0:
                fail(f"{' '.join(cmd)} failed: {(out.stderr.strip().splitlines() or ['exit %d' % out.returncode])[-1]}")
            times[label].append(json.loads(out.stdout)["median_ms"])
    print(f"{args.threads} thread(s), {args.blocks} blocks x {args.runs} runs; "
          f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"| row | median ms | / {base} (min–max over blocks) |")
    print("|---|--:|---|")
    for label in labels:
        ratios = [t / u for t, u in zip(times[label], times[base])]
        print(f"| {label} | {statistics.median(times[label]):.2f} | "
              f"{statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f}) |")


if __name__ == "__main__":
    main()
