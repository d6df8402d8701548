"""Tests of the Langevin samplers over the built-in continuous models and of
DBN training and sampling from Python: exactness against known moments and
exact enumeration, reproducibility (n_jobs, pickling, files), bad input."""

import itertools
import pickle

import numpy as np
import pytest

import boltzmann
from boltzmann import Dbn, EnergyModel, LangevinChains, Rbm, train_dbn


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


# ---------------------------------------------------------------- Langevin


def test_mala_targets_a_correlated_gaussian_exactly():
    mean = [1.0, -2.0]
    precision = [[2.0, 0.8], [0.8, 1.0]]
    model = EnergyModel.gaussian(mean, precision)
    chains = LangevinChains.uniform(4000, 2, -4.0, 4.0, seed=3)
    report = chains.run_mala(model, 0.4, 300, n_jobs=2)
    assert 0.5 < report["rate"] <= 1.0
    assert report["proposed"] == 4000 * 300
    assert report["accepted_per_chain"].sum() == report["accepted"]
    x = chains.states.astype(np.float64)
    cov = np.linalg.inv(np.array(precision))
    # 4000 independent chains: standard errors ≈ √(var/4000) < 0.025.
    assert np.allclose(x.mean(axis=0), mean, atol=0.1)
    assert np.allclose(np.cov(x.T), cov, atol=0.1)
    assert chains.steps_done == 300 and chains.failures == []


def test_ula_biased_by_its_step_mala_not():
    # On N(0, 1), ULA with step ε has stationary variance 1 / (1 − ε/4);
    # MALA corrects it.
    model = EnergyModel.isotropic_gaussian([0.0], 1.0)
    ula = LangevinChains.uniform(20000, 1, -1.0, 1.0, seed=1)
    ula.run(model, 1.0, 200)
    mala = LangevinChains.uniform(20000, 1, -1.0, 1.0, seed=1)
    mala.run_mala(model, 1.0, 200)
    assert abs(ula.states.var() - 4.0 / 3.0) < 0.06
    assert abs(mala.states.var() - 1.0) < 0.05


