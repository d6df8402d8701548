"""Side by side in one process: boltzmann.BernoulliRBM against
scikit-learn's BernoulliRBM with the same settings, and the Python overhead
of a sweep against the same sweep from Rust.

    python benches/vs_sklearn.py [--mnist5k PATH/mnist_5k.csv.gz] [--threads N] [--seeds 5]

1. Fit: BernoulliRBM(n_components=500, learning_rate=0.1, batch_size=100,
   n_iter=10, random_state=seed) on refbench's 5,000 MNIST digits
   (../shared/refbench/data/mnist_5k.csv.gz, pixels > 0.5), float64 input, for
   each seed: fit time of both, and the pseudo-likelihood of the training
   digits computed the same way for both models (scikit-learn's formula,
   the same flipped features for both). Without --mnist5k, a random binary
   stand-in of the same shape (fit times only mean something then).
2. Overhead: Chains.sweep(k=1) of 1,000 chains of a 784×500 model from
   Python, per call, against `boltzmann bench gibbs` is left to the CLI;
   here the per-call cost of sweep(1) vs one call of sweep(100) / 100.
3. scikit-learn's digits example: pipeline accuracy with either RBM.

BLAS threads (scikit-learn) and rayon threads (boltzmann) are both set to
--threads (threadpoolctl when installed, else OMP/OPENBLAS_NUM_THREADS must
be set by the caller).
"""

import argparse
import gzip
import os
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--mnist5k", default=None)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seeds", type=int, default=5)
a = p.parse_args()
os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import BernoulliRBM as Sk  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import minmax_scale  # noqa: E402

import boltzmann  # noqa: E402
from boltzmann import BernoulliRBM as Ours  # noqa: E402

try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(a.threads)
except ImportError:
    pass


def load():
    if a.mnist5k is None:
        print("no --mnist5k: random binary stand-in (5000 × 784, density 0.13)")
        return (np.random.RandomState(0).rand(5000, 784) < 0.13).astype(np.float64)
    with gzip.open(a.mnist5k, "rt") as f:
        arr = np.loadtxt(f, delimiter=",", dtype=np.int32)
    return ((arr[:, :784] / 255.0) > 0.5).astype(np.float64)


def free_energy(W, b, c, X):
    """F(x) of a model with weights W (n_components × n_features)."""
    return -X @ b - np.logaddexp(0, X @ W.T + c).sum(axis=1)


def pseudo_likelihood(model, X, rng):
    """scikit-learn's formula with flips drawn from ``rng``: the same
    flipped features for every model given the same rng state."""
    W, b, c = (np.asarray(x, dtype=np.float64) for x in (model.components_, model.intercept_visible_,
                                                         model.intercept_hidden_))
    idx = rng.randint(0, X.shape[1], X.shape[0])
    Xf = X.copy()
    Xf[np.arange(X.shape[0]), idx] = 1 - Xf[np.arange(X.shape[0]), idx]
    fe, fe_ = free_energy(W, b, c, X), free_energy(W, b, c, Xf)
    return float((-X.shape[1] * np.logaddexp(0, -(fe_ - fe))).mean())


def fit_section():
    X = load()
    kw = dict(n_components=500, learning_rate=0.1, batch_size=100, n_iter=10)
    Sk(n_components=500, batch_size=100, n_iter=1, random_state=0).fit(X)  # warm-up
    Ours(n_components=500, batch_size=100, n_iter=1, random_state=0, n_jobs=a.threads).fit(X)
    rows = []
    for seed in range(a.seeds):
        out = {}
        # Alternate which goes first.
        order = [("scikit-learn", Sk, {}), ("boltzmann", Ours, {"n_jobs": a.threads})]
        if seed % 2:
            order.reverse()
        for name, cls, extra in order:
            t = time.perf_counter()
            m = cls(random_state=seed, **kw, **extra).fit(X)
            out[name] = (time.perf_counter() - t, pseudo_likelihood(m, X, np.random.RandomState(100 + seed)))
        rows.append(out)
        sk, bz = out["scikit-learn"], out["boltzmann"]
        print(f"seed {seed}: fit scikit-learn {sk[0]:6.2f} s, boltzmann {bz[0]:6.2f} s "
              f"({sk[0] / bz[0]:.2f}×); pseudo-likelihood scikit-learn {sk[1]:8.2f}, boltzmann {bz[1]:8.2f}")
    tsk = np.median([r["scikit-learn"][0] for r in rows])
    tbz = np.median([r["boltzmann"][0] for r in rows])
    plsk = np.mean([r["scikit-learn"][1] for r in rows])
    plbz = np.mean([r["boltzmann"][1] for r in rows])
    print(f"median fit: scikit-learn {tsk:.2f} s, boltzmann {tbz:.2f} s: {tsk / tbz:.2f}× faster; "
          f"mean pseudo-likelihood scikit-learn {plsk:.2f}, boltzmann {plbz:.2f}")


def overhead_section():
    m = boltzmann.Rbm.random(784, 500, std=0.01, seed=1)
    c = boltzmann.Chains(m, 1000, seed=2)
    c.sweep(m, 5, n_jobs=a.threads)  # warm-up
    reps = 5
    one, batch = [], []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(100):
            c.sweep(m, 1, n_jobs=a.threads)
        one.append((time.perf_counter() - t) / 100)
        t = time.perf_counter()
        c.sweep(m, 100, n_jobs=a.threads)
        batch.append((time.perf_counter() - t) / 100)
    o, b = min(one), min(batch)
    print(f"sweep of 1,000 chains, 784×500 (random model, dense): sweep(1) per call {o * 1e3:.2f} ms, "
          f"sweep(100)/100 {b * 1e3:.2f} ms: per-call overhead {100 * (o / b - 1):+.1f} %")


def digits_section():
    X, y = load_digits(return_X_y=True)
    X = minmax_scale(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    for name, cls in (("scikit-learn", Sk), ("boltzmann", Ours)):
        rbm = cls(n_components=100, learning_rate=0.06, n_iter=10, random_state=0)
        clf = Pipeline([("rbm", rbm), ("lr", LogisticRegression(max_iter=1000, C=6000))])
        clf.fit(Xtr, ytr)
        print(f"digits example, {name:12s}: test accuracy {clf.score(Xte, yte):.4f}")


print(f"boltzmann ISA {boltzmann.isa}; threads {a.threads}; cores visible {os.cpu_count()}")
fit_section()
overhead_section()
digits_section()
