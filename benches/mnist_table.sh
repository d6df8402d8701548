#!/usr/bin/env bash
# Reproduces the rows of docs/results.md: trains RBMs on the fixed binarized
# MNIST of Larochelle & Murray (50k train / 10k valid / 10k test) and
# evaluates them on the test split (exact log Z for 25 hidden units, AIS
# with 100 runs and 14,500 distributions for 500).
#
#   benches/mnist_table.sh /path/to/shared/data/mnist OUTDIR [ROWSET]
#
# ROWSET: "25" (the 25-hidden rows), "500" (the 500-hidden rows), "all" (both),
# "methods" (the rows of "Learning well": PCD defaults, centering, FPCD, PT)
# or "best" (the best combination, with cheap AIS every 20 epochs).
# Each row writes OUTDIR/<name>/{train.jsonl,eval.json,model.safetensors};
# eval.json includes the RAISE estimate on the first 1000 test digits (AIS
# rows). The 25-hidden rows also get eval_ais.json: AIS and RAISE forced on
# a model whose exact log Z is known, as a check of both.
# EVAL_ONLY=1 re-evaluates existing models without training them again.
set -euo pipefail
MNIST=${1:?usage: $0 MNIST_DIR OUTDIR [25|500|all|methods|best]}
OUT=${2:?usage: $0 MNIST_DIR OUTDIR [25|500|all]}
SET=${3:-all}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$here/Cargo.toml" >/dev/null
BZ="$here/target/release/boltzmann"
B="$MNIST/binarized"
mkdir -p "$OUT"
row() { # name hidden algorithm k epochs extra...
  local name=$1 hidden=$2 alg=$3 k=$4 epochs=$5; shift 5
  local dir="$OUT/$name"
  mkdir -p "$dir"
  if [ "${EVAL_ONLY:-0}" != 1 ] || [ ! -f "$dir/model.safetensors" ]; then
    local t0=$(date +%s.%N)
    "$BZ" train --data "$B/binarized_mnist_train.amat.gz" --valid "$B/binarized_mnist_valid.amat.gz" \
      --hidden "$hidden" --algorithm "$alg" --k "$k" --epochs "$epochs" --batch 100 --monitor 0 \
      --threads 2 --seed 1 --out "$dir" --json "$@" > "$dir/train.jsonl"
    local t1=$(date +%s.%N)
    echo "{\"name\":\"$name\",\"train_seconds\":$(echo "$t1 - $t0" | bc),\"args\":\"--hidden $hidden --algorithm $alg --k $k --epochs $epochs $*\"}" > "$dir/row.json"
  fi
  local ev=(eval --model "$dir/model.safetensors" --data "$B/binarized_mnist_test.amat.gz"
    --base-data "$B/binarized_mnist_train.amat.gz" --threads 2 --seed 1 --raise-examples 1000 --quiet --json)
  "$BZ" "${ev[@]}" > "$dir/eval.json"
  if [ "$hidden" -le 25 ]; then
    "$BZ" "${ev[@]}" --force-ais > "$dir/eval_ais.json"
  fi
  echo "$name: $(cat "$dir/eval.json")"
}
# The first table's rows name every option the train defaults of 2026-12
# changed (chains, schedule), so they reproduce as published.
CD="--lr 0.05 --momentum 0.5 --final-momentum 0.9 --l2 2e-4 --lr-schedule constant --chains 100"
PCD="--lr 0.05 --momentum 0.5 --final-momentum 0.5 --l2 2e-4 --lr-schedule linear:0.005 --chains 100"
if [ "$SET" = 25 ] || [ "$SET" = all ]; then
  row cd1-25 25 cd 1 20 $CD
  row cd3-25 25 cd 3 20 $CD
  row cd25-25 25 cd 25 20 $CD
  row pcd-25 25 pcd 1 20 $PCD
fi
if [ "$SET" = 500 ] || [ "$SET" = all ]; then
  row cd1-500 500 cd 1 20 $CD
  row cd3-500 500 cd 3 20 $CD
  row cd25-500 500 cd 25 10 $CD
  row pcd-500 500 pcd 1 20 $PCD
fi
# The methods of "Learning well" (docs/results.md): 500 hidden units with
# the train defaults of 2026-12 (PCD-1, 200 chains, lr 0.05 → 0.0005
# linearly, momentum 0.5, L2 2e-4) and each method on top.
if [ "$SET" = methods ]; then
  row pcd-default 500 pcd 1 100
  row pcd-centered 500 pcd 1 100 --centering 0.01
  row fpcd 500 pcd 1 100 --fast-lr 0.05 --fast-decay 0.95
  row pt4 500 pt 1 50 --chains 100 --replicas 4 --beta-min 0.5
fi
# The best combination found within 10 minutes of training on 2 cores.
if [ "$SET" = best ]; then
  row pcd-centered-200 500 pcd 1 200 --centering 0.01 --ais-every 20
fi
