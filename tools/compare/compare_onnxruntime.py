#!/usr/bin/env python3
"""pomt vs ONNX Runtime: same model, same input, same run; prints the latency ratio pomt / ORT.

Needs (a benchmark script, not part of the tests):

    pip install . onnx onnxruntime numpy   (. is the pomt package: its read_weights reads the .pomt)

and a built pomt (`make`, or `make BUILD=build-perf build-perf/pomt`). No PyTorch: the ONNX graph
is built from the .pomt weights by tools/compare/onnx_export.py (the graph torch.onnx.export writes
for timm's VisionTransformer, opset 17, batch 1).

    python3 tools/compare/compare_onnxruntime.py                      # DeiT-Tiny, DeiT-Small, ViT-Base at 1 and 2 threads
    python3 tools/compare/compare_onnxruntime.py --arch deit_tiny_patch16_224 --threads 1 --blocks 3
    python3 tools/compare/compare_onnxruntime.py -m vit_tiny.pomt --check-only

What it does:
  1. Correctness, per model: a seeded random input (1,3,S,S) through `pomt run` and through ORT;
     the logits must agree within 1e-4 · max|logit| (else exit 1). With --reference DIR (default:
     ../shared/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k when present) the real timm
     checkpoint is converted with `pomt convert` and ORT and pomt are both checked against the
     folder's reference/logits.npy (timm's logits for reference/input.npy).
  2. Timing, per model and thread count: `--blocks` alternating blocks (pomt first in even blocks,
     ORT first in odd ones). A pomt block is one `pomt bench -m X --threads T --runs R --warmup W
     --json` process; an ORT block is W warm-up then R timed `InferenceSession.run` calls in this
     process (intra_op_num_threads = T, inter_op 1, sequential, ORT_ENABLE_ALL). Each block gives
     median / p10 / p90 (linear interpolation, as pomt's bench); the table shows, per engine, the
     median over blocks of those, and the ratio pomt/ORT = median over blocks of
     (pomt block median / ORT block median) with its min–max over blocks.
     The 1-minute load average before and after each model is printed: on a shared machine,
     rerun when it is far above the thread count.
  3. With --int8 (instead of 2.): ORT's int8 model of each graph (quantize_dynamic, QInt8 weights
     per tensor, or per output channel with --per-channel; quantize_ort below says exactly what it
     quantizes) and pomt's (`pomt quantize MODEL -o INT8.pomt [--data LIST]` with --calibrate; when
     the pomt binary has no such command the pomt int8 side is skipped with a note). The logits of
     one random input, int8 against fp32 per engine, are printed (not judged: random weights; real
     accuracy is tools/compare/accuracy_onnxruntime.py's). Then pomt fp32, pomt int8, ORT fp32 and ORT
     int8 alternate in blocks (that order in even blocks, reversed in odd ones) and the table gives
     per-block-ratio medians (min–max) for pomt8/ORT8, pomt8/pomt32, ORT8/ORT32, pomt32/ORT32 and
     pomt32/ORT8.

    python3 tools/compare/compare_onnxruntime.py --int8 [--per-channel] [--calibrate labels.txt]
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

import onnx_export  # a sibling: run as a script, this folder is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout

DEFAULT_ARCHS = ["deit_tiny_patch16_224", "deit_small_patch16_224", "vit_base_patch16_224"]
DEFAULT_REFERENCE = os.path.join(ROOT, "..", "shared", "models", "vit_tiny_patch16_224.augreg_in21k_ft_in1k")


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


def ort_session(onnx_bytes, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def rel_err(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def pomt_logits(pomt, model, x, workdir):
    inp, out = os.path.join(workdir, "in.npy"), os.path.join(workdir, "out.npy")
    np.save(inp, np.ascontiguousarray(x, dtype=np.float32))
    run([pomt, "run", "-m", model, "--input", inp, "--output", out])
    return np.load(out)


def ort_logits(sess, x):
    return np.concatenate([sess.run(None, {"pixels": x[i:i + 1]})[0] for i in range(x.shape[0])])


def check_random_input(pomt, model, onnx_bytes, cfg, workdir, tol):
    s = cfg["img_size"]
    x = np.random.default_rng(1234).standard_normal((1, 3, s, s)).astype(np.float32)
    a = pomt_logits(pomt, model, x, workdir)
    b = ort_logits(ort_session(onnx_bytes, 1), x)
    e = rel_err(a, b)
    ok = e <= tol
    log("  check %-28s pomt vs ORT on a random input: max|Δ| / max|logit| = %.2e  (max|logit| %.3g, top-1 %s)  %s"
        % (cfg["architecture"], e, np.abs(b).max(), "same" if a.argmax() == b.argmax() else "DIFFERENT",
           "ok" if ok else "FAIL (> %.0e)" % tol))
    return ok, e


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


def quantiles(ms):
    return {"median": float(np.quantile(ms, 0.5)), "p10": float(np.quantile(ms, 0.1)), "p90": float(np.quantile(ms, 0.9))}


def pomt_block(pomt, model, threads, runs, warmup, full_last_block=False):
    out = run([pomt, "bench", "-m", model, "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup), "--json"]
              + (["--full-last-block"] if full_last_block else []))
    j = json.loads(out.strip().splitlines()[-1])
    return {"median": j["median_ms"], "p10": j["p10_ms"], "p90": j["p90_ms"], "isa": j.get("isa", "?")}


def ort_block(sess, feed, runs, warmup):
    for _ in range(warmup):
        sess.run(None, feed)
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        ms.append((time.perf_counter() - t0) * 1e3)
    return quantiles(ms)


def alternate_blocks(engines, blocks):
    """engines: [(name, block_fn)]; block b runs them in list order when b is even, reversed when odd.
    Returns {name: [block result, ...]}."""
    out = {name: [] for name, _ in engines}
    for b in range(blocks):
        for name, fn in (engines if b % 2 == 0 else engines[::-1]):
            out[name].append(fn())
    return out


def block_ratio(num, den):
    """Median over blocks of num block median / den block median, and its min and max."""
    r = [a["median"] / b["median"] for a, b in zip(num, den)]
    return {"ratio": float(np.median(r)), "ratio_min": min(r), "ratio_max": max(r)}


def median_of_blocks(blocks_):
    return {k: float(np.median([x[k] for x in blocks_])) for k in ("median", "p10", "p90")}


def time_model(pomt, model, onnx_bytes, cfg, threads, runs, warmup, blocks, full_last_block=False):
    s = cfg["img_size"]
    feed = {"pixels": np.random.default_rng(7).standard_normal((1, 3, s, s)).astype(np.float32)}
    sess = ort_session(onnx_bytes, threads)
    ort_block(sess, feed, 1, warmup)  # first-run allocations outside the blocks
    res = alternate_blocks([("pomt", lambda: pomt_block(pomt, model, threads, runs, warmup, full_last_block)),
                            ("ort", lambda: ort_block(sess, feed, runs, warmup))], blocks)
    del sess
    pb, ob = res["pomt"], res["ort"]
    return dict({
        "model": cfg["architecture"], "threads": threads, "blocks": blocks, "runs_per_block": runs, "isa": pb[0]["isa"],
        "pomt": median_of_blocks(pb), "ort": median_of_blocks(ob), "pomt_blocks": pb, "ort_blocks": ob,
    }, **block_ratio(pb, ob))


# ---- int8: ONNX Runtime's quantize_dynamic model beside `pomt quantize`'s

def ort_int8_settings(per_channel, reduce_range=False):
    """The exact quantize_dynamic call (recorded in the output and in docs/RESULTS.md)."""
    return {"weight_type": "QInt8", "per_channel": bool(per_channel), "reduce_range": bool(reduce_range),
            "op_types_to_quantize": "default (Conv, MatMul, Attention, LSTM, Gather, Transpose, EmbedLayerNormalization)",
            "extra_options": "default (MatMulConstBOnly=True, WeightSymmetric=True, ActivationSymmetric=False)",
            "pre_process": "none"}


def quantize_ort(onnx_bytes, per_channel, reduce_range=False):
    """ONNX Runtime's dynamic int8 model of an fp32 graph: quantize_dynamic with its defaults except
    weight_type QInt8 (per_channel and reduce_range as asked). Weights of every MatMul with a constant B (the
    Linears) and of the patch-embedding Conv become symmetric s8 (one scale per tensor, or per output
    column); activations are quantized at run time to u8 with one scale and zero point per tensor
    (DynamicQuantizeLinear) before MatMulInteger / ConvInteger. The attention products (Q·Kᵀ, P·V:
    no constant operand), LayerNorm, Softmax and GELU stay fp32. No pre-processing pass. reduce_range
    makes the weights 7-bit, which ORT advises on CPUs without VNNI, "especially for per-channel mode"
    (its u8·s8 AVX2 kernel can saturate int16 pair sums; VNNI's vpdpbusd cannot)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    with tempfile.TemporaryDirectory(prefix="pomt_ortq_") as d:
        src, dst = os.path.join(d, "fp32.onnx"), os.path.join(d, "int8.onnx")
        with open(src, "wb") as f:
            f.write(onnx_bytes)
        import logging
        logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" warning: we do not, on purpose
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=per_channel, reduce_range=reduce_range)
        onnx.checker.check_model(dst)
        with open(dst, "rb") as f:
            return f.read()


