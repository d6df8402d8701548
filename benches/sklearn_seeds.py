#!/usr/bin/env python3
# Pseudo-likelihood spread of scikit-learn's BernoulliRBM over 5 seeds (random_state 0-4),
# same settings as refbench/sklearn_rbm.py, 2 BLAS threads. Run with the refbench venv:
#   ~/.cache/boltzmann-refvenv/bin/python benches/sklearn_seeds.py ../shared/refbench/data/mnist_5k.csv.gz
# boltzmann's side: the bench train command in perf-notes.md with --seed 0..4.
import gzip, numpy as np, time, sys
from sklearn.neural_network import BernoulliRBM
from threadpoolctl import threadpool_limits
X = np.loadtxt(gzip.open('sys.argv[1]'), delimiter=',')[:, :784]
X = (X / 255.0 > 0.5).astype(np.float32)
out = []
with threadpool_limits(2):
    for s in range(5):
        rbm = BernoulliRBM(n_components=500, batch_size=100, n_iter=10, random_state=s, learning_rate=0.1)
        t = time.time(); rbm.fit(X); dt = time.time() - t
        pl = rbm.score_samples(X).mean()
        out.append(pl); print(f"seed {s}: {dt/10:.3f} s/epoch, score_samples mean {pl:.2f}", flush=True)
print(f"mean {np.mean(out):.2f} sd {np.std(out, ddof=1):.2f}")
