#!/usr/bin/env bash
# Convolutional-RBM Gibbs sweep, side by side in one run: `boltzmann bench
# conv` (28×28 binary images, 24 filters of 7×7, pool 2, 256 chains, float32)
# against its naive f64 twin (`--naive`, one thread) and against the same
# sweep jit-compiled by JAX (benches/conv_jax.py), alternating per round.
#
#   benches/conv_compare.sh [ROUNDS] [THREADS]
#
# Needs refbench's venv with JAX (../shared/refbench/setup.sh), found at
# $REFBENCH_VENV or ~/.cache/boltzmann-refvenv.
set -euo pipefail
ROUNDS=${1:-3}
T=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
PY="${REFBENCH_VENV:-$HOME/.cache/boltzmann-refvenv}/bin/python"
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cpus; isa: $("$BZ" info | sed -n 2p | awk '{print $2}'); threads $T; build: cargo build --release"
for r in $(seq 1 "$ROUNDS"); do
  naive=""
  if [ "$r" = 1 ]; then naive="--naive"; fi
  ours=$("$BZ" bench conv --threads "$T" --repeats 5 --json $naive)
  jax=$("$PY" "$here/benches/conv_jax.py" --threads "$T" --repeats 5 2>/dev/null | tail -1)
  python3 - "$r" "$ours" "$jax" <<'PY'
import json, sys
r, o, j = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
line = f"round {r}: boltzmann {o['sweeps_per_s']:.2f} sweeps/s, JAX {j['sweeps_per_s']:.2f} → {o['sweeps_per_s'] / j['sweeps_per_s']:.2f}× JAX"
if o.get("naive_sweeps_per_s"):
    line += f"; naive f64 (1 thread) {o['naive_sweeps_per_s']:.3f} → {o['speedup_vs_naive']:.1f}×"
print(line)
PY
done
