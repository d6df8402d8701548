#!/usr/bin/env bash
# Thread scaling of the parallel code on a many-core machine: block Gibbs
# (784×500×1000 and 64×32×100k chains) and AIS (100 runs, 14,500 βs) over
# 1, 2, 4, 8, 16 threads, with the bit-identity of the AIS estimate across
# thread counts checked on the way.
#
#   [DATA=binary-rows-file] benches/scaling.sh BOLTZMANN_BINARY MODEL.safetensors [THREADS...]
#
# With DATA (e.g. binarized_mnist_test.amat.gz), also the trained model with
# chains from data: 1,000 f32 chains and 1,000,000 bit-packed ones.
# Prints one JSON line per measurement.
set -euo pipefail
BZ=${1:?usage: $0 BINARY MODEL [THREADS...]}
MODEL=${2:?usage: $0 BINARY MODEL [THREADS...]}
shift 2
THREADS=${*:-1 2 4 8 16}
"$BZ" info
nproc
for t in $THREADS; do
  "$BZ" bench gibbs --visible 784 --hidden 500 --chains 1000 --threads "$t" --repeats 5 --json
  "$BZ" bench gibbs --visible 64 --hidden 32 --chains 100000 --threads "$t" --repeats 5 --json
  # The trained model from data rows (binary products), f32 and bit-packed million-chain ensembles.
  if [ -n "${DATA:-}" ]; then
    "$BZ" bench gibbs --model "$MODEL" --data "$DATA" --chains 1000 --threads "$t" --repeats 5 --json
    "$BZ" bench gibbs --model "$MODEL" --data "$DATA" --chains 1000000 --packed --threads "$t" --repeats 3 \
      --sweeps 1 --json
  fi
done
for t in $THREADS; do
  # log_z is printed in full (shortest round-trip form): equal strings, equal bits.
  echo "{\"ais_threads\":$t,\"eval\":$("$BZ" eval --model "$MODEL" --threads "$t" --seed 1 --raise-examples 0 \
    --monitor 1 --quiet --json)}"
done
