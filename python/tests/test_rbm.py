"""Tests of the Python package: scikit-learn's own estimator checks, the
digits-classification example with only the import changed, exactness of
log-likelihoods and samples on tiny models, reproducibility (n_jobs, pickling
mid-training), files, and bad input."""

import itertools
import pickle
import threading
import warnings

import numpy as np
import pytest
from sklearn import linear_model
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import minmax_scale
from sklearn.utils.estimator_checks import parametrize_with_checks

import boltzmann
from boltzmann import BernoulliRBM


@parametrize_with_checks([BernoulliRBM(n_components=8, n_iter=2)])
def test_sklearn_estimator_checks(estimator, check):
    # The checks feed values outside [0, 1], about which fit warns.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*outside \\[0, 1\\]", category=UserWarning)
        check(estimator)


def _binary(n, d, seed=0, p=0.3):
    return (np.random.RandomState(seed).rand(n, d) < p).astype(np.float64)


def _digits():
    X, y = load_digits(return_X_y=True)
    X = minmax_scale(X, feature_range=(0, 1))
    return train_test_split(X, y, test_size=0.2, random_state=0)


def _pipeline_score(rbm_cls):
    """scikit-learn's example "Restricted Boltzmann Machine features for
    digit classification" (without its nudged data set): the RBM's features
    into a logistic regression, its settings as published."""
    X_train, X_test, y_train, y_test = _digits()
    logistic = linear_model.LogisticRegression(max_iter=1000, C=6000)
    rbm = rbm_cls(random_state=0, verbose=False)
    rbm.learning_rate = 0.06
    rbm.n_iter = 10
    rbm.n_components = 100
    clf = Pipeline(steps=[("rbm", rbm), ("logistic", logistic)])
    clf.fit(X_train, y_train)
    return clf.score(X_test, y_test)


def test_digits_pipeline_example_runs_with_only_the_import_changed():
    ours = _pipeline_score(BernoulliRBM)
    theirs = _pipeline_score(SkBernoulliRBM)
    # The features must be as useful as scikit-learn's (measured: both ≈ 0.9+).
    assert ours >= theirs - 0.03, (ours, theirs)
    assert ours > 0.85


def test_float32_and_float64_in_dtype_preserved_out():
    X = _binary(60, 12)
    for dtype in (np.float32, np.float64):
        rbm = BernoulliRBM(n_components=5, n_iter=3, random_state=1).fit(X.astype(dtype))
        assert rbm.transform(X.astype(dtype)).dtype == dtype
        assert rbm.components_.shape == (5, 12)
        assert rbm.intercept_hidden_.shape == (5,) and rbm.intercept_visible_.shape == (12,)
        assert rbm.h_samples_.shape == (10, 5)
    # The same data in either precision trains the same model.
    a = BernoulliRBM(n_components=5, n_iter=3, random_state=1).fit(X.astype(np.float32))
    b = BernoulliRBM(n_components=5, n_iter=3, random_state=1).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)


def test_same_model_for_any_n_jobs():
    X = _binary(300, 40, seed=2)
    models = [
        BernoulliRBM(n_components=20, n_iter=3, random_state=3, n_jobs=j, n_chains=37).fit(X) for j in (1, 2, 3)
    ]
    for m in models[1:]:
        np.testing.assert_array_equal(models[0].components_, m.components_)
        np.testing.assert_array_equal(models[0].h_samples_, m.h_samples_)


def test_pickling_mid_training_resumes_exactly():
    X = _binary(120, 20, seed=4)
    chunks = np.array_split(X, 4)
    straight = BernoulliRBM(n_components=6, random_state=5, momentum=0.5, centering=0.1)
    for c in chunks:
        straight.partial_fit(c)
    half = BernoulliRBM(n_components=6, random_state=5, momentum=0.5, centering=0.1)
    for c in chunks[:2]:
        half.partial_fit(c)
    resumed = pickle.loads(pickle.dumps(half))
    for c in chunks[2:]:
        resumed.partial_fit(c)
    np.testing.assert_array_equal(straight.components_, resumed.components_)
    np.testing.assert_array_equal(straight.intercept_hidden_, resumed.intercept_hidden_)
    np.testing.assert_array_equal(straight.h_samples_, resumed.h_samples_)


