#!/usr/bin/env python3
"""An x86 int8 or fp32 tile's inner loop under llvm-mca, on a core you may not have.

    tools/mca/x86.py build/obj/kernels/x86/gemm_int8_avx2.o 'int8_tile<pomt::(anonymous namespace)::Ops, 2, 2>' [--mcpu znver3]
    tools/mca/x86.py build/obj/kernels/x86/gemm_int8_avx2.o 'dot_loop' [--mcpu znver4]

Disassembles the object (objdump, AT&T syntax, demangled), takes the first function whose name
contains the pattern, finds its innermost loop that holds a multiply-add (vpmaddubsw, vpdpbusd,
vfmadd) — the smallest backward branch around one — and prints llvm-mca's cycles per iteration
for it, with the multiply-adds and stack accesses in it. A comparison of tile shapes on one core
model, not a latency: run it on two builds (or two template instances) side by side.
Needs binutils and llvm-mca (Debian llvm-19: llvm-mca-19, found first).
"""
import argparse
import re
import shutil
import subprocess
import sys

MADD = ("vpmaddubsw", "vpdpbusd", "vfmadd")


def loop_of(function_text):
    ins = []
    for line in function_text.split("\n")[1:]:
        m = re.match(r"\s+([0-9a-f]+):\t(.*)", line)
        if m:
            ins.append((int(m.group(1), 16), m.group(2).strip()))
    best = None
    for addr, text in ins:
        m = re.match(r"j\w+\s+([0-9a-f]+)", text)
        if not m or int(m.group(1), 16) >= addr:
            continue
        body = [t for a, t in ins if int(m.group(1), 16) <= a <= addr]
        if any(t.startswith(MADD) for t in body) and (best is None or len(body) < len(best)):
            best = body
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("obj")
    ap.add_argument("function", help="a substring of the demangled function name")
    ap.add_argument("--mcpu", default="znver3")
    args = ap.parse_args()
    mca = shutil.which("llvm-mca-19") or shutil.which("llvm-mca")
    if not mca:
        sys.exit("no llvm-mca (apt-get install llvm-19)")
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", "-M", "att", args.obj],
                         capture_output=True, text=True, check=True).stdout
    for f in re.split(r"\n(?=[0-9a-f]+ <)", dis):
        head = f.split("\n", 1)[0]
        if args.function not in head:
            continue
        body = loop_of(f)
        if not body:
            sys.exit("no multiply-add loop in " + head)
        asm = "\n".join(re.sub(r"\s+<.*>", "", t) for t in body if not t.startswith("j"))
        out = subprocess.run([mca, "-mcpu=" + args.mcpu, "-iterations=400"], input=asm, capture_output=True,
                             text=True, check=True).stdout
        cycles = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1)) / 400
        madds = sum(1 for t in body if t.startswith(MADD))
        stack = sum(1 for t in body if "(%rsp)" in t or "(%rbp)" in t)
        print("%s\n  %s: %.2f cycles per iteration, %d multiply-adds, %d stack accesses, %d instructions"
              % (head, args.mcpu, cycles, madds, stack, len(body)))
        return
    sys.exit("no function matching '%s' in %s" % (args.function, args.obj))


if __name__ == "__main__":
    main()
