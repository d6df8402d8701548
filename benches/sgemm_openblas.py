#!/usr/bin/env python3
"""OpenBLAS sgemm (through NumPy) on the Gibbs-sweep shapes, for comparison
with `cargo bench --bench kernels -- gemm_nn` (matrixmultiply).

    OPENBLAS_NUM_THREADS=1 python3 benches/sgemm_openblas.py

Prints one line per shape: median µs over 50 calls and GFLOP/s.
"""
import time
import numpy as np

rng = np.random.default_rng(0)
for m, k, n in [(100, 784, 500), (500, 784, 500), (500, 500, 784), (1000, 784, 500), (1000, 500, 784)]:
    a = (rng.random((m, k)) > 0.5).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    for _ in range(5):
        np.matmul(a, b, out=c)
    ts = []
    for _ in range(50):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        ts.append(time.perf_counter() - t)
    med = sorted(ts)[len(ts) // 2]
    print(f"{m}x{k}x{n}: {med * 1e6:.1f} us, {2 * m * k * n / med / 1e9:.1f} GFLOP/s")
