#!/usr/bin/env python3
"""Renders the rows written by benches/mnist_table.sh as a markdown table.

    python3 benches/render_table.py OUTDIR
"""
import json, os, sys

out = sys.argv[1]
print("| model | training (`boltzmann train` options; batch 100, 2 threads, seed 1) | train time | log Z | ±3σ interval | avg test log-prob | exact PL (test, 1000) |")
print("|---|---|---|---|---|---|---|")
def order(n):
    alg, hidden = n.rsplit("-", 1)
    k = int(alg[2:]) if alg.startswith("cd") else 10**6  # CD-1, CD-3, CD-25, then PCD
    return (int(hidden), k)

for name in sorted(os.listdir(out), key=order):
    d = os.path.join(out, name)
    try:
        row = json.load(open(os.path.join(d, "row.json")))
        ev = json.load(open(os.path.join(d, "eval.json")))
    except (OSError, ValueError):
        continue
    if ev["method"] == "exact":
        iv = "exact"
    else:
        f = lambda x: "−∞" if x is None else "%.2f" % x
        iv = "[%s, %s]" % (f(ev["log_z_low"]), f(ev["log_z_high"]))
    print("| %s | `%s` | %.0f s | %.2f | %s | **%.2f** | %.2f |" % (
        name, row["args"], row["train_seconds"], ev["log_z"], iv, ev["avg_log_prob"], ev["pseudo_ll"]))
