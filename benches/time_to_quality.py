#!/usr/bin/env python3
"""Draws the "time to quality" figure from benches/time_to_quality.sh's logs:
average test log-probability (cheap AIS) against cumulative training time,
one curve per method, as OUTDIR/time_to_quality.svg; prints per method the
training time to first reach -110 and -100 nats and the last estimate. (The
first 1,000 test digits are harder than the whole test set: for the models
of docs/results.md their average is 10-14 nats below the 10,000-digit one.)

    python3 benches/time_to_quality.py OUTDIR

Standard library only. Training time is the sum of the epochs' `seconds`
(the monitors and AIS estimates are not counted).
"""
import json, os, sys

out = sys.argv[1]
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
series = []
for name in sorted(os.listdir(out)):
    log = os.path.join(out, name, "train.jsonl")
    if not os.path.isfile(log):
        continue
    t, pts = 0.0, []
    for line in open(log):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "epoch" not in r:
            continue
        t += r["seconds"]
        lp = r.get("ais_avg_log_prob")
        if lp is not None:
            pts.append((t, lp))
    if pts:
        series.append((name, pts))
if not series:
    sys.exit(f"no train.jsonl with AIS estimates under {out}")

def first_reach(pts, level):
    return next((t for t, lp in pts if lp >= level), None)

print(f"{'method':<16} {'to -110 nats':>13} {'to -100 nats':>13} {'last estimate':>14} {'at':>8}")
for name, pts in series:
    f = lambda x: "never" if x is None else f"{x:.0f} s"
    print(f"{name:<16} {f(first_reach(pts, -110)):>13} {f(first_reach(pts, -100)):>13} {pts[-1][1]:>14.2f} {pts[-1][0]:>6.0f} s")

W, H, L, R, T, B = 720, 440, 70, 170, 20, 50
tmax = max(t for _, pts in series for t, _ in pts)
lo = max(-140.0, min(lp for _, pts in series for _, lp in pts))
hi = max(lp for _, pts in series for _, lp in pts)
lo, hi = 5 * (lo // 5), 5 * (hi // 5 + 1)
X = lambda t: L + (W - L - R) * t / tmax
Y = lambda v: T + (H - T - B) * (hi - min(max(v, lo), hi)) / (hi - lo)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>']
step = 10 if hi - lo <= 60 else 20
v = lo
while v <= hi:
    svg.append(f'<line x1="{L}" x2="{W - R}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" stroke="#ddd"/>')
    svg.append(f'<text x="{L - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    v += step
tstep = 60 if tmax <= 600 else 120
t = 0
while t <= tmax:
    svg.append(f'<line x1="{X(t):.1f}" x2="{X(t):.1f}" y1="{T}" y2="{H - B}" stroke="#eee"/>')
    svg.append(f'<text x="{X(t):.1f}" y="{H - B + 16}" text-anchor="middle">{t}</text>')
    t += tstep
svg.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">training time (s, 2 threads)</text>')
svg.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
           'avg log p, first 1,000 test digits (nats)</text>')
for i, (name, pts) in enumerate(series):
    c = COLORS[i % len(COLORS)]
    path = " ".join(f"{X(t):.1f},{Y(lp):.1f}" for t, lp in pts)
    svg.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
    for t, lp in pts:
        svg.append(f'<circle cx="{X(t):.1f}" cy="{Y(lp):.1f}" r="2.5" fill="{c}"/>')
    svg.append(f'<line x1="{W - R + 12}" x2="{W - R + 32}" y1="{T + 12 + 18 * i}" y2="{T + 12 + 18 * i}" stroke="{c}" stroke-width="3"/>')
    svg.append(f'<text x="{W - R + 38}" y="{T + 16 + 18 * i}">{name}</text>')
svg.append("</svg>")
path = os.path.join(out, "time_to_quality.svg")
with open(path, "w") as f:
    f.write("\n".join(svg) + "\n")
print(f"wrote {path}")
