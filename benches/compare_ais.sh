#!/usr/bin/env bash
# Side-by-side AIS timing: binary (sparse) against dense products, default
# schedule (14,500 βs), 100 runs, 2 threads, interleaved rounds.
#
#   benches/compare_ais.sh MNIST_DIR ROUNDS MODEL.safetensors...
#   BZS="old/boltzmann new/boltzmann" benches/compare_ais.sh MNIST_DIR ROUNDS MODEL...
#
# MNIST_DIR holds binarized/binarized_mnist_{train,test}.amat.gz (the base
# rates come from the training split). BOLTZMANN_DENSE_PRODUCTS=1 turns the
# binary products off. With BZS, the given binaries are timed side by side
# instead (default products each). Prints "round model mode seconds log_z"
# lines (mode: binary, dense, or the binary's path).
set -euo pipefail
MNIST=${1:?usage: $0 MNIST_DIR ROUNDS MODEL...}
ROUNDS=${2:?usage: $0 MNIST_DIR ROUNDS MODEL...}
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${BZS:-}" ]; then
  cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
  BZS="$here/target/release/boltzmann"
  modes="binary dense"
else
  modes=builds
fi
B="$MNIST/binarized"
for round in $(seq "$ROUNDS"); do
  for m in "$@"; do
    for bz in $BZS; do
      for mode in $modes; do
        if [ $mode = dense ]; then export BOLTZMANN_DENSE_PRODUCTS=1; else unset BOLTZMANN_DENSE_PRODUCTS; fi
        r=$("$bz" eval --model "$m" --data "$B/binarized_mnist_test.amat.gz" \
          --base-data "$B/binarized_mnist_train.amat.gz" --raise-examples 0 --monitor 1 --threads 2 --seed 1 --json)
        s=$(echo "$r" | sed 's/.*"log_z_seconds":\([0-9.]*\).*/\1/')
        z=$(echo "$r" | sed 's/.*"log_z":\([0-9.]*\).*/\1/')
        [ $mode = builds ] && label=$bz || label=$mode
        echo "$round $m $label $s $z"
      done
    done
  done
done
