#!/usr/bin/env python3
"""pomt vs timm on the same model and input: max |delta logit|, with and without a pruning spec's
effect shown alongside (timm has no pruning: the pruned line shows how far pruning moves the logits).

    pip install torch timm
    python3 examples/python/compare_timm.py [deit_tiny_patch16_224] [--pretrained] [--prune pomt:R=56,layer=3]

Without --pretrained the model has timm's random initialisation (no download).
"""
import argparse
import sys

import numpy as np

import pomt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arch", nargs="?", default="deit_tiny_patch16_224")
    ap.add_argument("--pretrained", action="store_true")
    ap.add_argument("--prune", default="pomt:R=56,layer=3")
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args()
    try:
        import timm
        import torch
    except ImportError:
        print("compare_timm.py: needs torch and timm (pip install torch timm); skipped")
        return 0
    model = timm.create_model(args.arch, pretrained=args.pretrained).eval()
    m = pomt.from_timm(model)
    x = np.random.default_rng(0).standard_normal((args.batch,) + m.input_shape).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = m.run(x)
    print("%s: max |delta logit| pomt vs timm = %.3g (max |logit| %.3g), top-1 equal: %s"
          % (args.arch, np.abs(got - ref).max(), np.abs(ref).max(), bool((got.argmax(1) == ref.argmax(1)).all())))
    if args.prune:
        pruned = m.run(x, prune=args.prune)
        print("%s (%s): max |delta logit| vs unpruned timm = %.3g, top-1 equal: %s"
              % (args.prune, m.describe(args.prune), np.abs(pruned - ref).max(),
                 bool((pruned.argmax(1) == ref.argmax(1)).all())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
