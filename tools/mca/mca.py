#!/usr/bin/env python3
"""Static analysis of pomt's aarch64 inner loops with llvm-mca (`make mca`, docs/PERFORMANCE.md).

Reads the aarch64 kernel objects that the Makefile built for a Raspberry Pi (same flags, same g++),
disassembles them, takes each inner loop listed in LOOPS below, and runs llvm-mca on it with the
Cortex-A72 (Pi 4) and Neoverse-N1 (for the Pi 5's Cortex-A76: LLVM maps -mcpu=cortex-a76 onto its
Cortex-A57 model, while the N1 is the A76's server sibling with a model of its own) scheduling
models. One line per loop and core: cycles per iteration, MACs (or elements) per iteration, % of
the core's peak, and stack accesses inside the loop.

  tools/mca/mca.py --objs build-arm/obj [--check] [--docs docs/PERFORMANCE.md]

--check fails (exit 1) when a GEMM inner loop touches the stack or falls under its floor, or when a
loop of LOOPS is not found; --docs rewrites the table between the markers of that file, and the
latency estimate of tools/mca/estimate.py (made only when every loop was found) beside it.
"""
import argparse
import os
import re
import subprocess
import sys

import estimate

# Per-core peaks in multiply-adds per cycle, as llvm-mca's models see them (and as published):
# Cortex-A72 issues one 128-bit FMLA per cycle (4 fp32 MACs; 11.96 GFLOP/s measured at 1.5 GHz),
# Neoverse-N1 / Cortex-A76 two (8; 38.4 GFLOP/s at 2.4 GHz); sdot runs on both A76 pipes (2 × 16
# int8 MACs); smull/smlal (8 int8 MACs each) on one pipe of either core, sadalp on the other.
CORES = {
    "A72": {"mcpu": "cortex-a72", "fp32": 4, "int8 smull": 8},
    "N1": {"mcpu": "neoverse-n1", "fp32": 8, "int8 smull": 8, "int8 sdot": 32},
}
# MACs per instruction: mnemonic → (kind, MACs) for the .4s / .8h forms.
MAC_OPS = {"fmla": ("fp32", 4), "sdot": ("int8 sdot", 16), "smull": ("int8 smull", 8), "smull2": ("int8 smull", 8),
           "smlal": ("int8 smull", 8), "smlal2": ("int8 smull", 8)}
ITERATIONS = 400

NEON = "kernels/arm/kernels_neon.o"
I8 = "kernels/arm/gemm_int8_neon.o"
DOT = "kernels/arm/gemm_int8_neondot.o"


def tile(r, np=1):
    return "void pomt::simd::gemm_tile<pomt::simd::VecNeon, %d, %d>(pomt::GemmTile const&)" % (r, np)


def int8_tile(r, np=1):
    return "void pomt::simd::int8_tile<pomt::(anonymous namespace)::Ops, %d, %d>(pomt::Int8Tile const&)" % (r, np)


class Loop:
    """One function's loops: `loops` lists (name, source file, text of the loop's `for` line, n):
    the n-th inner loop (in code order) whose closing branch is on that line. A MAC loop (mac=True)
    is rated against the core's multiply-add peak, a streaming loop against llvm-mca's resource
    bound for its instructions. floors maps a core to its minimum %; GEMM loops must not touch the
    stack."""

    def __init__(self, label, obj, func, cores, loops, mac=True, floors=None, gemm=False):
        self.label, self.obj, self.func, self.cores = label, obj, func, cores
        self.loops = loops
        self.mac = mac
        self.floors = floors or {}
        self.gemm = gemm


BOTH = ("A72", "N1")
GEMM_K = [("", "kernels/gemm_block.h", "for (int p = 0; p < k; ++p)", 0)]
INT8_K = [("", "kernels/gemm_int8_block.h", "for (int s = 0; s < steps; ++s", 0)]
OPS = "kernels/ops_impl.h"
# The tiles the drivers run: up to kernels_neon.cpp's 5 rows (fp32), gemm_int8_neon.cpp's 2 and
# gemm_int8_neondot.cpp's 5, row blocks split evenly (kernels/gemm.cpp, gemm_int8.cpp). Every tile
# has a floor but the one-row fp32 and neon-dot tiles: they run only for a GEMM of one row (the
# pooled last block, the classifier), where each weight is used once and its load from L2 or DRAM
# is the limit, and one row's 4 chains cannot cover the FMA latency × pipes.
FP32 = {"A72": 95, "N1": 92}
LOOPS = [Loop("fp32 GEMM %d×16" % r, NEON, tile(r), BOTH, GEMM_K, floors=FP32 if r > 1 else {}, gemm=True)
         for r in (5, 4, 3, 2, 1)]
