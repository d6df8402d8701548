#!/usr/bin/env python3
"""Renders the rows written by benches/mnist_table.sh as markdown tables:
the main table, and the check of AIS and RAISE against exact log Z on the
25-hidden models.

    python3 benches/render_table.py OUTDIR
"""
import json, os, sys

out = sys.argv[1]


def order(n):
    alg, hidden = n.rsplit("-", 1)
    k = int(alg[2:]) if alg.startswith("cd") else 10**6  # CD-1, CD-3, CD-25, then PCD
    return (int(hidden), k)


def load(d, f):
    try:
        return json.load(open(os.path.join(d, f)))
    except (OSError, ValueError):
        return None


def fmt(x, p=2):
    return "−∞" if x is None else ("%.*f" % (p, x)).replace("-", "−")


rows = []
for name in sorted(os.listdir(out), key=order):
    d = os.path.join(out, name)
    row, ev = load(d, "row.json"), load(d, "eval.json")
    if row and ev:
        rows.append((name, d, row, ev))

print("| model | training (`boltzmann train` options; batch 100, 2 threads, seed 1) | train time "
      "| log Z | ±3σ interval | avg test log-prob | RAISE, first 1000 (± s.e.) | AIS, same 1000 | exact PL (test, 1000) |")
print("|---|---|---|---|---|---|---|---|---|")
for name, d, row, ev in rows:
    iv = "exact" if ev["method"] == "exact" else "[%s, %s]" % (fmt(ev["log_z_low"]), fmt(ev["log_z_high"]))
    r = ev.get("raise")
    rs = "—" if not r else "%s ± %s" % (fmt(r["mean"]), fmt(r["std_err"]))
    fs = "—" if not r else fmt(r["ais_same_examples"])
    print("| %s | `%s` | %.0f s | %.2f | %s | **%s** | %s | %s | %s |" % (
        name, row["args"], row["train_seconds"], ev["log_z"], iv, fmt(ev["avg_log_prob"]), rs, fs,
        fmt(ev["pseudo_ll"])))

checks = [(name, ev, load(d, "eval_ais.json")) for name, d, row, ev in rows]
checks = [c for c in checks if c[2]]
if checks:
    print()
    print("| model | exact log Z | AIS log Z (±3σ) | AIS − exact | reverse log Z from RAISE (± s.e.) "
          "| exact avg, first 1000 | RAISE avg, first 1000 (± s.e.) | AIS + RAISE time |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ev, ai in checks:
        r = ai["raise"]
        # The exact average over the same 1000 examples: AIS's average on them
        # shifted by the difference of the two log Z values.
        exact_same = r["ais_same_examples"] + ai["log_z"] - ev["log_z"]
        print("| %s | %.3f | %.3f [%s, %s] | %s | %.3f ± %.3f | %s | %s ± %s | %.0f s + %.0f s |" % (
            name, ev["log_z"], ai["log_z"], fmt(ai["log_z_low"], 3), fmt(ai["log_z_high"], 3),
            fmt(ai["log_z"] - ev["log_z"], 3), r["reverse_log_z"], r["reverse_log_z_std_err"],
            fmt(exact_same, 3), fmt(r["mean"], 3), fmt(r["std_err"], 3), ai["log_z_seconds"], r["seconds"]))
