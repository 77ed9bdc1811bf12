#!/usr/bin/env python3
"""pomt vs ONNX Runtime: same model, same input, same run; prints the latency ratio pomt / ORT.

Needs (a benchmark script, not part of the tests):

    pip install onnx onnxruntime numpy

and a built pomt (`make`, or `make BUILD=build-perf build-perf/pomt`). No PyTorch: the ONNX graph
is built from the .pomt weights by profiler/onnx_export.py (the graph torch.onnx.export writes
for timm's VisionTransformer, opset 17, batch 1).

    python3 profiler/compare_onnxruntime.py                      # DeiT-Tiny, DeiT-Small, ViT-Base at 1 and 2 threads
    python3 profiler/compare_onnxruntime.py --arch deit_tiny_patch16_224 --threads 1 --blocks 3
    python3 profiler/compare_onnxruntime.py -m vit_tiny.pomt --check-only

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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import onnx_export  # noqa: E402

DEFAULT_ARCHS = ["deit_tiny_patch16_224", "deit_small_patch16_224", "vit_base_patch16_224"]
DEFAULT_REFERENCE = os.path.join(ROOT, "..", "shared", "models", "vit_tiny_patch16_224.augreg_in21k_ft_in1k")


def log(msg):
    print(msg, flush=True)


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


def time_model(pomt, model, onnx_bytes, cfg, threads, runs, warmup, blocks, full_last_block=False):
    s = cfg["img_size"]
    feed = {"pixels": np.random.default_rng(7).standard_normal((1, 3, s, s)).astype(np.float32)}
    sess = ort_session(onnx_bytes, threads)
    ort_block(sess, feed, 1, warmup)  # first-run allocations outside the blocks
    pb, ob = [], []
    for b in range(blocks):
        if b % 2 == 0:
            pb.append(pomt_block(pomt, model, threads, runs, warmup, full_last_block))
            ob.append(ort_block(sess, feed, runs, warmup))
        else:
            ob.append(ort_block(sess, feed, runs, warmup))
            pb.append(pomt_block(pomt, model, threads, runs, warmup, full_last_block))
    del sess
    ratios = [p["median"] / o["median"] for p, o in zip(pb, ob)]
    med = lambda blocks_, k: float(np.median([x[k] for x in blocks_]))  # noqa: E731
    return {
        "model": cfg["architecture"], "threads": threads, "blocks": blocks, "runs_per_block": runs, "isa": pb[0]["isa"],
        "pomt": {k: med(pb, k) for k in ("median", "p10", "p90")},
        "ort": {k: med(ob, k) for k in ("median", "p10", "p90")},
        "ratio": float(np.median(ratios)), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "pomt_blocks": pb, "ort_blocks": ob,
    }


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
    args = ap.parse_args(argv)

    import onnx
    import onnxruntime as ort
    pomt = os.path.abspath(args.pomt)
    if not os.access(pomt, os.X_OK):
        sys.exit("no pomt binary at %s (build it, or give --pomt)" % pomt)
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
            cfg, w = onnx_export.read_pomt(path)
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
        if args.check_only:
            return 0

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
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