LOOPS += [Loop("int8 neon %d×16" % r, I8, int8_tile(r), ("A72",), INT8_K, floors={"A72": 95}, gemm=True)
          for r in (2, 1)]
LOOPS += [Loop("int8 neon-dot %d×16" % r, DOT, int8_tile(r), ("N1",), INT8_K, floors={"N1": 92} if r > 1 else {},
               gemm=True) for r in (5, 4, 3, 2, 1)]
DOT_LOOP = r"int pomt::simd::dot_loop<pomt::\(anonymous namespace\)::Ops, \d+, \d+, \d+>\(long\)"
PROBE_I8 = [("", "kernels/gemm_int8_block.h", "for (long it = 0; it < iters; ++it)", 0)]
PEAK = {"A72": 95, "N1": 95}
ATTN = r"void pomt::simd::attn_rows<pomt::simd::VecNeon, 5, 1>\(.*\)"
LOOPS += [
    Loop("probe fp32 fma_loop", NEON, r"float pomt::simd::fma_loop<pomt::simd::VecNeon, \d+>\(long\)", BOTH,
         [("", OPS, "for (long it = 0; it < iters; ++it)", 0)], floors=PEAK),
    Loop("probe int8 neon dot_loop", I8, DOT_LOOP, BOTH, PROBE_I8, floors=PEAK),
    Loop("probe int8 neon-dot dot_loop", DOT, DOT_LOOP, ("N1",), PROBE_I8, floors={"N1": 95}),
    Loop("attention 5 rows", NEON, ATTN, BOTH,
         [("Q·Kᵀ", "kernels/gemm_block.h", "for (int p = 0; p < k; ++p)", 0),
          ("P·V", "kernels/gemm_block.h", "for (int p = 0; p < k; ++p)", 1)]),
    Loop("attention 5 rows", NEON, ATTN, BOTH,
         [("exp, sum", OPS, "for (; i + 4 * L <= nv; i += 4 * L) {", 0),
          ("probabilities", OPS, "for (; i + L <= n; i += L) V::store(p + i", 0)], mac=False),
    Loop("softmax", NEON, r"void pomt::simd::softmax_row<pomt::simd::VecNeon>\(.*\)", BOTH,
         [("max", OPS, "for (int i = 0; i < n16; i += L) mv = V::max", 0),
          ("exp, sum", OPS, "for (; i + 16 * G <= n16; i += 16 * G) {", 0),
          ("scale", OPS, "for (int i = 0; i < n16; i += L) V::store(x + i, V::mul", 0)], mac=False),
    Loop("GELU", NEON, r"void pomt::simd::gelu_array<pomt::simd::VecNeon, false>\(.*\)", BOTH,
         [("", OPS, "for (; i + 4 * L <= n; i += 4 * L) {  // four at a time", 0)], mac=False),
    Loop("GELU fast", NEON, r"void pomt::simd::gelu_array<pomt::simd::VecNeon, true>\(.*\)", BOTH,
         [("", OPS, "for (; i + 4 * L <= n; i += 4 * L) {  // four at a time", 0)], mac=False),
    Loop("quantize neon", I8, r"void pomt::simd::quantize_row<pomt::\(anonymous namespace\)::Ops>\(.*\)", ("A72",),
         [("min, max", "kernels/gemm_int8_block.h", "for (; t + 4 * L <= k; t += 4 * L)", 0),
          ("quantize", "kernels/gemm_int8_block.h", "for (t = 0; t + L <= k; t += L) {", 0)], mac=False),
    Loop("quantize neon-dot", DOT, r"void pomt::simd::quantize_row<pomt::\(anonymous namespace\)::Ops>\(.*\)",
         ("N1",), [("min, max", "kernels/gemm_int8_block.h", "for (; t + 4 * L <= k; t += 4 * L)", 0),
                   ("quantize", "kernels/gemm_int8_block.h", "for (t = 0; t + L <= k; t += L) {", 0)], mac=False),
    Loop("LayerNorm", NEON, r"void pomt::simd::layernorm_rows<pomt::simd::VecNeon>\(.*\)", BOTH,
         [("sum", OPS, "for (; i + 2 * L <= dim; i += 2 * L) {", 0),
          ("variance", OPS, "for (i = 0; i + 2 * L <= dim; i += 2 * L) {", 0),
          ("normalise", OPS, "for (i = 0; i + L <= dim; i += L) {", 0)], mac=False),
]


