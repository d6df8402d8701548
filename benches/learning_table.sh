#!/usr/bin/env bash
# Reproduces the table "Learning well" of docs/results.md: 784×500 RBMs
# trained on the embedded 10,000 digits with each setting, evaluated on the
# 10,000 test digits of the fixed binarized MNIST (AIS, 100 runs).
#
#   benches/learning_table.sh /path/to/shared/data/mnist OUTDIR
#
# Every row names all the options whose defaults changed on 2026-12-02, so
# the rows mean the same whatever the defaults. Prints "name seconds
# avg-log-prob" per row; OUTDIR/<name>/ keeps the model and the logs.
set -euo pipefail
MNIST=${1:?usage: $0 MNIST_DIR OUTDIR}
OUT=${2:?usage: $0 MNIST_DIR OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
B="$MNIST/binarized"
mkdir -p "$OUT"
row() { # name options...
  local name=$1; shift
  local dir="$OUT/$name"
  mkdir -p "$dir"
  local t0 t1
  t0=$(date +%s.%N)
  "$BZ" train --quiet --threads 2 --out "$dir" "$@" > "$dir/train.log" 2>&1
  t1=$(date +%s.%N)
  "$BZ" eval --model "$dir/model.safetensors" --data "$B/binarized_mnist_test.amat.gz" \
    --base-data "$B/binarized_mnist_train.amat.gz" --raise-examples 0 --quiet --threads 2 --json > "$dir/eval.json"
  echo "$name $(echo "$t1 - $t0" | bc) $(sed 's/.*"avg_log_prob":\([-0-9.]*\).*/\1/' "$dir/eval.json")"
}
OLD="--chains 100 --lr-schedule constant --l2 1e-4"
DECAY="--monitor 0 --lr-schedule linear:0.0005 --l2 2e-4"
row old-main-job --epochs 30 --monitor 500 $OLD
row embA --epochs 60 $DECAY --chains 100
row amatA --epochs 60 $DECAY --chains 100 --data "$B/binarized_mnist_train.amat.gz" \
  --valid "$B/binarized_mnist_valid.amat.gz" --limit 10000
row embB --epochs 120 $DECAY --chains 100
row embC --epochs 60 $DECAY --chains 100 --lr 0.1
row embD --epochs 60 $DECAY --chains 500
row defA --epochs 100 $DECAY --chains 300
row new-main-job --epochs 100 --monitor 100 --chains 200 --lr-schedule linear:0.0005 --l2 2e-4
row cenA --epochs 60 $DECAY --chains 100 --centering 0.01
row fpA --epochs 60 $DECAY --chains 100 --fast-lr 0.05 --fast-decay 0.95
row ptA --epochs 20 $DECAY --chains 100 --algorithm pt --replicas 5 --beta-min 0.5
