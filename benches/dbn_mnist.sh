#!/usr/bin/env bash
# DBN results on the binarized MNIST of Larochelle & Murray: greedy training
# of 784-500-500-2000 (Hinton et al. 2006's sizes), then the variational
# lower bound on the test set for the first 1, 2 and 3 layers (top log Z by
# AIS, 100 runs, default schedule), and sample pictures.
#
#   benches/dbn_mnist.sh ../shared/data/mnist OUTDIR [EPOCHS_PER_LAYER]
set -euo pipefail
MNIST=${1:?usage: $0 MNIST_DIR OUTDIR [EPOCHS]}
OUT=${2:?usage: $0 MNIST_DIR OUTDIR [EPOCHS]}
E=${3:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
TRAIN="$MNIST/binarized/binarized_mnist_train.amat.gz"
TEST="$MNIST/binarized/binarized_mnist_test.amat.gz"
mkdir -p "$OUT"
"$BZ" dbn train --data "$TRAIN" --valid-fraction 0 --monitor 0 --layers 500,500,2000 \
  --layer-epochs "$E,$E,$E" --threads 2 --out "$OUT" --json | tee "$OUT/train.jsonl"
for depth in 1 2 3; do
  "$BZ" dbn eval --model "$OUT/dbn.safetensors" --data "$TEST" --depth $depth --samples 10 \
    --threads 2 --quiet --json | tee "$OUT/eval-$depth.json"
done
"$BZ" dbn sample --model "$OUT/dbn.safetensors" --n 100 --sweeps 1000 --out "$OUT/samples.png"