def quantized_op_counts(onnx_bytes):
    import onnx
    ops = {}
    for n in onnx.load_from_string(onnx_bytes).graph.node:
        if n.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "MatMul", "Conv"):
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def pomt_quantize(pomt, model, out, data=None):
    """`pomt quantize MODEL -o OUT [--data LIST]`; None (and why, printed) when it is unavailable or fails."""
    cmd = [pomt, "quantize", model, "-o", out] + (["--data", data] if data else [])
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode == 0:
        return out
    if "unknown command" in p.stderr:
        log("  NOTE: %s has no `quantize` command yet: the pomt int8 side is skipped (ORT int8 still runs); "
            "rerun with a pomt that has it" % pomt)
    else:
        log("  NOTE: `%s` failed (exit %d): %s\n  the pomt int8 side is skipped" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return None


def int8_check(pomt, model, model8, onnx_bytes, onnx8, cfg, workdir):
    """What int8 does to the logits of one random input, for each engine (reported, not judged: with
    random weights the error says little; accuracy_onnxruntime.py measures it on real images)."""
    s = cfg["img_size"]
    x = np.random.default_rng(1234).standard_normal((1, 3, s, s)).astype(np.float32)
    o32, o8 = ort_logits(ort_session(onnx_bytes, 1), x), ort_logits(ort_session(onnx8, 1), x)
    res = {"model": cfg["architecture"], "ort_int8_vs_fp32": rel_err(o8, o32), "ort_int8_ops": quantized_op_counts(onnx8)}
    line = "  int8 %-28s ORT int8 vs ORT fp32 %.2e (top-1 %s; ops %s)" % (
        cfg["architecture"], res["ort_int8_vs_fp32"], "same" if o8.argmax() == o32.argmax() else "different",
        ", ".join("%s %d" % kv for kv in sorted(res["ort_int8_ops"].items())))
    if model8:
        p32, p8 = pomt_logits(pomt, model, x, workdir), pomt_logits(pomt, model8, x, workdir)
        res["pomt_int8_vs_fp32"] = rel_err(p8, p32)
        line += "; pomt int8 vs pomt fp32 %.2e (top-1 %s)" % (res["pomt_int8_vs_fp32"],
                                                               "same" if p8.argmax() == p32.argmax() else "different")
    log(line + "  (max|Δ| / max|logit|)")
    return res


def time_model_int8(pomt, model, model8, onnx_bytes, onnx8, cfg, threads, runs, warmup, blocks):
    """pomt fp32, pomt int8 (when model8), ORT fp32 and ORT int8 in alternated blocks (list order in
    even blocks, reversed in odd ones); the ratios are medians over blocks of per-block ratios."""
    s = cfg["img_size"]
    feed = {"pixels": np.random.default_rng(7).standard_normal((1, 3, s, s)).astype(np.float32)}
    sess32, sess8 = ort_session(onnx_bytes, threads), ort_session(onnx8, threads)
    for sess in (sess32, sess8):
        ort_block(sess, feed, 1, warmup)
    engines = [("pomt_fp32", lambda: pomt_block(pomt, model, threads, runs, warmup))]
    if model8:
        engines.append(("pomt_int8", lambda: pomt_block(pomt, model8, threads, runs, warmup)))
    engines += [("ort_fp32", lambda: ort_block(sess32, feed, runs, warmup)),
                ("ort_int8", lambda: ort_block(sess8, feed, runs, warmup))]
    res = alternate_blocks(engines, blocks)
    del sess32, sess8
    r = {"model": cfg["architecture"], "threads": threads, "blocks": blocks, "runs_per_block": runs,
         "isa": res["pomt_fp32"][0]["isa"], "engines": {k: median_of_blocks(v) for k, v in res.items()},
         "block_results": res, "ratios": {}}
    pairs = [("ort_int8", "ort_fp32"), ("pomt_fp32", "ort_fp32"), ("pomt_fp32", "ort_int8")]
    if model8:
        pairs = [("pomt_int8", "ort_int8"), ("pomt_int8", "pomt_fp32")] + pairs
    for a, b in pairs:
        r["ratios"]["%s/%s" % (a, b)] = block_ratio(res[a], res[b])
    return r


def report_int8(pomt, built, args, workdir, results):
    data = os.path.abspath(args.calibrate) if args.calibrate else None
    log("\nint8: ORT quantize_dynamic %s" % json.dumps(ort_int8_settings(args.per_channel)))
    log("      pomt: `pomt quantize MODEL -o INT8.pomt%s`" % (" --data " + data if data else ""))
    results["int8"] = {"ort_settings": ort_int8_settings(args.per_channel), "pomt_calibration": data,
                       "checks": [], "timings": []}
    int8 = []
    for path, cfg, onnx_bytes in built:
        onnx8 = quantize_ort(onnx_bytes, args.per_channel)
        model8 = pomt_quantize(pomt, path, os.path.splitext(path)[0] + ".int8.pomt", data) if pomt else None
        if args.save_onnx:
            with open(os.path.join(args.save_onnx, cfg["architecture"] + ".int8.onnx"), "wb") as f:
                f.write(onnx8)
        results["int8"]["checks"].append(int8_check(pomt, path, model8, onnx_bytes, onnx8, cfg, workdir))
        int8.append((path, model8, cfg, onnx_bytes, onnx8))
    if args.check_only:
        return
    log("\nint8 latency, batch 1: %d alternated blocks × %d runs (+%d warm-up) per engine; ms = median over blocks "
        "of each block's median; ratio = median over blocks of per-block ratios (min–max)" % (args.blocks, args.runs, args.warmup))
    log("  %-24s %3s %6s  %9s %9s %9s %9s  %-22s %-22s %-22s %-22s %-22s %s" % (
        "model", "thr", "isa", "pomt32", "pomt8", "ORT32", "ORT8", "pomt8/ORT8", "pomt8/pomt32", "ORT8/ORT32",
        "pomt32/ORT32", "pomt32/ORT8", "load"))
    fmt = lambda r, k: ("%6.3f (%.3f–%.3f)" % (r[k]["ratio"], r[k]["ratio_min"], r[k]["ratio_max"])  # noqa: E731
                        if k in r else "—")
    for path, model8, cfg, onnx_bytes, onnx8 in int8:
        for t in [int(t) for t in args.threads.split(",")]:
            l0 = os.getloadavg()[0]
            r = time_model_int8(pomt, path, model8, onnx_bytes, onnx8, cfg, t, args.runs, args.warmup, args.blocks)
            l1 = os.getloadavg()[0]
            r["load_before"], r["load_after"] = l0, l1
            results["int8"]["timings"].append(r)
            e, q = r["engines"], r["ratios"]
            log("  %-24s %3d %6s  %9.2f %9s %9.2f %9.2f  %-22s %-22s %-22s %-22s %-22s %.1f→%.1f" % (
                cfg["architecture"], t, r["isa"], e["pomt_fp32"]["median"],
                "%.2f" % e["pomt_int8"]["median"] if "pomt_int8" in e else "—", e["ort_fp32"]["median"],
                e["ort_int8"]["median"], fmt(q, "pomt_int8/ort_int8"), fmt(q, "pomt_int8/pomt_fp32"),
                fmt(q, "ort_int8/ort_fp32"), fmt(q, "pomt_fp32/ort_fp32"), fmt(q, "pomt_fp32/ort_int8"), l0, l1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pomt", default=os.path.join(ROOT, "build", "pomt"), help="the pomt binary (default build/pomt)")
    ap.add_argument("--arch", action="append", help="timm architecture (random weights); repeatable")
    ap.add_argument("-m", "--model", action="append", help="a .pomt file; repeatable")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--runs", type=int, default=30, help="timed runs per block (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up runs per block (default 5)")
    ap.add_argument("--blocks", type=int, default=6, help="alternating blocks per engine (default 6)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max|Δ| / max|logit| allowed (default 1e-4)")
    ap.add_argument("--reference", default=DEFAULT_REFERENCE, help="hub folder with reference/input.npy, logits.npy")
    ap.add_argument("--no-reference", action="store_true", help="skip the real-weights check")
    ap.add_argument("--check-only", action="store_true", help="correctness checks only, no timing")
    ap.add_argument("--save-onnx", metavar="DIR", help="also write each model's .onnx into DIR")
    ap.add_argument("--json", metavar="FILE", help="write all results as JSON")
    ap.add_argument("--full-last-block", action="store_true",
                    help="pomt computes every row of the last block, as ORT does (by default pomt computes the "
                         "class token's row only: the same logits, ~7%% less work)")
    ap.add_argument("--int8", action="store_true",
                    help="instead of the fp32 timing: pomt int8 (`pomt quantize`) and ORT int8 (quantize_dynamic) beside both "
                         "fp32 models, four engines alternated")
    ap.add_argument("--per-channel", action="store_true", help="with --int8: ORT weights per output channel (default per tensor)")
    ap.add_argument("--calibrate", metavar="LIST", help="with --int8: `pomt quantize --data LIST` (default: weights only)")
    args = ap.parse_args(argv)

    import onnx
    import onnxruntime as ort
    pomt = pomt_binary(args.pomt)
    threads = [int(t) for t in args.threads.split(",")]
    archs = args.arch or ([] if args.model else DEFAULT_ARCHS)
    log("pomt %s | onnxruntime %s, onnx %s, numpy %s, python %s | %d CPUs, load average %s"
        % (pomt, ort.__version__, onnx.__version__, np.__version__, sys.version.split()[0], os.cpu_count(),
           " ".join("%.2f" % l for l in os.getloadavg())))
    results = {"onnxruntime": ort.__version__, "checks": [], "timings": []}
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="pomt_ort_") as workdir:
        models = []
        for a in archs:
            path = os.path.join(workdir, a + ".pomt")
            run([pomt, "convert", "--arch", a, "--random", "-o", path, "--quiet"])
            models.append(path)
        models += [os.path.abspath(m) for m in (args.model or [])]

        log("\ncorrectness (tolerance %.0e · max|logit|):" % args.tol)
        if not args.no_reference and args.reference:
            if os.path.isdir(args.reference):
                ok, res = check_reference(pomt, args.reference, workdir, args.tol)
                all_ok &= ok
                results["checks"].append(dict(res, model="reference", ok=ok))
            else:
                log("  SKIP: reference check: no folder %s" % args.reference)
        built = []
        for path in models:
            import pomt as package  # `pomt` here is the binary
            cfg, w = package.read_weights(path)
            if onnx_export.dequantize(w):  # ORT would run fp32 arithmetic on pomt's int8 weights
                sys.exit("%s is an int8 model: give its fp32 model with --int8 to compare the int8 engines" % path)
            onnx_bytes = onnx_export.build_onnx(cfg, w).SerializeToString()
            del w
            if args.save_onnx:
                os.makedirs(args.save_onnx, exist_ok=True)
                with open(os.path.join(args.save_onnx, cfg["architecture"] + ".onnx"), "wb") as f:
                    f.write(onnx_bytes)
            ok, e = check_random_input(pomt, path, onnx_bytes, cfg, workdir, args.tol)
            all_ok &= ok
            results["checks"].append({"model": cfg["architecture"], "rel_err": e, "ok": ok})
            built.append((path, cfg, onnx_bytes))
        if not all_ok:
            log("\ncorrectness check failed: not timing")
            return 1
        if args.int8:
            report_int8(pomt, built, args, workdir, results)
        elif args.check_only:
            return 0
        else:
            report_fp32(pomt, built, args, threads, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def report_fp32(pomt, built, args, threads, results):
    log("\nlatency, batch 1: %d alternating blocks × %d runs (+%d warm-up) per engine; per engine the median over "
        "blocks of each block's median / p10 / p90; ratio = median over blocks of pomt/ORT (min–max)"
        % (args.blocks, args.runs, args.warmup))
    log("  %-24s %3s %6s  %9s %17s  %9s %17s  %7s %13s  %s" % ("model", "thr", "isa", "pomt ms", "p10–p90", "ORT ms",
                                                              "p10–p90", "pomt/ORT", "min–max", "load"))
    for path, cfg, onnx_bytes in built:
        for t in threads:
            l0 = os.getloadavg()[0]
            r = time_model(pomt, path, onnx_bytes, cfg, t, args.runs, args.warmup, args.blocks, args.full_last_block)
            l1 = os.getloadavg()[0]
            r["load_before"], r["load_after"] = l0, l1
            results["timings"].append(r)
            p, o = r["pomt"], r["ort"]
            log("  %-24s %3d %6s  %9.2f %8.2f–%-8.2f  %9.2f %8.2f–%-8.2f  %7.3f %6.3f–%-6.3f  %.1f→%.1f"
                % (cfg["architecture"], t, r["isa"], p["median"], p["p10"], p["p90"], o["median"], o["p10"], o["p90"],
                   r["ratio"], r["ratio_min"], r["ratio_max"], l0, l1))
    speedups = {}
    for r in results["timings"]:
        speedups.setdefault(r["model"], {})[r["threads"]] = r
    if len(threads) > 1:
        log("\nthread scaling (1-thread median / %d-thread median):" % max(threads))
        for m, by in speedups.items():
            if 1 in by and max(threads) in by:
                log("  %-24s pomt %.2fx   ORT %.2fx" % (m, by[1]["pomt"]["median"] / by[max(threads)]["pomt"]["median"],
                                                        by[1]["ort"]["median"] / by[max(threads)]["ort"]["median"]))


if __name__ == "__main__":
    sys.exit(main())