def test_same_states_for_any_n_jobs():
    model = EnergyModel.gaussian_mixture([0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [0.5, 0.8])
    runs = []
    for jobs in (1, 2, 3):
        c = LangevinChains.uniform(257, 2, -3.0, 3.0, seed=9)
        c.run(model, 0.05, 20, grad_clip=5.0, clamp=(-4.0, 4.0), n_jobs=jobs)
        c.run_mala(model, 0.1, 10, n_jobs=jobs)
        runs.append(c.states)
    assert all(np.array_equal(runs[0], r) for r in runs[1:])


def test_annealed_langevin_finds_both_mixture_modes():
    model = EnergyModel.gaussian_mixture([0.5, 0.5], [[-4.0], [4.0]], [0.3, 0.3])
    c = LangevinChains.uniform(2000, 1, -0.5, 0.5, seed=2)
    c.run_annealed(model, 2e-5, 100, sigmas=list(np.geomspace(5.0, 0.05, 10)))
    x = c.states[:, 0]
    left = (x < 0).mean()
    assert 0.4 < left < 0.6
    assert abs(np.abs(x).mean() - 4.0) < 0.3


def test_gaussian_rbm_energy_gradient_matches_finite_differences():
    rng = np.random.RandomState(0)
    w = _f32(rng.randn(3, 4) * 0.5)
    g = EnergyModel.gaussian_rbm(w, _f32([0.1, -0.2, 0.3]), _f32(rng.randn(4)), _f32([0.5, 1.0, 2.0]))
    assert (g.kind, g.dim) == ("gb-rbm", 3)
    x = _f32(rng.randn(5, 3))
    grad = g.grad(x)
    h = 1e-2
    for j in range(3):
        e = np.zeros((5, 3), dtype=np.float32)
        e[:, j] = h
        fd = (g.energy(x + e) - g.energy(x - e)) / (2 * h)
        assert np.allclose(fd, grad[:, j], atol=2e-3)


def test_energy_model_files_and_pickling(tmp_path):
    rng = np.random.RandomState(1)
    g = EnergyModel.gaussian_rbm(_f32(rng.randn(4, 2)), _f32(np.zeros(4)), _f32(np.zeros(2)), _f32(np.ones(4)))
    path = tmp_path / "gb.safetensors"
    g.save(path)
    back = EnergyModel.load(path)
    x = _f32(rng.randn(6, 4))
    assert np.array_equal(back.energy(x), g.energy(x))
    assert path.read_bytes() == g.to_bytes()
    for m in (g, EnergyModel.gaussian([1.0, 2.0], [[1.0, 0.0], [0.0, 4.0]]),
              EnergyModel.gaussian_mixture([1.0, 3.0], [[0.0], [1.0]], [1.0, 0.5])):
        p = pickle.loads(pickle.dumps(m))
        y = _f32(rng.randn(3, m.dim))
        assert p.kind == m.kind and np.array_equal(p.energy(y), m.energy(y))


def test_energy_and_langevin_bad_input(tmp_path):
    g = EnergyModel.isotropic_gaussian([0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="columns"):
        g.energy(_f32(np.zeros((2, 3))))
    for f in (g.energy, g.grad):
        with pytest.raises(ValueError, match="non-finite"):
            f(_f32([[0.0, np.nan]]))
    # Any numeric array or nested list is converted; a non-contiguous one too.
    assert np.array_equal(g.energy([[1, 2]]), g.energy(np.array([[1.0, 2.0]])))
    assert np.array_equal(g.grad(np.ones((3, 4))[:, ::2]), g.grad(_f32(np.ones((3, 2)))))
    with pytest.raises(ValueError, match="no file format"):
        g.save(tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(ValueError, match="noise-conditional score"):
        g.score(_f32(np.zeros((1, 2))), 0.5)
    with pytest.raises(ValueError, match="positive definite"):
        EnergyModel.gaussian([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError):
        EnergyModel.isotropic_gaussian([0.0], -1.0)
    with pytest.raises(ValueError, match="a row has"):
        EnergyModel.gaussian_mixture([1.0, 1.0], [[0.0], [1.0, 2.0]], [1.0, 1.0])
    with pytest.raises(ValueError):
        EnergyModel.from_bytes(b"not safetensors")
    with pytest.raises(OSError):
        EnergyModel.load(tmp_path / "missing.safetensors")
    c = LangevinChains.uniform(4, 2, seed=0)
    for bad in (lambda: c.run(g, 0.0, 1), lambda: c.run(g, float("nan"), 1),
                lambda: c.run(g, 0.1, 1, clamp=(1.0, -1.0)), lambda: c.run_mala(g, -1.0, 1),
                lambda: c.run(EnergyModel.isotropic_gaussian([0.0] * 3, 1.0), 0.1, 1),
                lambda: c.run_annealed(g, 0.1, 10)):
        with pytest.raises(ValueError):
            bad()
    assert c.steps_done == 0
    with pytest.raises(ValueError):
        LangevinChains(_f32([[0.0, float("nan")]]))
    with pytest.raises(ValueError):
        LangevinChains.uniform(4, 2, 1.0, -1.0)


def test_diverging_chains_are_stopped_and_reported():
    # A step far too large for a sharp Gaussian: the chains blow up, are
    # stopped one by one and named, and the call does not crash.
    model = EnergyModel.isotropic_gaussian([0.0], 1e-3)
    c = LangevinChains.uniform(8, 1, -1.0, 1.0, seed=0)
    c.run(model, 10.0, 200)
    assert len(c.failures) == 8 and not c.alive.any()
    chain, step, what = c.failures[0]
    assert 0 <= chain < 8 and step < 200 and what in ("energy", "gradient", "state")


# -------------------------------------------------------------------- DBNs


def _binary(n, d, seed=0, p=0.3):
    return (np.random.RandomState(seed).rand(n, d) < p).astype(np.float32)


def test_train_dbn_shapes_reproducibility_and_files(tmp_path):
    x = _binary(300, 12, seed=4)
    runs = [train_dbn(x, [8, 5], epochs=3, batch_size=30, n_chains=30, seed=7, n_jobs=j) for j in (1, 2)]
    dbn = runs[0]
    assert dbn.sizes == [12, 8, 5] and dbn.depth == 2
    assert runs[0].to_bytes() == runs[1].to_bytes()
    assert [r.n_hidden for r in dbn.layers] == [8, 5]
    f = dbn.transform(x)
    assert f.shape == (300, 5) and ((f > 0) & (f < 1)).all()
    assert dbn.transform(x, layer=0).shape == (300, 12)
    r = dbn.recognize(x, layer=1, seed=3)
    assert r.shape == (300, 8) and set(np.unique(r)) <= {0.0, 1.0}
    v, p = dbn.sample(50, n_steps=20, seed=1)
    assert v.shape == p.shape == (50, 12) and set(np.unique(v)) <= {0.0, 1.0}
    assert np.array_equal(v, dbn.sample(50, n_steps=20, seed=1, n_jobs=1)[0])
    path = tmp_path / "dbn.safetensors"
    dbn.save(path)
    assert Dbn.load(path).to_bytes() == dbn.to_bytes()
    assert pickle.loads(pickle.dumps(dbn)).to_bytes() == dbn.to_bytes()
    # A DBN is its layers: rebuilt from them it is the same file.
    assert Dbn(dbn.layers).to_bytes() == dbn.to_bytes()


def test_dbn_lower_bound_is_below_the_exact_log_probability():
    # A 2-layer DBN small enough to enumerate: log p(v) = log Σ_h1 p(v|h1) p(h1)
    # with p(h1) from the top RBM's exact partition function.
    x = _binary(200, 6, seed=5, p=0.4)
    dbn = train_dbn(x, [4, 3], epochs=20, batch_size=20, n_chains=20, learning_rate=0.1, seed=2)
    bottom, top = dbn.layers
    log_z = boltzmann.log_partition_exact(top)
    h1 = np.array(list(itertools.product([0.0, 1.0], repeat=4)), dtype=np.float32)
    log_p_h1 = -top.free_energy(h1) - log_z
    pv = bottom.visible_probs(h1).astype(np.float64)
    vs = x[:20].astype(np.float64)
    log_pv_h = vs @ np.log(pv).T + (1 - vs) @ np.log1p(-pv).T
    exact = np.logaddexp.reduce(log_pv_h + log_p_h1[None, :], axis=1)
    b = dbn.lower_bound(x[:20], log_z, samples=200, seed=1)
    assert b["per_example"].shape == (20,)
    assert b["mean"] <= exact.mean() + 1e-6
    assert b["mean"] > exact.mean() - 3.0


def test_dbn_bad_input(tmp_path):
    x = _binary(40, 6)
    with pytest.raises(ValueError, match="at least one layer"):
        train_dbn(x, [])
    with pytest.raises(ValueError, match="propagate"):
        train_dbn(x, [3], propagate="means")
    with pytest.raises(ValueError):
        train_dbn(x, [3], learning_rate=-1.0)
    with pytest.raises(ValueError):
        train_dbn(_f32(np.full((40, 6), 0.5)), [3])
    with pytest.raises(ValueError):
        Dbn([Rbm.random(6, 4), Rbm.random(5, 3)])
    dbn = train_dbn(x, [4, 3], epochs=1, batch_size=10)
    with pytest.raises(ValueError, match="above the top"):
        dbn.transform(x, layer=3)
    with pytest.raises(ValueError, match="columns"):
        dbn.transform(_f32(np.zeros((2, 5))))
    with pytest.raises(ValueError):
        dbn.lower_bound(x, float("nan"))
    with pytest.raises(ValueError):
        Dbn.from_bytes(Rbm.random(3, 2).to_bytes())
    with pytest.raises(ValueError):
        dbn.sample(0)
