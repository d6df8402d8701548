#!/usr/bin/env bash
# Same outputs before and after a change: fixed-seed training runs of the
# other trainers (label-joined DBN top, GB-RBM, convolutional RBM and DBN,
# softmax read-outs), then of every `train` variant (CD, PCD, Adam, L1,
# sparsity, centering, PT, fast weights) on the
# embedded digits, on a small model (no-packing kernel) and a 784×500 one
# (binary products), compared by sha256 of model and checkpoint contents
# and of the epoch reports' numbers (times left out):
# every tensor and every metadata entry except the ones newer versions add
# (`checksum`, `data.*`), so files of versions before and after those
# additions compare by what they hold.
#
#   benches/same_outputs.sh OLD_BINARY NEW_BINARY
#
# Both binaries must run on the same SIMD path (results differ across ISAs
# in the last bits). Prints one line per run and exits 1 on any difference.
set -euo pipefail
old=$1 new=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
digest() {
  python3 - "$1" <<'PY'
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
meta = {k: v for k, v in h.pop("__metadata__", {}).items() if k != "checksum" and not k.startswith("data.")}
d = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
for name in sorted(h):
    t = h[name]
    s, e = t["data_offsets"]
    d.update(json.dumps([name, t["dtype"], t["shape"]]).encode())
    d.update(b[8 + n + s:8 + n + e])
print(d.hexdigest()[:16])
PY
}
runs() {
  local bin=$1 dir=$2 size=$3 i=0
  while read -r args; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    # The epoch reports (chain diagnostics from the free-energy traces, …)
    # without their times are digested too.
    local report
    report=$("$bin" train --quiet --json --monitor 0 --seed 7 $size --out "$dir/r$i" $args 2>/dev/null |
      untimed | sha256sum | cut -c1-16)
    echo "$(digest "$dir/r$i/model.safetensors") $(digest "$dir/r$i/checkpoint.safetensors") $report $size $args"
  done <<'LIST'
--algorithm cd --k 1
--algorithm cd --k 2 --momentum 0.5 --final-momentum 0.9 --momentum-switch 1
--algorithm pcd --k 1
--algorithm pcd --k 3 --l1 1e-4
--algorithm pcd --momentum 0 --final-momentum 0
--algorithm pcd --momentum 0 --final-momentum 0.5 --momentum-switch 1 --l2 0
--algorithm pcd --momentum 0 --final-momentum 0 --centering 0.02
--algorithm pcd --optimizer adam --lr 0.001
--algorithm pcd --sparsity-target 0.05
--algorithm cd --sparsity-target 0.05 --optimizer adam --lr 0.001
--centering 0.01
--centering 0.05 --optimizer adam --lr 0.001
--centering 0.05 --sparsity-target 0.1
--algorithm cd --centering 0.1
--algorithm pt --replicas 4 --beta-min 0.3
--algorithm pt --replicas 3 --k 2 --centering 0.02
--fast-lr 0.05
--fast-lr 0.05 --optimizer adam --lr 0.001 --algorithm pt --replicas 3
LIST
}
# The other trainers (label-joined top, GB-RBM, convolutional RBM and DBN,
# softmax read-outs) on the embedded digits or the GB-RBM's toy data: model
# digests and the JSON numbers of the classifiers (times left out).
others() {
  local bin=$1 d=$2
  mkdir -p "$d"
  "$bin" dbn train --limit 600 --monitor 0 --layers 40 --label-top 30 --label-epochs 2 --epochs 2 \
    --threads 2 --quiet --out "$d/dbn" >/dev/null 2>&1
  echo "dbn label-top CD $(digest "$d/dbn/dbn.safetensors")"
  "$bin" dbn train --limit 600 --monitor 0 --layers 40 --label-top 30 --label-epochs 2 --label-pcd \
    --epochs 2 --threads 2 --quiet --out "$d/dbnp" >/dev/null 2>&1
  echo "dbn label-top PCD $(digest "$d/dbnp/dbn.safetensors")"
  "$bin" dbn classify --model "$d/dbn/dbn.safetensors" --epochs 3 --json --threads 2 2>/dev/null | untimed
  "$bin" ebm train --model gb-rbm --epochs 2 --out "$d/gb" >/dev/null 2>&1
  echo "gb-rbm CD $(digest "$d/gb/model.safetensors")"
  "$bin" ebm train --model gb-rbm --epochs 2 --pcd --momentum 0.5 --lr-schedule linear:0.00001 \
    --out "$d/gbp" >/dev/null 2>&1
  echo "gb-rbm PCD $(digest "$d/gbp/model.safetensors")"
  "$bin" crbm train --limit 300 --epochs 1 --filters 4 --threads 2 --out "$d/c" >/dev/null 2>&1
  echo "crbm $(digest "$d/c/model.safetensors") $(digest "$d/c/checkpoint.safetensors")"
  "$bin" crbm train --limit 300 --epochs 1 --filters 4,6 --filter-size 9,5 --pool 2,2 --threads 2 \
    --out "$d/c2" >/dev/null 2>&1
  echo "cdbn $(digest "$d/c2/model.safetensors")"
  "$bin" crbm classify --model "$d/c/model.safetensors" --limit 500 --epochs 3 --json --threads 2 \
    2>/dev/null | untimed
}
untimed() {
  python3 -c '
import json, sys
def f(o):
    if isinstance(o, dict):
        return {k: f(v) for k, v in o.items() if "second" not in k and "time" not in k and "per_s" not in k}
    return [f(x) for x in o] if isinstance(o, list) else o
for line in sys.stdin:
    if line.startswith("{"):
        print(json.dumps(f(json.loads(line)), sort_keys=True))'
}
status=0
others "$old" "$work/old-others" >"$work/old.txt"
others "$new" "$work/new-others" >"$work/new.txt"
if diff "$work/old.txt" "$work/new.txt"; then cat "$work/new.txt"; else status=1; fi
for size in "--hidden 64 --limit 1000 --epochs 3" "--hidden 500 --limit 600 --epochs 2"; do
  runs "$old" "$work/old" "$size" >"$work/old.txt"
  runs "$new" "$work/new" "$size" >"$work/new.txt"
  if diff "$work/old.txt" "$work/new.txt"; then
    cat "$work/new.txt"
  else
    status=1
  fi
done
[ $status = 0 ] && echo "same outputs"
exit $status
