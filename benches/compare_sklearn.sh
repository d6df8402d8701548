#!/usr/bin/env bash
# Side-by-side training speed: boltzmann PCD-1 vs scikit-learn's BernoulliRBM
# on the same 5000 binarized MNIST digits with scikit-learn's settings,
# interleaved per round (scikit-learn 2t, ours 2t with binary then dense
# products, the same on 1 thread).
# Needs the refbench checkout and its venv (setup.sh):
#
#   benches/compare_sklearn.sh /path/to/refbench [ROUNDS]
set -euo pipefail
REF=${1:?usage: $0 REFBENCH_DIR [ROUNDS]}
ROUNDS=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
for r in $(seq 1 "$ROUNDS"); do
  for t in 2 1; do
    (cd "$REF" && ./bench.sh $t sklearn_rbm.py --dtypes float32 --fit-repeats 3 2>/dev/null | grep "float32:" | sed "s/^/sklearn threads=$t: /")
    for dense in 0 1; do
      BOLTZMANN_DENSE_PRODUCTS=$dense "$BZ" bench train --data "$REF/data/mnist_5k.csv.gz" --csv-labels last \
        --scale 0.00392156862745098 --binarize threshold --valid-fraction 0 --hidden 500 --algorithm pcd \
        --k 1 --chains 100 --batch 100 --lr 0.1 --lr-schedule constant --momentum 0 --final-momentum 0 --l2 0 --no-shuffle \
        --no-vbias-init --epochs 30 --monitor 5000 --threads $t 2>&1 | tail -2 | tr '\n' ' ' |
        sed "s/^/boltzmann threads=$t dense_products=$dense: /"
      echo
    done
  done
done
