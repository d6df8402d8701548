#!/usr/bin/env bash
# The "time to quality" figure of docs/results.md: one 784×500 RBM per
# method on the 50,000 binarized MNIST training digits (2 threads, seed 1),
# each reporting every few epochs the average log-probability of the first
# 1,000 *test* digits under a cheap AIS estimate of log Z (32 runs × 3,000
# linear βs; the table's final figures use the full AIS). Per method the
# JSON lines land in OUTDIR/<method>/train.jsonl; then
# benches/time_to_quality.py draws OUTDIR/time_to_quality.svg and prints
# the time each method needed to reach −110 and −100 nats on those digits.
#
#   benches/time_to_quality.sh /path/to/shared/data/mnist OUTDIR
#
# Takes about 25 minutes on the 2-core development VM.
set -euo pipefail
MNIST=${1:?usage: $0 MNIST_DIR OUTDIR}
OUT=${2:?usage: $0 MNIST_DIR OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
BZ=${BOLTZMANN:-}
if [ -z "$BZ" ]; then
  cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
  BZ="$here/target/release/boltzmann"
fi
B="$MNIST/binarized"
mkdir -p "$OUT"
run() { # name options...
  local name=$1; shift
  mkdir -p "$OUT/$name"
  "$BZ" train --json --threads 2 --seed 1 --out "$OUT/$name" \
    --data "$B/binarized_mnist_train.amat.gz" --valid "$B/binarized_mnist_test.amat.gz" \
    --monitor 1000 --ais-runs 32 --ais-steps 3000 "$@" > "$OUT/$name/train.jsonl"
  echo "$name done"
}
run cd25 --algorithm cd --k 25 --epochs 10 --ais-every 1 \
  --lr 0.05 --lr-schedule constant --momentum 0.5 --final-momentum 0.9 --l2 2e-4
run pt4 --algorithm pt --epochs 50 --chains 100 --replicas 4 --beta-min 0.5 --ais-every 5
run pcd --epochs 100 --ais-every 5
run pcd-centering --epochs 100 --centering 0.01 --ais-every 5
run fpcd --epochs 100 --fast-lr 0.05 --fast-decay 0.95 --ais-every 5
python3 "$here/benches/time_to_quality.py" "$OUT"
