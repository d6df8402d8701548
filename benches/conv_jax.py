#!/usr/bin/env python3
"""JAX (jit, XLA:CPU) block-Gibbs sweep of a convolutional RBM with
probabilistic max-pooling: the sweep `boltzmann bench conv` times, for a
side-by-side run (issue 16's speed target).

  REFBENCH_VENV/bin/python benches/conv_jax.py --threads 2 [--chains 256]

Per sweep, float32: detection logits by `lax.conv_general_dilated` (valid
correlation, NHWC / HWIO) + bias; one uniform per pooling block picks the
off state or one unit from the block softmax (P² + 1 states, max-shifted);
the pixels' logits by the full convolution of the detection maps with the
flipped filters + bias; Bernoulli pixels. Filters N(0, 0.05²), hidden
biases −2 (as `bench conv`). The process pins itself to --threads CPUs
before importing jax (XLA:CPU ignores thread-count flags; refbench's
jax_gibbs.py does the same). Prints one JSON line.
"""
import argparse
import json
import os
import time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--chains", type=int, default=256)
p.add_argument("--size", type=int, default=28)
p.add_argument("--filters", type=int, default=24)
p.add_argument("--filter-size", type=int, default=7)
p.add_argument("--pool", type=int, default=2)
p.add_argument("--sweeps", type=int, default=10, help="sweeps per jitted call (lax.fori_loop)")
p.add_argument("--repeats", type=int, default=5)
a = p.parse_args()
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: a.threads])

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

B, S, K, R, P = a.chains, a.size, a.filters, a.filter_size, a.pool
HH = S - R + 1
assert HH % P == 0, "detection maps must tile into pooling blocks"
key = jax.random.PRNGKey(0)
kw, kv, ks = jax.random.split(key, 3)
W = 0.05 * jax.random.normal(kw, (R, R, 1, K), jnp.float32)   # HWIO
b = jnp.full((K,), -2.0, jnp.float32)
c = jnp.zeros((1,), jnp.float32)
v0 = (jax.random.uniform(kv, (B, S, S, 1)) < 0.5).astype(jnp.float32)
DN = ("NHWC", "HWIO", "NHWC")
Wflip = jnp.transpose(W[::-1, ::-1, :, :], (0, 1, 3, 2))       # (R, R, K, 1)


def sweep(v, key):
    kh, kv = jax.random.split(key)
    logits = lax.conv_general_dilated(v, W, (1, 1), "VALID", dimension_numbers=DN) + b
    # (B, HH/P, P, HH/P, P, K) -> blocks of P*P units per filter
    blk = logits.reshape(B, HH // P, P, HH // P, P, K).transpose(0, 1, 3, 5, 2, 4).reshape(B, HH // P, HH // P, K, P * P)
    m = jnp.maximum(jnp.max(blk, axis=-1, keepdims=True), 0.0)
    e = jnp.exp(blk - m)
    off = jnp.exp(-m)
    z = off + jnp.sum(e, axis=-1, keepdims=True)
    u = jax.random.uniform(kh, off.shape) * z
    cum = off + jnp.cumsum(e, axis=-1)
    first = jnp.argmax(u < cum, axis=-1)                       # first unit whose cumulative weight exceeds u·Z
    on = (u[..., 0] >= off[..., 0])
    onehot = jax.nn.one_hot(first, P * P, dtype=jnp.float32) * on[..., None]
    h = onehot.reshape(B, HH // P, HH // P, K, P, P).transpose(0, 1, 4, 2, 5, 3).reshape(B, HH, HH, K)
    vl = lax.conv_general_dilated(h, Wflip, (1, 1), [(R - 1, R - 1), (R - 1, R - 1)], dimension_numbers=DN) + c
    v = (jax.random.uniform(kv, vl.shape) < jax.nn.sigmoid(vl)).astype(jnp.float32)
    return v


@jax.jit
def run(v, key):
    def body(i, carry):
        v, key = carry
        key, k = jax.random.split(key)
        return sweep(v, k), key
    return lax.fori_loop(0, a.sweeps, body, (v, key))


v, key = run(v0, ks)
v.block_until_ready()
rates = []
for _ in range(a.repeats):
    t = time.perf_counter()
    v, key = run(v, key)
    v.block_until_ready()
    rates.append(a.sweeps / (time.perf_counter() - t))
rates.sort()
print(json.dumps({"script": "conv_jax.py", "jax": jax.__version__, "threads": a.threads, "chains": B,
                  "shape": f"{S}x{S}x1, {K} filters {R}x{R}, pool {P}", "sweeps_per_s": rates[len(rates) // 2],
                  "sweeps_per_s_all": rates, "mean_v_after": float(v.mean())}))