def test_partial_fit_takes_chunks_of_any_size():
    X = _binary(50, 10, seed=6)
    rbm = BernoulliRBM(n_components=4, batch_size=16, random_state=0)
    rbm.partial_fit(X[:3])  # fewer rows than a batch
    rbm.partial_fit(X[3:])
    assert np.all(np.isfinite(rbm.components_))
    with pytest.raises(ValueError, match="features"):
        rbm.partial_fit(X[:, :9])


def test_save_and_load_use_the_cli_model_format(tmp_path):
    X = _binary(80, 16, seed=7)
    rbm = BernoulliRBM(n_components=6, n_iter=2, random_state=0).fit(X)
    path = tmp_path / "model.safetensors"
    rbm.save(path)
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = raw[8 : 8 + header_len].decode()
    assert '"kind":"rbm"' in header.replace(" ", "") and '"format":"boltzmann"' in header.replace(" ", "")
    back = BernoulliRBM.load(path)
    np.testing.assert_array_equal(back.components_, rbm.components_)
    np.testing.assert_array_equal(back.transform(X), rbm.transform(X))
    # partial_fit continues from the loaded weights.
    back.partial_fit(X)
    assert back.components_.shape == rbm.components_.shape
    with pytest.raises(OSError):
        BernoulliRBM.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError):
        BernoulliRBM.load(bad)


def _exact_log_probs(rbm, X):
    """log p(x) by enumerating every visible and hidden state in NumPy."""
    W = rbm.components_.T.astype(np.float64)
    b = rbm.intercept_visible_.astype(np.float64)
    c = rbm.intercept_hidden_.astype(np.float64)
    d = W.shape[0]
    states = np.array(list(itertools.product([0.0, 1.0], repeat=d)))
    neg_f = states @ b + np.logaddexp(0, states @ W + c).sum(axis=1)
    log_z = np.logaddexp.reduce(neg_f)
    return X @ b + np.logaddexp(0, X @ W + c).sum(axis=1) - log_z, states, np.exp(neg_f - log_z)


def test_log_likelihood_exact_and_ais_against_enumeration():
    X = _binary(200, 10, seed=8, p=0.4)
    rbm = BernoulliRBM(n_components=6, n_iter=20, learning_rate=0.05, random_state=0).fit(X)
    want, _, _ = _exact_log_probs(rbm, X)
    got = rbm.log_likelihood(X, method="exact")
    np.testing.assert_allclose(got, want, atol=1e-4)
    ais = rbm.log_likelihood(X, method="ais", ais_runs=200, ais_steps=3000, random_state=1)
    lo, hi = rbm.log_z_interval_
    assert lo <= rbm.log_z_ <= hi
    assert abs(ais.mean() - want.mean()) < 0.05


def test_samples_follow_the_exact_distribution():
    X = _binary(300, 6, seed=9, p=0.5)
    X[:, 1] = X[:, 0]
    rbm = BernoulliRBM(n_components=3, n_iter=30, learning_rate=0.1, random_state=0).fit(X)
    _, states, probs = _exact_log_probs(rbm, X[:1])
    s = rbm.sample(20000, n_steps=50, random_state=3)
    assert s.dtype == np.float32 and set(np.unique(s)) <= {0.0, 1.0}
    idx = (s @ (2.0 ** np.arange(5, -1, -1))).astype(int)
    counts = np.bincount(idx, minlength=64)
    expected = probs * len(s)
    keep = expected >= 5
    chi2 = (((counts[keep] - expected[keep]) ** 2) / expected[keep]).sum()
    # 95 % critical value of χ² for (keep.sum() − 1) degrees of freedom,
    # by the Wilson–Hilferty approximation.
    k = keep.sum() - 1
    crit = k * (1 - 2 / (9 * k) + 1.645 * np.sqrt(2 / (9 * k))) ** 3
    assert chi2 < crit, (chi2, crit, k)
    # Same seed, same samples.
    np.testing.assert_array_equal(s, rbm.sample(20000, n_steps=50, random_state=3))


