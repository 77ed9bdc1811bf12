#!/usr/bin/env python3
"""How often does a loss budget hold on images the search did not see? The decision rules of
`pomt schedule --search pareto --max-loss B` (--rule estimate, bound, confirmed) replayed on many
random splits of one labelled set, from the plans a real search measured.

Each measured plan of FRONT (a `pomt schedule --search pareto -o` file: its "measured" list, with
each plan's measured latency and precision) is evaluated once on every image (`pomt eval
--predictions`); then, for each of --splits random splits into estimation / confirmation / test
images:
  estimate   the fastest plan whose loss on the estimation + confirmation images is within B
  bound      the same with the loss interval's upper end (z 1.96)
  confirmed  fixed-sequence testing (include/pomt/search.h, LossRule::Confirmed): within B by the
             estimate on the estimation images, each other precision's unpruned model, then the
             front's pruned plans (measured latency, estimated top-1) faster than the last of those,
             slowest first; each accepted while its loss's one-sided upper bound on the confirmation
             images is within B; stops at the first failure; none accepted: the unpruned model
and the chosen plan's loss on the test images, which no rule looked at. Losses are top-1 points
against the unpruned model in the first precision (fp32). The search's successive halving is not
replayed (every plan is estimated on every estimation image), nor its latency noise.

  python3 tools/search/budget_rules.py --pomt build/pomt -m vit_tiny.pomt \
      --data ../shared/data/imagenet-val-1300/labels.txt --front front.json --budgets 0.5,1,2
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from math import erf, sqrt


def normal_quantile(p):
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if 0.5 * (1 + erf(mid / sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def paired(base, plan, idx, z):
    """Loss (points) of plan against base on images idx: mean and mean + z*sd/sqrt(n), and -."""
    d = [base[i] - plan[i] for i in idx]
    n = len(d)
    m = sum(d) / n
    var = max(0.0, (sum(x * x for x in d) - n * m * m) / (n - 1)) if n > 1 else 0.0
    half = z * sqrt(var / n)
    return 100 * m, 100 * (m - half), 100 * (m + half)


def correctness(pomt, model, data, root, spec, precision, threads, work):
    sched = os.path.join(work, "plan.json")
    with open(sched, "w") as f:
        json.dump({"prune": spec, "precision": precision}, f)
    pred = os.path.join(work, "pred.tsv")
    cmd = [pomt, "eval", "-m", model, "--data", data, "--schedule", sched, "--predictions", pred,
           "--latency-runs", "0", "--quiet", "--threads", str(threads)]
    if root:
        cmd += ["--root", root]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    out = []
    with open(pred) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 2 or not cols[-1].lstrip("-").isdigit():
                continue  # a header
            out.append(1 if cols[-2] == cols[-1] else 0)
    return out


def front(plans, top1):
    order = sorted(range(len(plans)), key=lambda i: (plans[i]["ms"], -top1[i], i))
    out = []
    for i in order:
        if not out or top1[i] > top1[out[-1]]:
            out.append(i)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pomt", default="build/pomt")
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--root", default="")
    ap.add_argument("--front", required=True, help="a pomt schedule --search pareto -o file")
    ap.add_argument("--budgets", default="0.5,1,2")
    ap.add_argument("--estimate", type=int, default=650, help="estimation images per split")
    ap.add_argument("--confirm", type=int, default=325, help="confirmation images per split (the rest: test)")
    ap.add_argument("--confidence", type=float, default=0.9)
    ap.add_argument("--splits", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", help="per-image correctness JSON: read if present, else written")
    args = ap.parse_args()

    with open(args.front) as f:
        measured = json.load(f)["search"]["measured"]
    plans = [{"spec": p["spec"], "precision": p.get("precision", "fp32"), "ms": p["measured_ms"]}
             for p in measured if not p["spec"].startswith("@")]
    base_i = next(i for i, p in enumerate(plans) if p["spec"] == "none" and p["precision"] == "fp32")
    if args.cache and os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)
    else:
        cache = {}
    with tempfile.TemporaryDirectory() as work:
        for p in plans:
            key = p["precision"] + " " + p["spec"]
            if key not in cache:
                print("evaluating", key, file=sys.stderr)
                cache[key] = correctness(args.pomt, args.model, args.data, args.root, p["spec"], p["precision"],
                                         args.threads, work)
    if args.cache:
        with open(args.cache, "w") as f:
            json.dump(cache, f)
    c = [cache[p["precision"] + " " + p["spec"]] for p in plans]
    n = len(c[0])
    if args.estimate + args.confirm >= n:
        sys.exit("budget_rules.py: %d images: too few for %d + %d and a test set" % (n, args.estimate, args.confirm))
    base_ms = plans[base_i]["ms"]
    z1 = normal_quantile(args.confidence)
    rng = random.Random(2026)
    budgets = [float(b) for b in args.budgets.split(",")]
    rows = {(b, r): [] for b in budgets for r in ("estimate", "bound", "confirmed")}
    for _ in range(args.splits):
        idx = list(range(n))
        rng.shuffle(idx)
        est, conf, test = idx[:args.estimate], idx[args.estimate:args.estimate + args.confirm], \
            idx[args.estimate + args.confirm:]
        both = est + conf
        loss_both = [paired(c[base_i], ci, both, 1.96) for ci in c]
        loss_est = [paired(c[base_i], ci, est, 0)[0] for ci in c]
        top1_est = [100 * sum(ci[i] for i in est) / len(est) for ci in c]
        fr = front(plans, top1_est)
        for b in budgets:
            for rule in ("estimate", "bound"):
                k = 1 if rule == "bound" else 0
                ok = [i for i in range(len(plans)) if (loss_both[i][2] if k else loss_both[i][0]) <= b]
                chosen = min(ok, key=lambda i: (plans[i]["ms"], i))
                rows[(b, rule)].append(chosen)
            ok = [i for i in range(len(plans)) if i != base_i and loss_est[i] <= b and plans[i]["ms"] < base_ms]
            seq = sorted([i for i in ok if plans[i]["spec"] == "none"], key=lambda i: -plans[i]["ms"])
            faster_than = plans[seq[-1]]["ms"] if seq else base_ms
            seq += sorted([i for i in ok if i in fr and plans[i]["spec"] != "none" and plans[i]["ms"] < faster_than],
                          key=lambda i: -plans[i]["ms"])
            chosen = base_i
            for i in seq:
                if paired(c[base_i], c[i], conf, z1)[2] > b:
                    break
                chosen = i
            rows[(b, "confirmed")].append(chosen)
            for rule in ("estimate", "bound", "confirmed"):
                ch = rows[(b, rule)][-1]
                rows[(b, rule)][-1] = (ch, paired(c[base_i], c[ch], test, 0)[0])
    print("%d plans (%s), %d images: %d splits of %d estimation / %d confirmation / %d test; confidence %.2f"
          % (len(plans), os.path.basename(args.front), n, args.splits, args.estimate, args.confirm,
             n - args.estimate - args.confirm, args.confidence))
    print("| budget | rule | test loss > budget | mean test loss | mean latency ratio | pruned or int8 chosen |")
    print("|--:|---|--:|--:|--:|--:|")
    for b in budgets:
        for rule in ("estimate", "bound", "confirmed"):
            r = rows[(b, rule)]
            over = sum(1 for _, l in r if l > b) / len(r)
            ratio = statistics.mean(plans[ch]["ms"] / base_ms for ch, _ in r)
            changed = sum(1 for ch, _ in r if ch != base_i) / len(r)
            print("| %g | %s | %.0f %% | %+.2f | %.3f | %.0f %% |" % (b, rule, 100 * over,
                                                                   statistics.mean(l for _, l in r), ratio,
                                                                   100 * changed))


if __name__ == "__main__":
    main()
