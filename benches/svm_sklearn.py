"""scikit-learn's LinearSVC on features written by `boltzmann crbm features`:
the cross-check of `crbm classify --classifier svm` (docs/results.md).

    boltzmann crbm features --model M --layer 1,2 --grey --data train-images-idx3-ubyte.gz \
        --labels train-labels-idx1-ubyte.gz --out train.safetensors      # and t10k → test.safetensors
    python3 benches/svm_sklearn.py train.safetensors test.safetensors 0.03 0.1

Prints the training and test error for each cost C (squared hinge, L2,
LIBLINEAR's dual coordinate descent, as our solver; 200 iterations, tolerance 1e-3).
"""
import json
import struct
import sys
import time

import numpy as np
from sklearn.svm import LinearSVC


def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8 : 8 + n])
    out = {}
    for k, t in header.items():
        if k == "__metadata__":
            continue
        s, e = t["data_offsets"]
        dtype = {"F32": np.float32, "U8": np.uint8}[t["dtype"]]
        out[k] = np.frombuffer(b[8 + n + s : 8 + n + e], dtype=dtype).reshape(t["shape"])
    return out["features"], out["labels"]


def main():
    x, y = load(sys.argv[1])
    xt, yt = load(sys.argv[2])
    for c in map(float, sys.argv[3:]):
        t = time.time()
        m = LinearSVC(C=c, dual=True, max_iter=200, tol=1e-3).fit(x, y)
        print(f"C {c}: train error {(m.predict(x) != y).mean():.4f}, test error "
              f"{(m.predict(xt) != yt).mean():.4f}, {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
