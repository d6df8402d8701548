"""Side by side, one process: fit time of boltzmann.BernoulliRBM and
scikit-learn's BernoulliRBM at scikit-learn's settings (PCD-1, batch 10,
as many chains as the batch, constant learning rate), and the features'
accuracy in scikit-learn's digits example.

    python benches/vs_sklearn.py [MNIST_IDX_GZ] [--threads N]

Without an MNIST file only the digits (bundled with scikit-learn) are used.
With train-images-idx3-ubyte.gz, its first 5,000 digits thresholded at 0.5
are fitted too (784 × 256, 10 epochs).
"""

import gzip
import os
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM as Sk
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import minmax_scale

from boltzmann import BernoulliRBM as Ours


def timed_fit(cls, X, **kw):
    t = time.perf_counter()
    m = cls(**kw).fit(X)
    return m, time.perf_counter() - t


def digits():
    X, y = load_digits(return_X_y=True)
    X = minmax_scale(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    for name, cls in (("scikit-learn", Sk), ("boltzmann", Ours)):
        kw = dict(n_components=100, learning_rate=0.06, n_iter=10, random_state=0)
        clf = Pipeline([("rbm", cls(**kw)), ("lr", LogisticRegression(max_iter=1000, C=6000))])
        t = time.perf_counter()
        clf.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t
        print(f"digits 1437×64, 100 hidden, 10 epochs: {name:12s} pipeline fit {fit_s:6.2f} s, "
              f"test accuracy {clf.score(Xte, yte):.4f}")


def mnist(path):
    with gzip.open(path) as f:
        raw = f.read()
    n, r, c = (int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in (1, 2, 3))
    X = (np.frombuffer(raw, np.uint8, offset=16).reshape(n, r * c)[:5000] > 127).astype(np.float64)
    times = {}
    for name, cls in (("scikit-learn", Sk), ("boltzmann", Ours)):
        best = min(timed_fit(cls, X, n_components=256, n_iter=10, random_state=0)[1] for _ in range(3))
        times[name] = best
        print(f"MNIST 5000×784 thresholded, 256 hidden, 10 epochs: {name:12s} fit {best:6.2f} s (best of 3)")
    print(f"speed-up: {times['scikit-learn'] / times['boltzmann']:.2f}×")


if __name__ == "__main__":
    import boltzmann

    print(f"boltzmann ISA {boltzmann.isa}; cores visible {os.cpu_count()}; "
          f"OPENBLAS/OMP threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    digits()
    if len(sys.argv) > 1:
        mnist(sys.argv[1])