def disassemble(objdump, path):
    """{function name: [(address, instruction text, (source file, line))]} of an object file (built
    with line tables: the Makefile's -g, or CI's -g1)."""
    out = subprocess.run([objdump, "-d", "-l", "-C", "--no-show-raw-insn", path], check=True,
                         capture_output=True, text=True).stdout
    funcs, cur, where = {}, None, ("", 0)
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
            continue
        m = re.match(r"^(/.*|[\w.].*):(\d+)( \(discriminator \d+\))?$", line)
        if m:
            where = (os.path.normpath(m.group(1)), int(m.group(2)))
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if m and cur is not None:
            text = m.group(2).split("//")[0].strip()
            if text and not text.startswith("."):
                cur.append((int(m.group(1), 16), text, where))
    return funcs


BRANCH = re.compile(r"^(b\.\w+|b|cbz|cbnz|tbz|tbnz)\s+(.*?)([0-9a-f]+)\s*<.*>$")


def inner_loops(insns):
    """The innermost loops of a function, as (first, last) indexes: a backward branch closes a loop;
    one that contains another loop, a return or another unconditional branch (cold code jumping
    back into a loop) is not one."""
    index = {ins[0]: i for i, ins in enumerate(insns)}
    loops = []
    for i, (addr, text, _) in enumerate(insns):
        m = BRANCH.match(text)
        if m and int(m.group(3), 16) <= addr and int(m.group(3), 16) in index:
            first = index[int(m.group(3), 16)]
            if not any(t == "ret" or t.startswith("b\t") or t.startswith("b ") for _, t, _ in insns[first:i]):
                loops.append((first, i))
    return sorted(l for l in loops if not any(o != l and l[0] <= o[0] and o[1] <= l[1] for o in loops))


def source_lines(root, path, text):
    with open(os.path.join(root, path)) as f:
        lines = [i + 1 for i, l in enumerate(f) if text in l]
    if not lines:
        raise RuntimeError("%s: no line contains %r (update tools/mca/mca.py)" % (path, text))
    return lines


def find_loop(insns, root, path, text, nth):
    """The nth inner loop whose closing branch comes from a line of `path` containing `text`."""
    lines = source_lines(root, path, text)
    found = []
    for a, b in inner_loops(insns):
        f, line = insns[b][2]
        if (f == path or f.endswith("/" + path)) and line in lines:
            found.append(insns[a:b + 1])
    return found[nth] if nth < len(found) else None


def mca_text(body):
    """The loop as llvm-mca input: symbol annotations dropped, branch targets a local label."""
    lines = [".Lloop:"]
    for _, text, _ in body:
        m = BRANCH.match(text)
        if m:
            text = "%s %s.Lloop" % (m.group(1), m.group(2))
        lines.append(re.sub(r"\s*<.*>$", "", text))
    return "\n".join(lines) + "\n"


def macs(body):
    """(kind, MACs per iteration) of a multiply-add loop."""
    kind, n = None, 0
    for _, text, _ in body:
        op = text.split()[0]
        if op in MAC_OPS and re.search(r"\.(4s|8h)", text):
            k, m = MAC_OPS[op]
            kind = kind or k
            n += m
    return kind, n


def elements(body):
    """fp32 elements a streaming loop handles per iteration: 4 per vector stored, else per vector loaded."""
    def count(ops):
        n = 0
        for _, text, _ in body:
            op = text.split()[0]
            if op not in ops or "[sp" in text:
                continue
            if op in ("st1", "ld1"):
                n += text.split("}")[0].count("v")
            elif re.match(r"(ldp|stp)\s+q", text):
                n += 2
            elif re.match(r"(ldr|str|ldur|stur)\s+q", text):
                n += 1
        return 4 * n
    return count(("str", "stur", "stp", "st1")) or count(("ldr", "ldur", "ldp", "ld1"))


def stack_accesses(body):
    return sum(1 for _, t, _ in body if re.search(r"\[(sp|x29)\b", t))


