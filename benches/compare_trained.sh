#!/usr/bin/env bash
# Block Gibbs on a trained model with chains started from data (realistic
# state densities), binary products against the dense path of the same
# build and against sweeps that keep their products (--incremental), beside
# the NumPy + OpenBLAS reference sweep (whose cost does not depend on the
# model), interleaved, 2 threads.
#
#   benches/compare_trained.sh REFBENCH_DIR MODEL.safetensors DATA ROUNDS
#
# REFBENCH_DIR is ../shared/refbench with its environment set up (setup.sh).
set -euo pipefail
REF=${1:?usage: $0 REFBENCH_DIR MODEL DATA ROUNDS}
MODEL=${2:?usage}
DATA=${3:?usage}
ROUNDS=${4:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
for round in $(seq "$ROUNDS"); do
  for mode in binary dense incremental; do
    if [ $mode = dense ]; then export BOLTZMANN_DENSE_PRODUCTS=1; else unset BOLTZMANN_DENSE_PRODUCTS; fi
    extra=()
    [ $mode = incremental ] && extra=(--incremental)
    echo "$round boltzmann-$mode $("$BZ" bench gibbs --model "$MODEL" --data "$DATA" --chains 1000 --threads 2 --repeats 5 --json "${extra[@]}")"
  done
  unset BOLTZMANN_DENSE_PRODUCTS
  echo "$round numpy $( (cd "$REF" && ./bench.sh 2 gibbs_numpy.py --batches 1000 --repeats 5) 2>/dev/null | head -1)"
done
