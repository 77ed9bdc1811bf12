#!/usr/bin/env python3
"""Classify images with pomt from Python, optionally with token pruning.

    python3 examples/python/classify.py MODEL.pomt|HUB_FOLDER IMAGE... [--prune pomt:R=56,layer=3] [--top 5]

A hub folder (config.json + model.safetensors, e.g. ../shared/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k)
is converted to a temporary .pomt first.
"""
import argparse
import os
import sys
import tempfile
import time

import pomt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help=".pomt file or timm hub folder")
    ap.add_argument("images", nargs="+")
    ap.add_argument("--prune", default=None, help="e.g. pomt:R=56,layer=3, topk:r=8, tome:r=13")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.model
            if os.path.isdir(path):
                path = os.path.join(tmp, "model.pomt")
                pomt.convert(args.model, path)
            m = pomt.load(path, threads=args.threads)
            print("%s, pruning: %s" % (m.architecture, m.describe(args.prune)))
            for image in args.images:
                t0 = time.perf_counter()
                top = m.classify(image, top=args.top, prune=args.prune)
                ms = (time.perf_counter() - t0) * 1e3
                print("%s  (%.1f ms)" % (image, ms))
                for rank, (index, prob, name) in enumerate(top, 1):
                    print("  %d  %.4f  %4d  %s" % (rank, prob, index, name))
    except pomt.Error as e:
        print("classify.py: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
