#!/usr/bin/env python3
"""Same JSON before and after a change: runs every CLI command that prints
JSON (train, eval, sample, langevin, dbn, ebm, bench) with fixed seeds on
small inputs with two binaries and compares the parsed objects, timing
fields removed. Prints one line per command (SAME/DIFF, and whether the
field order is the same) and exits 1 on any difference.

    python3 benches/same_json.py OLD_BINARY NEW_BINARY

Both binaries must run on the same SIMD path. Needs only the Python
standard library. Against binaries from before the serde JSON (2f772f8 and
earlier) one difference is expected: `tempering.ladder_next_epoch` of PT
training is now printed as the f32 values it holds (0.1, not
0.10000000149011612).
"""
import json, subprocess, sys, os, shutil, tempfile
old, new = sys.argv[1], sys.argv[2]
TIMING = ('seconds', 'per_s', 'gflops', 'peak_rss', 'epoch_s', 'seconds_since_start', 'train_seconds', 'log_z_seconds', 'layer_seconds', 'breakdown')
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items() if not any(t in k for t in TIMING)}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
cmds = [
 "train --json --epochs 2 --limit 500 --hidden 20 --monitor 100 --seed 3",
 "train --json --epochs 2 --limit 500 --hidden 20 --algorithm pt --replicas 3 --seed 3",
 "eval --json --model {m} --ais-runs 10",
 "eval --json --model {m} --ais-runs 10 --exact-max 0 --raise-runs 1 --raise-examples 20",
 "sample --json --model {m} --chains 20 --steps 50 --diagnostics --out {o}.png",
 "langevin --json --steps 50 --chains 100",
 "langevin --json --steps 50 --chains 100 --sampler mala",
 "dbn train --json --layers 20,10 --epochs 1 --limit 300 --seed 2",
 "dbn eval --json --model {d} --limit 50 --samples 2",
 "ebm train --json --model score --iterations 20 --data mixture8",
 "ebm train --json --model mlp --iterations 5 --data mixture8",
 "ebm train --json --model gb-rbm --epochs 2 --data moons --n-data 300 --hidden 8 --lr 0.01",
 "ebm train --json --model gb-rbm --epochs 2 --data moons --n-data 300 --hidden 8 --lr 0.01 --pcd",
 "bench gibbs --json --visible 30 --hidden 20 --chains 50 --repeats 2 --sweeps 5",
 "bench gibbs --json --visible 30 --hidden 20 --chains 50 --repeats 2 --sweeps 5 --replicas 3",
 "bench gibbs --json --visible 30 --hidden 20 --chains 50 --repeats 2 --sweeps 5 --breakdown",
 "bench langevin --json --chains 50 --steps 5 --repeats 2",
 "bench train --json --epochs 2 --limit 500 --hidden 20",
]
base = tempfile.mkdtemp()
res = {}
for tag, b in (('old', old), ('new', new)):
    d = os.path.join(base, tag); os.makedirs(d)
    m = os.path.join(d, 'm'); dd = os.path.join(d, 'd')
    subprocess.run([b, 'train', '--quiet', '--epochs', '1', '--limit', '300', '--hidden', '12', '--out', m, '--seed', '1'], check=True, capture_output=True)
    subprocess.run([b, 'dbn', 'train', '--quiet', '--layers', '12,8', '--epochs', '1', '--limit', '300', '--out', dd, '--seed', '1'], check=True, capture_output=True)
    outs = []
    for i, c in enumerate(cmds):
        c = c.format(m=os.path.join(m, 'model.safetensors'), d=os.path.join(dd, 'dbn.safetensors'), o=os.path.join(d, f's{i}'))
        args = c.split()
        if args[0] in ('train', 'langevin', 'ebm', 'dbn') and '--out' not in args and not (args[0] == 'dbn' and args[1] == 'eval'):
            args += ['--out', os.path.join(d, f'o{i}')]
        p = subprocess.run([b] + args, capture_output=True, text=True)
        lines = []
        for l in p.stdout.splitlines():
            try: lines.append(clean(json.loads(l)))
            except Exception as e: lines.append(('NOT JSON', l[:200]))
        outs.append((p.returncode, lines, p.stderr[-300:] if p.returncode else ''))
    res[tag] = outs
bad = 0
for c, o, n in zip(cmds, res['old'], res['new']):
    same = o[:2] == n[:2]
    keys_same = all((isinstance(a, dict) and isinstance(b2, dict) and list(a) == list(b2)) or a == b2 for a, b2 in zip(o[1], n[1]))
    print('SAME ' if same else 'DIFF ', 'order-same' if keys_same else 'ORDER-DIFF', o[0], n[0], len(o[1]), c)
    if not same:
        bad += 1
        for a, b2 in zip(o[1], n[1]):
            if a != b2: print('   old', str(a)[:400]); print('   new', str(b2)[:400]); break
        if o[2] or n[2]: print('   err', o[2], '|', n[2])
shutil.rmtree(base)
sys.exit(1 if bad else 0)
