#!/usr/bin/env python3
"""Top-1 / top-5 on labelled images for ONNX Runtime fp32 and int8 (quantize_dynamic, per tensor
and per channel) beside pomt, on the same preprocessed tensors; per-image top-1 agreement with pomt fp32.

Needs (a benchmark script, not part of the tests): pip install . onnx onnxruntime numpy (the
pomt package reads the .pomt for the ONNX export); a built pomt.

    python3 tools/compare/accuracy_onnxruntime.py --prune pomt:R=56,layer=3     # real ViT-Tiny, the 1300 shared images
    python3 tools/compare/accuracy_onnxruntime.py --images 100 --pomt-row vit_tiny.int8.pomt \\
        --pomt-row "vit_tiny.int8.pomt@pomt:R=56,layer=3" --pomt-row "vit_tiny.pomt@tome:r=13"

What it does:
  - the model: -m FILE, or (default) the real timm ViT-Tiny of $POMT_SHARED/models converted with
    `pomt convert`; its ONNX graph from tools/compare/onnx_export.py, and ORT's int8 models of that graph
    from peers.quantize_ort (the exact quantize_dynamic settings are printed);
  - the images: `pomt preprocess -m MODEL` in chunks, i.e. pomt's decoder and timm's eval transform
    (the tensors `pomt eval` classifies), so every row sees the same input bytes;
  - rows: pomt fp32 (`pomt run`), ORT fp32, ORT int8 per-tensor, ORT int8 per-channel (sessions at
    --threads, ORT_ENABLE_ALL, batch 1), and each --pomt-row FILE[@PRUNE] (`pomt run -m FILE
    [--prune PRUNE]`: an int8 .pomt, or a pruned schedule);
  - with --prune pomt:R=56,layer=3: the same rows with POMT (pomt's --prune; ORT on the pruned graph
    onnx_export.py writes). ToMe and Top-K are not in the ONNX export: pomt rows only (--pomt-row);
  - per row: top-1 %, top-5 % against the labels and the % of images whose top-1 equals that of pomt
    fp32 with the same pruning (unpruned for a --pomt-row whose pruning has no pomt fp32 row).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import compare_peers as cmp  # siblings: run as a script, this folder is on sys.path
import onnx_export

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout

SHARED = os.environ.get("POMT_SHARED", os.path.join(ROOT, "..", "shared"))
VIT_TINY = os.path.join(SHARED, "models", "vit_tiny_patch16_224.augreg_in21k_ft_in1k")
IMAGES = os.path.join(SHARED, "data", "imagenet-val-1300", "labels.txt")


def read_labels(path, root, limit):
    items = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                sys.exit("%s:%d: expected 'IMAGE LABEL'" % (path, n))
            items.append((os.path.join(root, parts[0]), int(parts[1])))
    return items[:limit] if limit else items


def top5(logits):
    return np.argsort(-logits, axis=1, kind="stable")[:, :5]


class Row:
    def __init__(self, name, predict, prune):
        self.name, self.predict, self.prune, self.top5 = name, predict, prune, []

    def summary(self, labels, reference):
        t5 = np.concatenate(self.top5)
        return {"row": self.name, "images": len(labels),
                "top1": 100.0 * float(np.mean(t5[:, 0] == labels)),
                "top5": 100.0 * float(np.mean((t5 == labels[:, None]).any(1))),
                "agreement_with_pomt_fp32": 100.0 * float(np.mean(t5[:, 0] == reference))}


def reference_top1(rows, prune):
    """Top-1 of the pomt fp32 row with the same pruning (the unpruned one when there is none)."""
    ref = {r.prune: r for r in rows if r.name.startswith("pomt fp32")}
    return np.concatenate(ref.get(prune, ref[None]).top5)[:, 0]


def pomt_row(pomt, model, prune, threads, workdir):
    def predict(x_path, _x):
        out = os.path.join(workdir, "logits.npy")
        cmp.run([pomt, "run", "-m", model, "--input", x_path, "--output", out, "--threads", str(threads)]
                + (["--prune", prune] if prune else []))
        return np.load(out)
    return predict


def ort_row(onnx_bytes, threads):
    sess = cmp.ort_session(onnx_bytes, threads)
    return lambda _x_path, x: cmp.ort_logits(sess, x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pomt", default=os.path.join(ROOT, "build", "pomt"), help="the pomt binary (default build/pomt)")
    ap.add_argument("-m", "--model", help="fp32 .pomt (default: %s converted)" % VIT_TINY)
    ap.add_argument("--data", default=IMAGES, help="'IMAGE LABEL' lines (default the 1300 shared images)")
    ap.add_argument("--root", help="image paths are relative to this (default the list's folder)")
    ap.add_argument("--images", type=int, default=0, help="only the first N images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=100, help="images per `pomt preprocess` call (default 100)")
    ap.add_argument("--pomt-row", action="append", default=[], metavar="FILE[@PRUNE]",
                    help="also `pomt run -m FILE [--prune PRUNE]` as a row; repeatable")
    ap.add_argument("--prune", action="append", default=[], metavar="pomt:R=INT,layer=INT",
                    help="also these rows with POMT in the graph (pomt fp32 with --prune, ORT fp32 and int8 of the pruned "
                         "ONNX graph); repeatable. ToMe / Top-K are not in the ONNX export: with --no-ort any "
                         "pomt spec (the pomt fp32 reference row of --pomt-row FILE@SPEC)")
    ap.add_argument("--no-ort", action="store_true", help="pomt rows only")
    ap.add_argument("--reduce-range", action="store_true", help="also ORT int8 rows with 7-bit weights (reduce_range=True)")
    ap.add_argument("--json", metavar="FILE", help="write the rows (and the ORT settings) as JSON")
    args = ap.parse_args(argv)

    import onnxruntime as ort
    pomt = cmp.pomt_binary(args.pomt)
    if not args.no_ort:
        for spec in args.prune:
            try:
                onnx_export.parse_pomt_spec(spec)
            except ValueError as e:
                sys.exit("--prune %s (or add --no-ort: pomt rows only)" % e)
    items = read_labels(args.data, args.root or os.path.dirname(os.path.abspath(args.data)), args.images)
    if not items:
        sys.exit("%s: no images" % args.data)
    with tempfile.TemporaryDirectory(prefix="pomt_acc_") as workdir:
        model = os.path.abspath(args.model) if args.model else os.path.join(workdir, "vit_tiny.pomt")
        if not args.model:
            cmp.run([pomt, "convert", VIT_TINY, "-o", model, "--quiet"])
        rows = []
        cfg, w = onnx_export.read_pomt(model)
        settings = {}
        for prune in [None] + args.prune:
            at = " @ " + prune if prune else ""
            rows.append(Row("pomt fp32" + at, pomt_row(pomt, model, prune, args.threads, workdir), prune))
            if args.no_ort:
                continue
            fp32 = onnx_export.build_onnx(cfg, w, pomt_prune=onnx_export.parse_pomt_spec(prune) if prune else None)
            fp32 = fp32.SerializeToString()
            rows.append(Row("ORT fp32" + at, ort_row(fp32, args.threads), prune))
            for reduce_range in ((False, True) if args.reduce_range else (False,)):
                for per_channel in (False, True):
                    name = "ORT int8 per-%s%s" % ("channel" if per_channel else "tensor", ", reduce_range" if reduce_range else "")
                    settings[name] = cmp.ort_int8_settings(per_channel, reduce_range)
                    rows.append(Row(name + at, ort_row(cmp.quantize_ort(fp32, per_channel, reduce_range), args.threads), prune))
        del w
        for spec in args.pomt_row:
            path, _, prune = spec.partition("@")
            rows.append(Row("pomt %s%s" % (os.path.basename(path), " @ " + prune if prune else ""),
                            pomt_row(pomt, os.path.abspath(path), prune or None, args.threads, workdir), prune or None))
        cmp.log("pomt %s, onnxruntime %s, %d images of %s, %d threads; ORT int8 rows: quantize_dynamic %s, per_channel "
                "and reduce_range as the row says" % (pomt, ort.__version__, len(items), args.data, args.threads,
                                                      json.dumps(cmp.ort_int8_settings(False))))
        x_path = os.path.join(workdir, "x.npy")
        for c in range(0, len(items), args.chunk):
            chunk = items[c:c + args.chunk]
            cmp.run([pomt, "preprocess", "-m", model, "-o", x_path] + [p for p, _ in chunk])
            x = np.load(x_path)
            for r in rows:
                r.top5.append(top5(r.predict(x_path, x)))
            cmp.log("  %d / %d images" % (c + len(chunk), len(items)))
    labels = np.array([l for _, l in items])
    results = [r.summary(labels, reference_top1(rows, r.prune)) for r in rows]
    cmp.log("\n| row | top-1 % | top-5 % | top-1 agrees with pomt fp32 |\n|---|---|---|---|")
    for s in results:
        cmp.log("| %s | %.2f | %.2f | %.2f %% |" % (s["row"], s["top1"], s["top5"], s["agreement_with_pomt_fp32"]))
    # The export is checked here: ORT fp32 must classify as pomt fp32 does (near-ties aside).
    bad = [s["row"] for s in results if s["row"].startswith("ORT fp32") and s["agreement_with_pomt_fp32"] < 99.0]
    if bad:
        cmp.log("\nWARNING: %s agree with pomt fp32 on < 99 %% of the images: the ONNX graph is not pomt's model"
                % ", ".join(bad))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"onnxruntime": ort.__version__, "data": args.data, "images": len(items), "threads": args.threads,
                       "ort_int8_settings": settings, "rows": results}, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