def run_mca(mca, text, core, dotprod):
    args = [mca, "-mtriple=aarch64", "-mcpu=" + CORES[core]["mcpu"], "-iterations=%d" % ITERATIONS]
    if dotprod:
        args.append("-mattr=+dotprod")
    r = subprocess.run(args, input=text, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("llvm-mca failed:\n%s\n%s" % (r.stderr, text))
    cycles = int(re.search(r"Total Cycles:\s+(\d+)", r.stdout).group(1))
    rthroughput = float(re.search(r"Block RThroughput:\s+([\d.]+)", r.stdout).group(1))
    return cycles / ITERATIONS, rthroughput


def analyse(args):
    rows, failures = [], []
    cache = {}
    for spec in LOOPS:
        path = os.path.join(args.objs, spec.obj)
        if path not in cache:
            cache[path] = disassemble(args.objdump, path)
        funcs = cache[path]
        names = [n for n in funcs if n == spec.func or re.fullmatch(spec.func, n)]
        if not names:
            failures.append("%s: no function %s in %s" % (spec.label, spec.func, spec.obj))
            continue
        for name, src, text, nth in spec.loops:
            label = "%s: %s" % (spec.label, name) if name else spec.label
            body = find_loop(funcs[names[0]], args.root, src, text, nth)
            if body is None:
                failures.append("%s: no inner loop closed at %s '%s' (built without line tables?)" % (label, src, text))
                continue
            kind, n = macs(body)
            stack = stack_accesses(body)
            for core in spec.cores:
                cyc, bound = run_mca(args.mca, mca_text(body), core, spec.obj == DOT)
                if spec.mac:
                    pct, work = 100.0 * n / (cyc * CORES[core][kind]), "%d %s MACs" % (n, kind.split()[0])
                else:
                    pct, work = 100.0 * bound / cyc, "%d elements" % elements(body)
                floor = spec.floors.get(core)
                rows.append(dict(label=label, core=core, cycles=cyc, work=work, pct=pct, stack=stack, mac=spec.mac,
                                 floor=floor))
                if floor is not None and pct < floor:
                    failures.append("%s on %s: %.1f %% < floor %d %%" % (label, core, pct, floor))
            if spec.gemm and stack:
                failures.append("%s: %d stack accesses in the inner loop" % (label, stack))
    return rows, failures


def format_table(rows):
    out = ["| loop | core model | cycles / iteration | work / iteration | % of peak | floor | stack accesses |",
           "|---|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        pct = "%.0f %%" % r["pct"] if r["mac"] else "%.0f %% †" % r["pct"]
        out.append("| %s | %s | %.2f | %s | %s | %s | %d |" % (
            r["label"], r["core"], r["cycles"], r["work"], pct,
            "%d %%" % r["floor"] if r["floor"] is not None else "", r["stack"]))
    return "\n".join(out) + "\n"


def replace_between(doc, begin, end, text):
    a, b = doc.find(begin), doc.find(end)
    if a < 0 or b < a:
        sys.exit("no '%s' … '%s' markers" % (begin, end))
    return doc[:a + len(begin)] + "\n" + text + doc[b:]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objs", default="build-arm/obj", help="the aarch64 build's object folder")
    p.add_argument("--objdump", default="aarch64-linux-gnu-objdump")
    p.add_argument("--mca", default="llvm-mca-19")
    p.add_argument("--root", default=".", help="the source tree the objects were built from")
    p.add_argument("--check", action="store_true", help="exit 1 when a floor is missed or a GEMM loop spills")
    p.add_argument("--docs", help="rewrite the tables between the markers of this Markdown file")
    args = p.parse_args()
    rows, failures = analyse(args)
    table = format_table(rows)
    sys.stdout.write(table)
    latency = None
    if not any("no inner loop" in f or "no function" in f for f in failures):
        latency = estimate.table(rows)
        sys.stdout.write("\nPredicted single-thread latency (tools/mca/estimate.py):\n" + latency)
    if args.docs:
        with open(args.docs) as f:
            doc = f.read()
        doc = replace_between(doc, "<!-- make mca: begin -->", "<!-- make mca: end -->", table)
        if latency:
            doc = replace_between(doc, "<!-- make mca estimate: begin -->", "<!-- make mca estimate: end -->", latency)
        with open(args.docs, "w") as f:
            f.write(doc)
    for f in failures:
        print("mca: " + f, file=sys.stderr)
    if args.check and failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