def test_gibbs_and_score_samples():
    X = _binary(100, 12, seed=10)
    rbm = BernoulliRBM(n_components=5, n_iter=3, random_state=0).fit(X)
    v = rbm.gibbs(X)
    assert v.shape == X.shape and set(np.unique(v)) <= {0.0, 1.0}
    s = rbm.score_samples(X)
    assert s.shape == (100,) and np.all(s <= 0)
    # A row's score does not depend on the other rows.
    np.testing.assert_array_equal(rbm.score_samples(X[::-1])[::-1], s)


def test_bad_input_is_refused_clearly():
    X = _binary(30, 8, seed=11)
    rbm = BernoulliRBM(n_components=4, n_iter=1, random_state=0).fit(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        BernoulliRBM(n_components=4).fit(bad)
    with pytest.raises(ValueError, match="features"):
        rbm.transform(X[:, :5])
    with pytest.raises(ValueError, match="n_samples"):
        rbm.sample(0)
    with pytest.raises(ValueError, match="n_steps"):
        rbm.sample(3, n_steps=0)
    with pytest.raises(ValueError, match="binary"):
        rbm.log_likelihood(X * 0.5)
    with pytest.raises(ValueError, match="method"):
        rbm.log_likelihood(X, method="guess")
    with pytest.raises(ValueError, match="n_jobs"):
        BernoulliRBM(n_components=4, n_jobs=0).fit(X)
    with pytest.raises(ValueError):
        BernoulliRBM(n_components=0).fit(X)
    with pytest.raises(ValueError):
        BernoulliRBM(centering=1.5).fit(X)
    with pytest.warns(UserWarning, match="outside"):
        BernoulliRBM(n_components=4, n_iter=1).fit(X * 3)
    # The native layer.
    with pytest.raises(ValueError):
        boltzmann.Rbm(np.zeros((3, 2), np.float32), np.zeros(4, np.float32), np.zeros(2, np.float32))
    with pytest.raises(ValueError):
        boltzmann.Rbm(np.full((3, 2), np.inf, np.float32), np.zeros(3, np.float32), np.zeros(2, np.float32))
    m = boltzmann.Rbm.random(8, 4, seed=1)
    with pytest.raises(ValueError, match="columns"):
        m.hidden_probs(np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError):
        boltzmann.Chains(m, 0)
    with pytest.raises(ValueError):
        boltzmann.ais(m, runs=0)
    with pytest.raises(ValueError):
        boltzmann.ais(m, steps=0)
    with pytest.raises(ValueError):
        boltzmann.log_partition_exact(boltzmann.Rbm.random(40, 40))


def test_native_layer_chains_ais_and_threads():
    m = boltzmann.Rbm.random(12, 6, std=0.5, bias_std=0.2, seed=2)
    exact = boltzmann.log_partition_exact(m)
    est = boltzmann.ais(m, runs=100, steps=2000, seed=1)
    assert est["log_z_low"] <= exact + 0.05 and exact - 0.05 <= est["log_z_high"]
    c1, c2 = boltzmann.Chains(m, 64, seed=4), boltzmann.Chains(m, 64, seed=4)
    c1.sweep(m, 5, n_jobs=1)
    c2.sweep(m, 5, n_jobs=3)
    np.testing.assert_array_equal(c1.visible, c2.visible)
    assert c1.sweeps_done == 5 and c1.hidden.shape == (64, 6)
    # Calls from several Python threads at once (the GIL is released inside).
    X = np.random.RandomState(0).rand(500, 12).astype(np.float32)
    want = m.hidden_probs(X)
    out = [None] * 4

    def work(i):
        out[i] = m.hidden_probs(X)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in out:
        np.testing.assert_array_equal(o, want)
    assert pickle.loads(pickle.dumps(m)).weights.tobytes() == m.weights.tobytes()


def test_incremental_sweeps_equal_plain_ones_where_products_are_exact():
    # Small integer weights: every product is exact in f32, so keeping the
    # products and updating them by the changed units gives the plain states.
    rng = np.random.RandomState(3)
    W = rng.randint(-2, 3, size=(150, 70)).astype(np.float32)
    m = boltzmann.Rbm(W, np.full(150, -3.0, np.float32), np.full(70, -1.0, np.float32))
    a, b = boltzmann.Chains(m, 50, seed=2), boltzmann.Chains(m, 50, seed=2)
    for k in (3, 70, 2):
        a.sweep(m, k, n_jobs=1)
        b.sweep(m, k, n_jobs=2, incremental=True)
        np.testing.assert_array_equal(a.visible, b.visible)
        np.testing.assert_array_equal(a.hidden, b.hidden)
    assert b.sweeps_done == 75


def test_state_views_and_packed_chains():
    m = boltzmann.Rbm.random(70, 9, std=0.3, bias_std=0.1, seed=5)
    c = boltzmann.Chains(m, 33, seed=8)
    view = c.visible_view()
    assert view.shape == (33, 70) and not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 1.0
    c.sweep(m, 3)
    np.testing.assert_array_equal(view, c.visible)  # live: shows the new states
    np.testing.assert_array_equal(c.hidden_view(), c.hidden)
    del c  # the view keeps the chains alive
    assert np.isin(view, (0.0, 1.0)).all()
    # Packed chains give the same states as f32 chains with the same seed.
    f, p = boltzmann.Chains(m, 300, seed=9), boltzmann.PackedChains(m, 300, seed=9)
    f.sweep(m, 4, n_jobs=1)
    p.sweep(m, 4, n_jobs=2)
    np.testing.assert_array_equal(f.visible, p.visible)
    bits = p.visible_bits_view()
    assert bits.dtype == np.uint64 and bits.shape == (300, 2) and not bits.flags.writeable
    unpacked = ((bits[:, :, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).reshape(300, 128)[:, :70]
    np.testing.assert_array_equal(unpacked.astype(np.float32), p.visible)
    assert abs(p.visible_density() - p.visible.mean()) < 1e-12
    assert p.bytes_per_chain == 2 * 8 + 32
    c2 = boltzmann.Chains(m, 4, seed=1)
    c2.set_visible(np.ones((4, 70), np.float32))
    np.testing.assert_array_equal(c2.visible, 1.0)
    with pytest.raises(ValueError, match="binary"):
        c2.set_visible(np.full((4, 70), 0.5, np.float32))
    with pytest.raises(ValueError, match="rows"):
        c2.set_visible(np.ones((3, 70), np.float32))
    with pytest.raises(ValueError):
        boltzmann.PackedChains(m, 0)


def test_tempered_chains_packed_equals_f32_and_reports_swaps():
    rng = np.random.default_rng(3)
    m = boltzmann.Rbm(rng.normal(0, 0.3, (40, 12)).astype(np.float32), np.full(40, -1.0, np.float32), np.zeros(12, np.float32))
    f = boltzmann.TemperedChains(m, 50, replicas=5, beta_min=0.2, seed=4)
    p = boltzmann.TemperedChains(m, 50, replicas=5, beta_min=0.2, seed=4, packed=True)
    f.sweep(m, 30, n_jobs=1)
    p.sweep(m, 30, n_jobs=2)
    assert f.visible.shape == (50, 40) and np.isin(f.visible, (0.0, 1.0)).all()
    np.testing.assert_array_equal(f.visible, p.visible)
    assert f.swap_rates() == p.swap_rates() and len(f.swap_rates()) == 4
    assert all(0.0 < r <= 1.0 for r in f.swap_rates())
    assert f.round_trips() == p.round_trips() or np.isnan(f.round_trips()[1])
    assert len(f.betas) == 5 and f.betas[-1] == 1.0 and f.sweeps_done == 30
    assert "packed=True" in repr(p)
    for bad in [dict(replicas=1), dict(beta_min=0.0), dict(beta_min=1.5)]:
        with pytest.raises(ValueError):
            boltzmann.TemperedChains(m, 4, **bad)
    with pytest.raises(ValueError):
        boltzmann.TemperedChains(m, 0)
