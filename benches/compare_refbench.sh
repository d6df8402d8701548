#!/usr/bin/env bash
# Side-by-side Gibbs throughput: boltzmann vs the refbench references (NumPy +
# OpenBLAS, JAX jit), interleaved in one run on this machine so that both
# see the same load. Needs the refbench checkout and its venv (setup.sh):
#
#   benches/compare_refbench.sh /path/to/refbench [ROUNDS]
#
# Prints one line per measurement and a summary of medians (sweeps/s for
# D=784 H=500 B=1000, chain-sweeps/s for D=64 H=32 B=100000).
set -euo pipefail
REF=${1:?usage: $0 REFBENCH_DIR [ROUNDS]}
ROUNDS=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
out=$(mktemp -d)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cpus; isa: $("$BZ" info | sed -n 2p | awk '{print $2}'); rustc $(rustc --version | cut -d' ' -f2)"
for r in $(seq 1 "$ROUNDS"); do
  for t in 1 2; do
    "$BZ" bench gibbs --threads $t --json >>"$out/bz_big_t$t.jsonl"
    "$BZ" bench gibbs --visible 64 --hidden 32 --chains 100000 --threads $t --json >>"$out/bz_small_t$t.jsonl"
  done
  (cd "$REF" && ./bench.sh 2 gibbs_numpy.py --batches 1000 --small 64,32,100000 --repeats 5) 2>/dev/null | head -1 >>"$out/np_t2.jsonl"
  (cd "$REF" && ./bench.sh 1 gibbs_numpy.py --batches 1000 --small 64,32,100000 --repeats 5) 2>/dev/null | head -1 >>"$out/np_t1.jsonl"
  (cd "$REF" && ./bench.sh 2 jax_gibbs.py --prngs threefry2x32 --repeats 5) 2>/dev/null | head -1 >>"$out/jax_t2.jsonl" || true
  echo "round $r done" >&2
done
python3 - "$out" <<'PY'
import json, sys, statistics as st, glob, os
d = sys.argv[1]
def lines(name):
    p = os.path.join(d, name)
    return [json.loads(l) for l in open(p) if l.strip().startswith("{")] if os.path.exists(p) else []
def med(xs): return st.median(xs) if xs else float("nan")
rows = []
for t in (1, 2):
    big = [j["sweeps_per_s"] for j in lines(f"bz_big_t{t}.jsonl")]
    small = [j["chain_sweeps_per_s"] for j in lines(f"bz_small_t{t}.jsonl")]
    npb, nps = [], []
    for j in lines(f"np_t{t}.jsonl"):
        for r in j["results"]:
            if r.get("D") == 784 and r.get("B") == 1000: npb.append(r["sweeps_per_s"]["median"] if isinstance(r["sweeps_per_s"], dict) else r["sweeps_per_s"])
            if r.get("D") == 64: nps.append(r["chain_sweeps_per_s"]["median"] if isinstance(r["chain_sweeps_per_s"], dict) else r["chain_sweeps_per_s"])
    rows.append((t, med(big), big, med(npb), npb, med(small), small, med(nps), nps))
jx = []  # per process: the faster of JAX's two modes (dispatch, fori_loop)
for j in lines("jax_t2.jsonl"):
    best = [r["steps_per_s"]["median"] for r in j["results"]
            if r.get("kind") == "gibbs" and "threefry" in str(r.get("impl"))]
    if best:
        jx.append(max(best))
for t, b, bl, n, nl, s, sl, ns, nsl in rows:
    print(f"threads={t}: 784x500x1000 boltzmann {b:.1f} sweeps/s {['%.1f'%x for x in bl]} | numpy {n:.1f} {['%.1f'%x for x in nl]} | ratio {b/n:.2f}x")
    print(f"threads={t}: 64x32x100000 boltzmann {s/1e6:.2f} M chain-sweeps/s {['%.2f'%(x/1e6) for x in sl]} | numpy {ns/1e6:.2f} M {['%.2f'%(x/1e6) for x in nsl]} | ratio {s/ns:.1f}x")
if jx:
    b2 = rows[1][1]
    print(f"threads=2: JAX jit threefry {med(jx):.1f} sweeps/s {['%.1f'%x for x in jx]} | boltzmann/JAX {b2/med(jx):.2f}x")
print(f"scaling 2t/1t: big {rows[1][1]/rows[0][1]:.2f}x, small {rows[1][5]/rows[0][5]:.2f}x")
PY
echo "raw results in $out"
