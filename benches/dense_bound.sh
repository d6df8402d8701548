#!/usr/bin/env bash
# Dense Gibbs sweep (784 × 500, 1,000 chains, random model: states ~50 % on,
# so the dense products are used) against the dense bound that OpenBLAS sets
# on this machine, side by side in one run: per round and thread count,
# refbench's gemm_peak.py (sgemm v·W and h·Wᵀ at B = 1,000) then
# `boltzmann bench gibbs`. The bound is 1 / (t(v·W) + t(h·Wᵀ)) sweeps/s.
#
#   benches/dense_bound.sh /path/to/refbench [ROUNDS]
#
# Needs refbench's venv (its setup.sh). Prints one line per round and the
# medians; the issue's target is ratio ≥ 0.95.
set -euo pipefail
REF=${1:?usage: $0 REFBENCH_DIR [ROUNDS]}
ROUNDS=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
out=$(mktemp -d)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cpus; isa: $("$BZ" info | sed -n 2p | awk '{print $2}'); rustc $(rustc --version | cut -d' ' -f2); build: cargo build --release"
for r in $(seq 1 "$ROUNDS"); do
  for t in 2 1; do
    (cd "$REF" && ./bench.sh $t gemm_peak.py --batches 1000 --square 0 --repeats 5) 2>/dev/null | grep '^{' >>"$out/peak_t$t.jsonl"
    "$BZ" bench gibbs --threads $t --repeats 7 --json >>"$out/bz_t$t.jsonl"
  done
  echo "round $r done" >&2
done
python3 - "$out" "$ROUNDS" <<'PY'
import json, sys, statistics as st
d, rounds = sys.argv[1], int(sys.argv[2])
for t in (2, 1):
    peaks = [json.loads(l) for l in open(f"{d}/peak_t{t}.jsonl")]
    bz = [json.loads(l) for l in open(f"{d}/bz_t{t}.jsonl")]
    ratios = []
    for i, (p, b) in enumerate(zip(peaks, bz)):
        sec = sum(c["timing"]["sec_per_call"]["median"] for c in p["results"])
        bound = 1.0 / sec
        ours = b["sweeps_per_s"]
        ratios.append(ours / bound)
        print(f"threads {t} round {i+1}: bound {bound:.1f} sweeps/s (OpenBLAS "
              + ", ".join(f'{c["case"]} {c["gflops"]["median"]:.1f} GFLOP/s' for c in p["results"])
              + f"), boltzmann {ours:.1f} sweeps/s, ratio {ours/bound:.3f}")
    print(f"threads {t}: median ratio {st.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")
PY
