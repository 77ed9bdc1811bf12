#!/usr/bin/env python3
"""pomt vs the CPU engines an edge user would pick instead: ONNX Runtime, OpenVINO, ncnn and MNN.

Same model, same input, same run; prints one markdown table per thread count: each engine's
latency, the precision it actually ran at, and the ratio pomt / engine.

Needs (a benchmark script, not part of the tests; every peer is optional):

    pip install . numpy onnx onnxruntime openvino nncf ncnn MNN
    pip install --no-deps pnnx     # ncnn's converter: the binary only (its Python side pulls PyTorch, ~6 GB)

(. is the pomt package: its read_weights reads the .pomt for the ONNX export) and a built pomt
(`make`, or `make BUILD=build-perf build-perf/pomt`). No PyTorch: the ONNX graph is built from the
.pomt weights by tools/compare/onnx_export.py (the graph torch.onnx.export writes for timm's
VisionTransformer, opset 17, batch 1), and every peer starts from that graph. A peer that is not
installed is skipped with one line; without onnx (or the pomt package) only pomt's rows are timed.
No usage telemetry leaves this process: peers.py sets ORT_DISABLE_TELEMETRY=1 (ONNX Runtime 1.32
starts its 1DS telemetry at import otherwise), makes openvino_telemetry unimportable (`import
openvino` and nncf send usage events otherwise) and never imports MNN's logging wrapper.

    python3 tools/compare/compare_peers.py                      # DeiT-Tiny, DeiT-Small, ViT-Base at 1 and 2 threads, every peer
    python3 tools/compare/compare_peers.py --arch deit_tiny_patch16_224 --threads 1 --blocks 3 --peers ort,ncnn
    python3 tools/compare/compare_peers.py -m vit_tiny.pomt --check-only
    python3 tools/compare/compare_peers.py --int8 [--per-channel] [--calibrate labels.txt] [--full-last-block]
    python3 tools/compare/compare_peers.py --bf16 --peers openvino   # pomt bf16 beside OpenVINO's default

The peers (tools/compare/peers.py says exactly how each is built and run):
  ort       ONNX Runtime: fp32; with --int8 quantize_dynamic's model (QInt8 weights per tensor, or
            per output channel with --per-channel; u8 activations quantized at run time).
  openvino  OpenVINO's CPU plugin on the .onnx: its default (no precision hint: f32 on this kind of
            AVX2 host, bf16 on AVX512_BF16 / AMX hosts, f16 on ARM) and INFERENCE_PRECISION_HINT
            f32; the precision column is read back from the compiled model. With --int8:
            nncf.compress_weights INT8_SYM (data-free int8 weights; whether the plugin quantizes
            the activations too is tested and shown).
  ncnn      pnnx converts the .onnx (fp32 weights); ncnn's default options (fp16 storage where the
            CPU converts fp16: F16C, aarch64) and fp32. No int8 row: ncnn's ncnn2table /
            ncnn2int8 are not in the pip wheels (the table says so).
  mnn       MNN's converter from the wheel, with its default (tanh-approximate GELU: the logits
            show the difference) and with the exact GELU; with --int8 the wheel's mnnquant (KL,
            static int8 activations calibrated on 8 images: --calibrate's, else seeded noise).

What it does:
  1. Correctness, per model: a seeded random input (1,3,S,S) through `pomt run` (pomt fp32) and
     through every peer row; the logits of a row asked (or found) to run fp32 must agree with
     pomt's within --tol · max|logit| (1e-4). A peer row that deviates is marked DEVIATES in the
     checks and in the table, and still timed; rows at reduced precision (fp16 storage, bf16) and
     int8 rows are reported, not judged (random weights: int8 accuracy is
     tools/compare/accuracy_onnxruntime.py's). If ONNX Runtime runs and disagrees with pomt (or,
     without it, no fp32 peer agrees), nothing is timed and the exit status is 1. With --reference
     DIR (default: ../shared/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k when present) the
     real timm checkpoint is converted with `pomt convert` and ORT and pomt are both checked
     against the folder's reference/logits.npy (timm's logits for reference/input.npy).
  2. Timing, per model and thread count T: --blocks blocks; in each, every row runs once: W
     warm-up and R timed inferences. A pomt row is one `pomt bench -m X --threads T --runs R
     --warmup W --json` process; a peer row runs in this process, built for T threads (see
     peers.py), its input bound once, timed with perf_counter around each inference. Block b runs
     the rows in list order rotated by ⌊b/2⌋, reversed when b is odd, so every row meets every
     position and neighbour. Each block gives median / p10 / p90 (linear interpolation, as pomt's
     bench); the table shows the median over blocks of those, and each ratio "pomt X / row" is the
     median over blocks of (pomt X block median / row block median) with its min–max over blocks.
     The 1-minute load average before and after each model is printed: on a shared machine,
     rerun when it is far above the thread count.
     pomt computes only the class token's row in the last block (the same logits, ~7 % less work
     on DeiT-Tiny); every peer computes all rows. --full-last-block adds the rows "pomt fp32
     (full last block)" (and "pomt int8 (full last block)" with --int8) with their ratio columns.
  3. With --int8: the int8 rows join the fp32 ones in the same blocks: pomt int8 (`pomt quantize
     MODEL -o INT8.pomt [--data LIST]` with --calibrate) and pomt int8 with int8 attention
     (`pomt quantize --attention int8`), and each peer's int8 row. The int8 logits are printed
     against pomt fp32 and against the peer's own fp32 row (not judged).
  4. With --bf16: the row pomt bf16 (`pomt quantize MODEL --precision bf16 -o BF16.pomt`) joins
     the same blocks, reported against pomt fp32, not judged. Its kernels are those `pomt info
     BF16.pomt` names: avx512-bf16 / neon-bf16 where the CPU multiplies bf16, else widen (fp32's
     speed). The OpenVINO default row is the peer to compare it with on AVX512_BF16 hosts.

Random weights (`pomt convert --arch NAME --random`): latency does not depend on them.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import onnx_export  # siblings: run as a script, this folder is on sys.path
import peers
# ONNX Runtime helpers, here since this script was compare_onnxruntime.py (accuracy_onnxruntime.py uses them)
from peers import ort_int8_settings, ort_logits, ort_session, quantize_ort, quantized_op_counts  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout

DEFAULT_ARCHS = ["deit_tiny_patch16_224", "deit_small_patch16_224", "vit_base_patch16_224"]
DEFAULT_REFERENCE = os.path.join(ROOT, "..", "shared", "models", "vit_tiny_patch16_224.augreg_in21k_ft_in1k")
ISA_FLAGS = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "f16c",  # x86
             "asimdhp", "asimddp", "i8mm", "bf16", "sve"]  # aarch64
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp")


def log(msg):
    print(msg, flush=True)


def pomt_binary(path):
    """The --pomt binary as an absolute path; exits when there is none."""
    pomt = os.path.abspath(path)
    if not os.access(pomt, os.X_OK):
        sys.exit("no pomt binary at %s (build it, or give --pomt)" % pomt)
    return pomt


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr.strip()))
    return p.stdout


def cpu_info():
    """(lscpu's "Model name", its set of flags)."""
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    except OSError:
        out = ""
    name, flags = "?", set()
    for line in out.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == "Model name" and name == "?":
            name = v.strip()
        elif k.strip() == "Flags":
            flags = set(v.split())
    if not flags and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() in ("flags", "Features"):
                    flags = set(v.split())
                    break
    return name, flags


def isa_line(flags):
    arm = "asimd" in flags
    names = [f for f in ISA_FLAGS if (f in ("asimdhp", "asimddp", "i8mm", "bf16", "sve")) == arm]
    return ", ".join("%s %s" % ("amx" if f == "amx_tile" else f, "yes" if f in flags else "no") for f in names)


def rel_err(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def pomt_logits(pomt, model, x, workdir):
    inp, out = os.path.join(workdir, "in.npy"), os.path.join(workdir, "out.npy")
    np.save(inp, np.ascontiguousarray(x, dtype=np.float32))
    run([pomt, "run", "-m", model, "--input", inp, "--output", out])
    return np.load(out)


def seeded_input(cfg, seed):
    s = cfg["img_size"]
    return np.random.default_rng(seed).standard_normal((1, 3, s, s)).astype(np.float32)


def check_reference(pomt, ref_dir, workdir, tol):
    ref_in = os.path.join(ref_dir, "reference", "input.npy")
    ref_out = os.path.join(ref_dir, "reference", "logits.npy")
    if not (os.path.isfile(ref_in) and os.path.isfile(ref_out)):
        log("  SKIP: reference check: %s has no reference/input.npy + logits.npy" % ref_dir)
        return True, {}
    model = os.path.join(workdir, "reference.pomt")
    run([pomt, "convert", ref_dir, "-o", model, "--quiet"])
    cfg, w = onnx_export.read_pomt(model)
    onnx_bytes = onnx_export.build_onnx(cfg, w).SerializeToString()
    x, ref = np.load(ref_in), np.load(ref_out)
    a = pomt_logits(pomt, model, x, workdir)
    b = ort_logits(ort_session(onnx_bytes, 1), x)
    res = {"images": int(x.shape[0]), "ort_vs_timm": rel_err(b, ref), "pomt_vs_timm": rel_err(a, ref),
           "pomt_vs_ort": rel_err(a, b),
           "top1_ort_eq_timm": int((b.argmax(1) == ref.argmax(1)).sum()),
           "top1_pomt_eq_timm": int((a.argmax(1) == ref.argmax(1)).sum())}
    ok = res["ort_vs_timm"] <= tol and res["pomt_vs_timm"] <= tol
    log("  check %s (real weights, %d images, timm reference logits): max|Δ| / max|logit|: ORT vs timm %.2e, "
        "pomt vs timm %.2e, pomt vs ORT %.2e; top-1 equal to timm: ORT %d/%d, pomt %d/%d  %s"
        % (cfg["architecture"], res["images"], res["ort_vs_timm"], res["pomt_vs_timm"], res["pomt_vs_ort"],
           res["top1_ort_eq_timm"], res["images"], res["top1_pomt_eq_timm"], res["images"], "ok" if ok else "FAIL"))
    return ok, res


# ---- timing

def quantiles(ms):
    return {"median": float(np.quantile(ms, 0.5)), "p10": float(np.quantile(ms, 0.1)), "p90": float(np.quantile(ms, 0.9))}


def pomt_block(pomt, model, threads, runs, warmup, full_last_block=False):
    out = run([pomt, "bench", "-m", model, "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup), "--json"]
              + (["--full-last-block"] if full_last_block else []))
    j = json.loads(out.strip().splitlines()[-1])
    return {"median": j["median_ms"], "p10": j["p10_ms"], "p90": j["p90_ms"], "isa": j.get("isa", "?"),
            "kernels": j.get("kernels", j.get("isa", "?"))}


def timed_block(fn, runs, warmup):
    """W untimed then R timed calls of fn (one inference each)."""
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return quantiles(ms)


def block_order(engines, b):
    """Block b: the list rotated by ⌊b/2⌋, reversed when b is odd (two engines: AB, BA, BA, AB, ...)."""
    order = engines if b % 2 == 0 else engines[::-1]
    k = (b // 2) % len(order)
    return order[k:] + order[:k]


def alternate_blocks(engines, blocks):
    """engines: [(key, block_fn)]; returns {key: [block result, ...]} (block_order's order in block b)."""
    out = {key: [] for key, _ in engines}
    for b in range(blocks):
        for key, fn in block_order(engines, b):
            out[key].append(fn())
    return out


def block_ratio(num, den):
    """Median over blocks of num block median / den block median, and its min and max."""
    r = [a["median"] / b["median"] for a, b in zip(num, den)]
    return {"ratio": float(np.median(r)), "ratio_min": min(r), "ratio_max": max(r)}


def median_of_blocks(blocks_):
    return {k: float(np.median([x[k] for x in blocks_])) for k in ("median", "p10", "p90")}


# ---- pomt's rows

def pomt_quantize(pomt, model, out, data=None, attention=None, precision=None):
    """`pomt quantize MODEL -o OUT [--data LIST] [--attention int8] [--precision bf16]`; None (and why,
    printed) when it is unavailable or fails."""
    cmd = [pomt, "quantize", model, "-o", out, "--quiet"] + (["--data", data] if data else []) \
        + (["--attention", attention] if attention else []) + (["--precision", precision] if precision else [])
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode == 0:
        return out
    if "unknown command" in p.stderr:
        log("  NOTE: %s has no `quantize` command yet: the pomt int8 rows are skipped (the peers' int8 rows "
            "still run); rerun with a pomt that has it" % pomt)
    else:
        log("  NOTE: `%s` failed (exit %d): %s\n  that pomt row is skipped" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return None


def pomt_rows(pomt, path, args, data):
    """The pomt rows of one model: peers.Row objects with .model and .full (make is None: `pomt bench`)."""
    def row(key, label, model, full, kind):
        r = peers.Row(key, "pomt", label, "int8 (per-token activations)" if kind == "int8" else kind,
                      kind, None, False, "pomt")
        r.model, r.full = model, full
        attention = "bf16" if key.endswith("bf16_attention") else "int8" if key.endswith("attention") else "fp32"
        if kind == "bf16":
            r.precision = "bf16 weights, bf16 Linear inputs, fp32 sums; attention " + attention
        if kind == "int8":
            r.precision = ("int8 weights per channel, int8 activations per token at run time; attention %s%s"
                           % (attention, "; SmoothQuant-calibrated" if data else ""))
        return r
    rows = [row("pomt_fp32", "fp32", path, False, "fp32")]
    if args.full_last_block:
        rows.append(row("pomt_fp32_full", "fp32 (full last block)", path, True, "fp32"))
    if args.int8:
        stem = os.path.splitext(path)[0]
        m8 = pomt_quantize(pomt, path, stem + ".int8.pomt", data)
        if m8:
            rows.append(row("pomt_int8", "int8", m8, False, "int8"))
            if args.full_last_block:
                rows.append(row("pomt_int8_full", "int8 (full last block)", m8, True, "int8"))
        m8a = pomt_quantize(pomt, path, stem + ".int8att.pomt", data, attention="int8")
        if m8a:
            rows.append(row("pomt_int8_attention", "int8 (int8 attention)", m8a, False, "int8"))
    if args.bf16:
        mb = pomt_quantize(pomt, path, os.path.splitext(path)[0] + ".bf16.pomt", precision="bf16")
        if mb:
            rows.append(row("pomt_bf16", "bf16", mb, False, "bf16"))
        # bf16 attention (`--attention bf16`): of the bf16 model, and of the int8 one with --int8.
        mbb = pomt_quantize(pomt, path, os.path.splitext(path)[0] + ".bf16att.pomt", precision="bf16", attention="bf16")
        if mbb:
            rows.append(row("pomt_bf16_bf16_attention", "bf16 (bf16 attention)", mbb, False, "bf16"))
        if args.int8:
            m8b = pomt_quantize(pomt, path, os.path.splitext(path)[0] + ".int8bf16att.pomt", data, attention="bf16")
            if m8b:
                rows.append(row("pomt_int8_bf16_attention", "int8 (bf16 attention)", m8b, False, "int8"))
    return rows


# ---- correctness

def check_model(pomt, cfg, prows, rows, tol, workdir):
    """Runs the seeded input through every row at 1 thread; fills row.check; returns the rows that ran
    and the checks (dicts)."""
    x = seeded_input(cfg, 1234)
    ref = pomt_logits(pomt, prows[0].model, x, workdir)
    own_fp32, ran, checks = {}, [], []
    name = cfg["architecture"]
    for r in prows[1:]:
        if r.full:
            continue
        y = pomt_logits(pomt, r.model, x, workdir)
        e = rel_err(y, ref)
        r.check = {"vs_pomt_fp32": e, "ok": None, "top1_same": bool(y.argmax() == ref.argmax())}
        checks.append(dict(r.check, model=name, row=r.key))
        log("  %-5s %-24s %-62s vs pomt fp32 %.2e (top-1 %s)" % (r.kind, name, r.title(), e, "same" if r.check["top1_same"] else "different"))
    for r in rows:
        try:
            y = np.asarray(r.make(1, x)(), dtype=np.float32).reshape(ref.shape)
        except Exception as ex:  # a peer that builds but cannot run this model: reported, not timed
            log("  SKIP  %-24s %-62s failed to run: %s" % (name, r.title(), str(ex).strip().splitlines()[0][:200]))
            continue
        e = rel_err(y, ref)
        same = bool(y.argmax() == ref.argmax())
        if r.kind == "fp32":
            if r.peer not in own_fp32 or (r.judged and not own_fp32[r.peer][1]):
                own_fp32[r.peer] = (y, r.judged)
            ok = (e <= tol) if r.judged else None
            verdict = ("ok" if ok else "DEVIATES (> %.0e)%s" % (tol, ": " + r.note if r.note else "")) if r.judged \
                else "not judged: %s" % r.precision.split(" (")[0]
            log("  check %-24s %-62s vs pomt fp32 %.2e (top-1 %s)  %s" % (name, r.title(), e, "same" if same else "DIFFERENT", verdict))
            r.check = {"vs_pomt_fp32": e, "ok": ok, "top1_same": same}
        else:
            own = own_fp32.get(r.peer)
            e_own = rel_err(y, own[0]) if own is not None else None
            log("  int8  %-24s %-62s vs pomt fp32 %.2e (top-1 %s)%s" % (
                name, r.title(), e, "same" if same else "different",
                "; vs its own fp32 %.2e" % e_own if e_own is not None else ""))
            r.check = {"vs_pomt_fp32": e, "ok": None, "top1_same": same, "vs_own_fp32": e_own}
        checks.append(dict(r.check, model=name, row=r.key, title=r.title(), precision=r.precision))
        ran.append(r)
    return ran, checks


def correctness_gate(rows):
    """ONNX Runtime fp32 must agree with pomt when it ran; else some fp32 peer must, when any was judged."""
    ort = [r for r in rows if r.key == "ort_fp32"]
    if ort:
        return bool(ort[0].check["ok"])
    judged = [r for r in rows if r.kind == "fp32" and r.judged]
    return not judged or any(r.check["ok"] for r in judged)


# ---- the table

def time_model(pomt, cfg, prows, rows, threads, args):
    feed = seeded_input(cfg, 7) if rows else None
    engines = [(r.key, lambda r=r: pomt_block(pomt, r.model, threads, args.runs, args.warmup, r.full)) for r in prows]
    fns = []
    for r in rows:
        fn = r.make(threads, feed)
        timed_block(fn, 1, args.warmup)  # first-run allocations outside the blocks
        fns.append(fn)
        engines.append((r.key, lambda fn=fn: timed_block(fn, args.runs, args.warmup)))
    res = alternate_blocks(engines, args.blocks)
    del fns, engines
    out = {"model": cfg["architecture"], "threads": threads, "blocks": args.blocks, "runs_per_block": args.runs,
           "warmup": args.warmup, "isa": res[prows[0].key][0]["isa"], "rows": {}, "ratios": {}}
    for r in prows + rows:
        out["rows"][r.key] = dict(median_of_blocks(res[r.key]), title=r.title(), precision=r.precision,
                                  kind=r.kind, blocks=res[r.key])
        if "kernels" in res[r.key][0]:  # a pomt row: the Linear layers' kernels (level or int8 / bf16 variant)
            out["rows"][r.key]["kernels"] = res[r.key][0]["kernels"]
    for p in prows:
        for r in prows + rows:
            if r is not p:
                out["ratios"]["%s/%s" % (p.key, r.key)] = block_ratio(res[p.key], res[r.key])
    return out


def fmt_ratio(q):
    return "%.3f (%.3f–%.3f)" % (q["ratio"], q["ratio_min"], q["ratio_max"]) if q else "—"


def print_tables(timings, rows_by_model, prow_titles, threads, cpu_name, notes):
    for t in threads:
        ts = [r for r in timings if r["threads"] == t]
        if not ts:
            continue
        pkeys = [k for k in prow_titles if any(k in r["rows"] for r in ts)]
        log("\n### %d thread%s — %s\n" % (t, "" if t == 1 else "s", cpu_name))
        log("| model | engine, setting | precision used | ms: median (p10–p90) | %s | logits vs pomt fp32 |"
            % " | ".join("pomt %s / row" % prow_titles[k] for k in pkeys))
        log("|---|---|---|--:|%s---|" % ("--:|" * len(pkeys)))
        for r in ts:
            for key, v in r["rows"].items():
                row = rows_by_model[r["model"]].get(key)
                chk = getattr(row, "check", None) if row is not None else None
                if key.startswith("pomt_"):
                    verdict = "reference" if key == "pomt_fp32" else (
                        "%.1e" % chk["vs_pomt_fp32"] if chk else "same model" if key == "pomt_fp32_full" else "—")
                    prec = v["precision"] + (" (%s kernels)" % v.get("kernels", r["isa"]))
                elif chk:
                    verdict = "%.1e %s" % (chk["vs_pomt_fp32"], {True: "ok", False: "**DEVIATES**", None: "(not judged)"}[chk["ok"]])
                    prec = v["precision"]
                else:
                    verdict, prec = "—", v["precision"]
                ratios = " | ".join("—" if k == key else fmt_ratio(r["ratios"].get("%s/%s" % (k, key))) for k in pkeys)
                log("| %s | %s | %s | %.2f (%.2f–%.2f) | %s | %s |" % (
                    r["model"], v["title"], prec, v["median"], v["p10"], v["p90"], ratios, verdict))
    for n in notes:
        log(n)


def thread_scaling(timings, threads):
    if len(threads) < 2 or 1 not in threads:
        return
    hi = max(threads)
    log("\nthread scaling (1-thread median / %d-thread median):" % hi)
    by = {}
    for r in timings:
        by.setdefault(r["model"], {})[r["threads"]] = r
    for m, d in by.items():
        if 1 in d and hi in d:
            parts = ["%s %.2fx" % (v["title"], v["median"] / d[hi]["rows"][k]["median"])
                     for k, v in d[1]["rows"].items() if k in d[hi]["rows"]]
            log("  %-24s %s" % (m, "; ".join(parts)))


# ---- setup

def calibration_images(spec):
    """Image paths of --calibrate (a 'path label' list, paths relative to its folder, or a folder)."""
    if not spec:
        return None
    if os.path.isdir(spec):
        found = []
        for d, _, files in sorted(os.walk(spec)):
            found += [os.path.join(d, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXT)]
        return found
    root, found = os.path.dirname(os.path.abspath(spec)), []
    with open(spec) as f:
        for line in f:
            if line.strip():
                found.append(os.path.join(root, line.split()[0]))
    return found


def available_peers(wanted, need_onnx):
    """{name: version} of the --peers that import; one printed line per one that does not."""
    got = {}
    if need_onnx:
        log("  SKIP: %s: %s" % (", ".join(wanted), need_onnx))
        return got
    for name in wanted:
        version_fn = peers.PEERS[name][0]
        try:
            with peers.quiet_fds():
                got[name] = version_fn()
        except Exception as e:  # ImportError, or a broken install
            log("  SKIP: %s: not available (%s): %s" % (name, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__,
                                                        peers.INSTALL[name]))
    return got


class Ctx:
    """What a peer needs to build one model's rows (peers.py)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pomt", default=os.path.join(ROOT, "build", "pomt"), help="the pomt binary (default build/pomt)")
    ap.add_argument("--arch", action="append", help="timm architecture (random weights); repeatable")
    ap.add_argument("-m", "--model", action="append", help="a .pomt file; repeatable")
    ap.add_argument("--peers", default=",".join(peers.PEER_NAMES),
                    help="comma-separated peers among %s (default: all, each skipped with a line when not installed)"
                         % ",".join(peers.PEER_NAMES))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--runs", type=int, default=30, help="timed runs per block (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up runs per block (default 5)")
    ap.add_argument("--blocks", type=int, default=6, help="alternating blocks per engine (default 6)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max|Δ| / max|logit| allowed (default 1e-4)")
    ap.add_argument("--reference", default=DEFAULT_REFERENCE, help="hub folder with reference/input.npy, logits.npy")
    ap.add_argument("--no-reference", action="store_true", help="skip the real-weights check")
    ap.add_argument("--check-only", action="store_true", help="correctness checks only, no timing")
    ap.add_argument("--save-onnx", metavar="DIR", help="also write each model's .onnx (and ORT int8 .onnx) into DIR")
    ap.add_argument("--json", metavar="FILE", help="write all results as JSON")
    ap.add_argument("--full-last-block", action="store_true",
                    help="add pomt rows computing every row of the last block, as the peers do (pomt's default row "
                         "computes the class token's row only: the same logits, ~7%% less work)")
    ap.add_argument("--int8", action="store_true",
                    help="add the int8 rows: pomt int8 (`pomt quantize`, and with --attention int8) and each peer's int8 "
                         "model, in the same blocks as the fp32 rows")
    ap.add_argument("--bf16", action="store_true",
                    help="add the row pomt bf16 (`pomt quantize --precision bf16`), reported against pomt fp32")
    ap.add_argument("--per-channel", action="store_true", help="with --int8: ORT weights per output channel (default per tensor)")
    ap.add_argument("--calibrate", metavar="LIST",
                    help="with --int8: `pomt quantize --data LIST` (default: weights only); MNN's mnnquant calibrates on "
                         "its first images (default: noise)")
    args = ap.parse_args(argv)

    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    for p in wanted:
        if p not in peers.PEERS:
            ap.error("--peers: unknown peer '%s' (known: %s)" % (p, ", ".join(peers.PEER_NAMES)))
    pomt = pomt_binary(args.pomt)
    threads = [int(t) for t in args.threads.split(",")]
    archs = args.arch or ([] if args.model else DEFAULT_ARCHS)
    cpu_name, cpu_flags = cpu_info()

    need_onnx = None
    try:
        import onnx
        import pomt as package  # `pomt` here is the binary
    except ImportError as e:
        need_onnx = "no ONNX graph without the onnx and pomt packages (%s): pip install . onnx" % e
        onnx = package = None
    log("CPU: %s (lscpu Model name), %d CPUs; %s" % (cpu_name, os.cpu_count(), isa_line(cpu_flags)))
    log("pomt %s | numpy %s, python %s%s | load average %s" % (
        pomt, np.__version__, sys.version.split()[0], ", onnx " + onnx.__version__ if onnx else "",
        " ".join("%.2f" % v for v in os.getloadavg())))
    versions = available_peers(wanted, need_onnx)
    log("peers: %s" % (", ".join("%s %s" % (k, v) for k, v in versions.items()) or "none: pomt rows only"))
    if args.int8 and "ncnn" in versions:
        log("  NOTE: ncnn has no int8 row: its ncnn2table / ncnn2int8 tools are not in the ncnn or pnnx wheels")
    results = {"cpu": cpu_name, "isa_flags": sorted(f for f in ISA_FLAGS if f in cpu_flags), "versions": versions,
               "checks": [], "timings": []}
    data = os.path.abspath(args.calibrate) if args.calibrate else None
    if args.int8:
        if "ort" in versions:
            log("int8: ORT quantize_dynamic %s" % json.dumps(ort_int8_settings(args.per_channel)))
        log("int8: pomt: `pomt quantize MODEL -o INT8.pomt%s` and the same with --attention int8" % (" --data " + data if data else ""))
        results["int8"] = {"ort_settings": ort_int8_settings(args.per_channel), "pomt_calibration": data}
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="pomt_peers_") as workdir:
        models = []
        for a in archs:
            path = os.path.join(workdir, a + ".pomt")
            run([pomt, "convert", "--arch", a, "--random", "-o", path, "--quiet"])
            models.append(path)
        models += [os.path.abspath(m) for m in (args.model or [])]

        log("\ncorrectness (tolerance %.0e · max|logit|; a seeded random input):" % args.tol)
        if "ort" in versions and not args.no_reference and args.reference:
            if os.path.isdir(args.reference):
                ok, res = check_reference(pomt, args.reference, workdir, args.tol)
                all_ok &= ok
                results["checks"].append(dict(res, model="reference", ok=ok))
            else:
                log("  SKIP: reference check: no folder %s" % args.reference)
        built = []  # (cfg, pomt rows, peer rows)
        calib = calibration_images(args.calibrate) if args.int8 else None
        for path in models:
            if package is not None:
                cfg, w = package.read_weights(path)
                if onnx_export.dequantize(w):  # the peers would run fp32 arithmetic on pomt's int8 weights
                    sys.exit("%s is an int8 model: give its fp32 model (--int8 adds the int8 rows)" % path)
            else:  # pomt rows only; no checks (they need the model's input size)
                stem = os.path.basename(path)[:-len(".pomt")] if path.endswith(".pomt") else os.path.basename(path)
                cfg, w = {"architecture": stem}, None
            name = cfg["architecture"]
            prows = pomt_rows(pomt, path, args, data)
            rows = []
            if versions:
                onnx_bytes = onnx_export.build_onnx(cfg, w).SerializeToString()
                onnx_path = os.path.join(workdir, name + ".onnx")
                with open(onnx_path, "wb") as f:
                    f.write(onnx_bytes)
                ctx = Ctx(name=name, cfg=cfg, onnx_path=onnx_path, onnx_bytes=onnx_bytes, workdir=workdir,
                          int8=args.int8, per_channel=args.per_channel, calib_images=calib, cpu_flags=cpu_flags,
                          log=log, saved={})
                for p in versions:
                    try:
                        rows += peers.PEERS[p][1](ctx)
                    except Exception as e:  # a conversion that fails: that peer is skipped for this model
                        log("  SKIP: %s on %s: %s" % (p, name, str(e).strip()[:400]))
                if args.save_onnx:
                    os.makedirs(args.save_onnx, exist_ok=True)
                    with open(os.path.join(args.save_onnx, name + ".onnx"), "wb") as f:
                        f.write(onnx_bytes)
                    if "ort_int8.onnx" in ctx.saved:
                        with open(os.path.join(args.save_onnx, name + ".int8.onnx"), "wb") as f:
                            f.write(ctx.saved["ort_int8.onnx"])
            del w
            if package is None:
                log("  SKIP: checks of %s: no peers, and pomt int8 is checked against pomt fp32 only with the pomt package" % name)
                built.append((cfg, prows, rows))
                continue
            rows, checks = check_model(pomt, cfg, prows, rows, args.tol, workdir)
            results["checks"] += checks
            if not correctness_gate(rows):
                all_ok = False
            built.append((cfg, prows, rows))
        if not all_ok:
            log("\ncorrectness check failed (pomt disagrees with ONNX Runtime or with every fp32 peer): not timing")
            return 1
        if args.check_only:
            return 0

        log("\nlatency, batch 1: %d blocks × %d runs (+%d warm-up) per row, rows rotated between blocks; ms = median over "
            "blocks of each block's median (p10–p90 likewise); pomt X / row = median over blocks of the per-block ratio "
            "(min–max)" % (args.blocks, args.runs, args.warmup))
        rows_by_model, prow_titles = {}, {}
        for cfg, prows, rows in built:
            rows_by_model[cfg["architecture"]] = {r.key: r for r in prows + rows}
            for p in prows:
                prow_titles.setdefault(p.key, p.label)
            for t in threads:
                l0 = os.getloadavg()[0]
                r = time_model(pomt, cfg, prows, rows, t, args)
                l1 = os.getloadavg()[0]
                r["load_before"], r["load_after"] = l0, l1
                results["timings"].append(r)
                log("  timed %-24s %d thread%s: pomt fp32 %.2f ms; %d rows; load %.1f→%.1f" % (
                    cfg["architecture"], t, "" if t == 1 else "s", r["rows"]["pomt_fp32"]["median"], len(r["rows"]), l0, l1))
        notes = []
        if "ncnn" in versions and args.int8:
            notes.append("ncnn: no int8 row (ncnn2table / ncnn2int8 are not in the ncnn or pnnx wheels).")
        if any(getattr(r, "check", {}).get("ok") is False for _, _, rows in built for r in rows):
            notes.append("DEVIATES: that row's fp32 logits differ from pomt's (and the ONNX graph's) by more than --tol.")
        print_tables(results["timings"], rows_by_model, prow_titles, threads, cpu_name, notes)
        thread_scaling(results["timings"], threads)
    if args.json:
        for r in results["timings"]:
            for v in r["rows"].values():
                v["blocks"] = [{k: b[k] for k in ("median", "p10", "p90")} for b in v["blocks"]]
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
