#!/usr/bin/env python3
"""Agreement of pomt's per-image top-1 (`pomt eval --predictions FILE`) with the reference
PyTorch implementations' (reference_predictions.tsv), for one setting column.

usage: python3 tools/fidelity.py REFERENCE_TSV COLUMN POMT_PREDICTIONS_TSV
prints: column, images, agreement %, pomt top-1 %, reference top-1 %
"""
import os
import sys


def read_tsv(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        return header, [line.rstrip("\n").split("\t") for line in f if line.strip()]


def main():
    ref_path, column, pred_path = sys.argv[1:4]
    rh, rrows = read_tsv(ref_path)
    col = rh.index(column)
    ref = {os.path.basename(r[0]): (int(r[1]), int(r[col])) for r in rrows}  # pomt writes root-joined paths
    ph, prows = read_tsv(pred_path)
    agree = ours_ok = ref_ok = n = 0
    for path, label, top1 in prows:
        image = os.path.basename(path)
        if image not in ref:
            sys.exit(f"{pred_path}: {image} is not in {ref_path}")
        ref_label, ref_top1 = ref[image]
        if int(label) != ref_label:
            sys.exit(f"{image}: label {label} differs from the reference's {ref_label}")
        ours = int(top1) if top1 != "skipped" else -1
        n += 1
        agree += ours == ref_top1
        ours_ok += ours == ref_label
        ref_ok += ref_top1 == ref_label
    if n != len(ref):
        sys.exit(f"{pred_path}: {n} images, the reference has {len(ref)}")
    print(f"{column}\t{n}\t{100.0 * agree / n:.2f}\t{100.0 * ours_ok / n:.2f}\t{100.0 * ref_ok / n:.2f}")


if __name__ == "__main__":
    main()
