//! Continuous energy models and Langevin sampling from Python: the built-in
//! energies (`EnergyModel`: Gaussian, Gaussian mixture, Gaussian–Bernoulli
//! RBM, MLP energy, noise-conditional score network) and `LangevinChains`
//! (unadjusted Langevin, MALA, annealed Langevin).

use super::{check_width, compute, err, matrix, to_2d, value_err};
use boltzmann::energy::{
    Energy, Gaussian, GaussianMixture, MlpEnergy, NoiseConditionalScore, ScoreMlp, Workspace,
};
use boltzmann::io::{self, EnergyModel};
use boltzmann::model::GaussianRbm;
use boltzmann::sampler::langevin::{AnnealedConfig, LangevinChains, LangevinConfig, MalaConfig};
use boltzmann::{Error, Result};
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLike1, PyArrayLike2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::PathBuf;

/// The model behind an `EnergyModel`.
enum Model {
    Gaussian(Gaussian),
    Mixture(GaussianMixture),
    GbRbm(GaussianRbm),
    Mlp(MlpEnergy),
    Score(ScoreMlp),
}

/// Runs `$body` with `$e` bound to the model as an `Energy`; a score
/// network (no energy) is an error.
macro_rules! with_energy {
    ($model:expr, $e:ident => $body:expr) => {
        match $model {
            Model::Gaussian($e) => $body,
            Model::Mixture($e) => $body,
            Model::GbRbm($e) => $body,
            Model::Mlp($e) => $body,
            Model::Score(_) => Err(no_energy()),
        }
    };
}

fn no_energy() -> Error {
    Error::InvalidParam {
        name: "model",
        reason: "a score network has no energy: use score() and LangevinChains.run_annealed".into(),
    }
}

fn no_score() -> Error {
    Error::InvalidParam {
        name: "model",
        reason: "only a score network or a Gaussian mixture has a noise-conditional score".into(),
    }
}

impl Model {
    fn dim(&self) -> usize {
        match self {
            Model::Gaussian(e) => e.dim(),
            Model::Mixture(e) => Energy::dim(e),
            Model::GbRbm(e) => e.dim(),
            Model::Mlp(e) => e.dim(),
            Model::Score(s) => s.dim(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Model::Gaussian(_) => "gaussian",
            Model::Mixture(_) => "gaussian-mixture",
            Model::GbRbm(_) => "gb-rbm",
            Model::Mlp(_) => "mlp-energy",
            Model::Score(_) => "score-mlp",
        }
    }

    /// The file form, for the kinds that have one.
    fn file(&self) -> Option<EnergyModel> {
        match self {
            Model::GbRbm(g) => Some(EnergyModel::GaussianRbm(g.clone())),
            Model::Mlp(e) => Some(EnergyModel::Mlp(e.clone())),
            Model::Score(s) => Some(EnergyModel::Score(s.clone())),
            Model::Gaussian(_) | Model::Mixture(_) => None,
        }
    }

    fn score(&self, x: &[f32], sigma: f32, out: &mut [f32]) -> Result<()> {
        let ws = &mut Workspace::default();
        match self {
            Model::Score(s) => s.score(x, sigma, out, ws),
            Model::Mixture(m) => m.score(x, sigma, out, ws),
            _ => Err(no_score()),
        }
    }
}

impl From<EnergyModel> for Model {
    fn from(m: EnergyModel) -> Self {
        match m {
            EnergyModel::GaussianRbm(g) => Model::GbRbm(g),
            EnergyModel::Mlp(e) => Model::Mlp(e),
            EnergyModel::Score(s) => Model::Score(s),
        }
    }
}

/// A built-in continuous model `p(x) ∝ exp(−E(x))` on `ℝᵈ`: a Gaussian, a
/// Gaussian mixture, a Gaussian–Bernoulli RBM (its free energy over the
/// visible units), an MLP energy (`boltzmann ebm train`), or a
/// noise-conditional score network (`boltzmann ebm train --dsm`; it has a
/// score, not an energy).
#[pyclass(module = "boltzmann._native", name = "EnergyModel", frozen)]
pub(crate) struct PyEnergy {
    inner: Model,
}

/// `x` checked for NaN and infinities (the energies would pass them on).
fn finite(x: &[f32]) -> PyResult<()> {
    match x.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(value_err(format!("x holds a non-finite value (NaN or inf) at index {i}"))),
    }
}

fn rows_f64(name: &str, x: Vec<Vec<f64>>, d: usize) -> PyResult<Vec<f64>> {
    if let Some(r) = x.iter().find(|r| r.len() != d) {
        return Err(value_err(format!("{name}: a row has {} values, expected {d}", r.len())));
    }
    Ok(x.into_iter().flatten().collect())
}

#[pymethods]
impl PyEnergy {
    /// `N(mean, precision⁻¹)`, the precision a symmetric positive-definite
    /// `d × d` matrix (nested lists or a 2-D array).
    #[staticmethod]
    fn gaussian(mean: Vec<f64>, precision: Vec<Vec<f64>>) -> PyResult<Self> {
        let d = mean.len();
        let p = rows_f64("precision", precision, d)?;
        Ok(PyEnergy { inner: Model::Gaussian(Gaussian::new(mean, p).map_err(err)?) })
    }

    /// `N(mean, sigma² I)`.
    #[staticmethod]
    fn isotropic_gaussian(mean: Vec<f64>, sigma: f64) -> PyResult<Self> {
        Ok(PyEnergy { inner: Model::Gaussian(Gaussian::isotropic(mean, sigma).map_err(err)?) })
    }

    /// `Σₖ wₖ N(μₖ, σₖ² I)`: `weights` (K, normalized here), `means`
    /// (K × d), `sigmas` (K).
    #[staticmethod]
    fn gaussian_mixture(weights: Vec<f64>, means: Vec<Vec<f64>>, sigmas: Vec<f64>) -> PyResult<Self> {
        let d = means.first().map_or(0, Vec::len);
        let m = rows_f64("means", means, d)?;
        Ok(PyEnergy { inner: Model::Mixture(GaussianMixture::new(weights, m, sigmas).map_err(err)?) })
    }

    /// A Gaussian–Bernoulli RBM: weights (D × H), visible biases, hidden
    /// biases, visible standard deviations σ (all > 0).
    #[staticmethod]
    fn gaussian_rbm(
        weights: PyArrayLike2<'_, f32, AllowTypeChange>,
        visible_bias: PyArrayLike1<'_, f32, AllowTypeChange>,
        hidden_bias: PyArrayLike1<'_, f32, AllowTypeChange>,
        sigma: PyArrayLike1<'_, f32, AllowTypeChange>,
    ) -> PyResult<Self> {
        let (w, d, h) = matrix(&weights);
        let v = |a: &PyArrayLike1<'_, f32, AllowTypeChange>| a.as_array().to_vec();
        let g = GaussianRbm::new(d, h, w.into_owned(), v(&visible_bias), v(&hidden_bias), v(&sigma))
            .map_err(err)?;
        Ok(PyEnergy { inner: Model::GbRbm(g) })
    }

    /// Reads a continuous-model file of the CLI (`gb-rbm`, `mlp-energy` or
    /// `score-mlp` safetensors).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(PyEnergy { inner: io::load_energy_model(path).map_err(err)?.into() })
    }

    /// A model from the bytes of a continuous-model file.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(PyEnergy { inner: io::parse_energy_model(data).map_err(err)?.into() })
    }

    /// The model file's bytes (not for the Gaussian and the mixture, which
    /// have no file format).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let m = self
            .inner
            .file()
            .ok_or_else(|| value_err(format!("a {} has no file format", self.inner.kind())))?;
        Ok(PyBytes::new(py, &io::ModelFile::Energy(m).to_bytes()))
    }

    /// Writes the model file atomically (the CLI's format).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        let m = self
            .inner
            .file()
            .ok_or_else(|| value_err(format!("a {} has no file format", self.inner.kind())))?;
        io::save_energy_model(&m, path).map_err(err)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let py = slf.py();
        let ty = py.get_type::<PyEnergy>();
        let me = slf.get();
        Ok(match &me.inner {
            Model::Gaussian(g) => {
                let d = g.mean().len();
                let p: Vec<Vec<f64>> = g.precision().chunks(d).map(<[f64]>::to_vec).collect();
                (ty.getattr("gaussian")?, (g.mean().to_vec(), p).into_pyobject(py)?.into_any())
            }
            Model::Mixture(m) => {
                let d = Energy::dim(m);
                let means: Vec<Vec<f64>> = m.means().chunks(d).map(<[f64]>::to_vec).collect();
                let args = (m.weights().to_vec(), means, m.sigmas().to_vec());
                (ty.getattr("gaussian_mixture")?, args.into_pyobject(py)?.into_any())
            }
            _ => (ty.getattr("from_bytes")?, (me.to_bytes(py)?,).into_pyobject(py)?.into_any()),
        })
    }

    /// "gaussian", "gaussian-mixture", "gb-rbm", "mlp-energy" or "score-mlp".
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    /// The dimension `d`.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// The training noise levels of a score network (largest first).
    #[getter]
    fn sigmas(&self) -> Option<Vec<f32>> {
        match &self.inner {
            Model::Score(s) => Some(s.sigmas().to_vec()),
            _ => None,
        }
    }

    /// `E(x)` of each row of `x` (float64).
    #[pyo3(signature = (x, n_jobs = None))]
    fn energy<'py>(
        &self,
        py: Python<'py>,
        x: PyArrayLike2<'py, f32, AllowTypeChange>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (x, n, d) = matrix(&x);
        check_width("x", d, self.inner.dim())?;
        finite(&x)?;
        let out = compute(py, n_jobs, || {
            let mut out = vec![0.0f64; n];
            with_energy!(&self.inner, e => e.energy(&x, &mut out, &mut Workspace::default())).map(|_| out)
        })?;
        Ok(out.into_pyarray(py))
    }

    /// `∇ₓE(x)` of each row of `x`.
    #[pyo3(signature = (x, n_jobs = None))]
    fn grad<'py>(
        &self,
        py: Python<'py>,
        x: PyArrayLike2<'py, f32, AllowTypeChange>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (x, n, d) = matrix(&x);
        check_width("x", d, self.inner.dim())?;
        finite(&x)?;
        let out = compute(py, n_jobs, || {
            let mut g = vec![0.0f32; x.len()];
            with_energy!(&self.inner, e => e.grad(&x, &mut g, &mut Workspace::default())).map(|_| g)
        })?;
        to_2d(py, out, n, d)
    }

    /// The noise-conditional score `s(x, σ)` of each row (a score network,
    /// or the exact score of a Gaussian mixture convolved with N(0, σ²I)).
    #[pyo3(signature = (x, sigma, n_jobs = None))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: PyArrayLike2<'py, f32, AllowTypeChange>,
        sigma: f32,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (x, n, d) = matrix(&x);
        check_width("x", d, self.inner.dim())?;
        finite(&x)?;
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(value_err(format!("sigma must be > 0, got {sigma}")));
        }
        let out = compute(py, n_jobs, || {
            let mut s = vec![0.0f32; x.len()];
            self.inner.score(&x, sigma, &mut s).map(|_| s)
        })?;
        to_2d(py, out, n, d)
    }

    fn __repr__(&self) -> String {
        format!("EnergyModel(kind={:?}, dim={})", self.inner.kind(), self.inner.dim())
    }
}

/// `n` chains in `ℝᵈ`, each with its own random stream: unadjusted
/// Langevin (`run`), Metropolis-adjusted Langevin (`run_mala`) and annealed
/// Langevin (`run_annealed`) on an `EnergyModel`. A chain whose energy,
/// gradient or state stops being finite is stopped and reported in
/// `failures`; the others go on. Same seed, same states for any `n_jobs`.
#[pyclass(module = "boltzmann._native", name = "LangevinChains")]
pub(crate) struct PyLangevin {
    inner: LangevinChains,
}

#[pymethods]
impl PyLangevin {
    /// Chains started at the rows of `init` (n × d), streams from `seed`.
    #[new]
    #[pyo3(signature = (init, seed = 0))]
    fn new(init: PyArrayLike2<'_, f32, AllowTypeChange>, seed: u64) -> PyResult<Self> {
        let (x, _, d) = matrix(&init);
        Ok(PyLangevin { inner: LangevinChains::new(d, x.into_owned(), seed).map_err(err)? })
    }

    /// `n` chains started uniformly in `[low, high]ᵈ`.
    #[staticmethod]
    #[pyo3(signature = (n, d, low = -1.0, high = 1.0, seed = 0))]
    fn uniform(n: usize, d: usize, low: f32, high: f32, seed: u64) -> PyResult<Self> {
        Ok(PyLangevin { inner: LangevinChains::uniform(n, d, low, high, seed).map_err(err)? })
    }

    /// `n_steps` unadjusted Langevin steps
    /// `x ← clamp(x − (step/2)·clip(∇E(x)) + noise·ξ)`; `noise` defaults to
    /// `√step` (plain ULA); `grad_clip` clips each gradient element;
    /// `clamp=(low, high)` clamps the states after each step.
    #[pyo3(signature = (model, step, n_steps, noise = None, grad_clip = None, clamp = None, n_jobs = None))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        py: Python<'_>,
        model: &PyEnergy,
        step: f32,
        n_steps: usize,
        noise: Option<f32>,
        grad_clip: Option<f32>,
        clamp: Option<(f32, f32)>,
        n_jobs: Option<i64>,
    ) -> PyResult<()> {
        let mut cfg = LangevinConfig::ula(step).grad_clip(grad_clip).clamp(clamp);
        if let Some(n) = noise {
            cfg = cfg.noise(n);
        }
        let chains = &mut self.inner;
        compute(py, n_jobs, || with_energy!(&model.inner, e => chains.run(e, &cfg, n_steps)))
    }

    /// `n_steps` MALA steps of size `step` (Roberts & Tweedie 1996): the
    /// Langevin proposal accepted by a Metropolis–Hastings test, so the
    /// chains target `p` exactly. Returns {"accepted", "proposed", "rate",
    /// "accepted_per_chain"}.
    #[pyo3(signature = (model, step, n_steps, n_jobs = None))]
    fn run_mala<'py>(
        &mut self,
        py: Python<'py>,
        model: &PyEnergy,
        step: f32,
        n_steps: usize,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let chains = &mut self.inner;
        let r = compute(
            py,
            n_jobs,
            || with_energy!(&model.inner, e => chains.run_mala(e, &MalaConfig::new(step), n_steps)),
        )?;
        let out = PyDict::new(py);
        out.set_item("accepted", r.accepted)?;
        out.set_item("proposed", r.proposed)?;
        out.set_item("rate", r.rate())?;
        let per: Bound<'py, PyArray1<u32>> = r.accepted_per_chain.into_pyarray(py);
        out.set_item("accepted_per_chain", per)?;
        Ok(out)
    }

    /// Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1) with a
    /// noise-conditional score (`model.kind` "score-mlp" or
    /// "gaussian-mixture"): `steps_per_level` steps at each level of
    /// `sigmas` (default: a score network's own levels), step
    /// `step·σᵢ²/σ_L²`.
    #[pyo3(signature = (model, step, steps_per_level, sigmas = None, clamp = None, n_jobs = None))]
    #[allow(clippy::too_many_arguments)]
    fn run_annealed(
        &mut self,
        py: Python<'_>,
        model: &PyEnergy,
        step: f32,
        steps_per_level: usize,
        sigmas: Option<Vec<f32>>,
        clamp: Option<(f32, f32)>,
        n_jobs: Option<i64>,
    ) -> PyResult<()> {
        let sigmas = match (sigmas, &model.inner) {
            (Some(s), _) => s,
            (None, Model::Score(s)) => s.sigmas().to_vec(),
            (None, _) => return Err(value_err("sigmas are needed for a model without its own noise levels")),
        };
        let cfg = AnnealedConfig::new(sigmas, step, steps_per_level).clamp(clamp);
        let chains = &mut self.inner;
        compute(py, n_jobs, || match &model.inner {
            Model::Score(s) => chains.run_annealed(s, &cfg),
            Model::Mixture(m) => chains.run_annealed(m, &cfg),
            _ => Err(no_score()),
        })
    }

    /// The states, n_chains × d (a copy).
    #[getter]
    fn states<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        to_2d(py, self.inner.states().to_vec(), self.inner.len(), self.inner.dim())
    }

    /// Which chains are still running.
    #[getter]
    fn alive<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        self.inner.alive().to_vec().into_pyarray(py)
    }

    /// Stopped chains as (chain, step, what) — `what` is "energy",
    /// "gradient", "score" or "state" — in the order they failed.
    #[getter]
    fn failures(&self) -> Vec<(usize, u64, &'static str)> {
        self.inner.failures().iter().map(|f| (f.chain, f.step, f.what)).collect()
    }

    #[getter]
    fn n_chains(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Steps run so far.
    #[getter]
    fn steps_done(&self) -> u64 {
        self.inner.steps()
    }

    fn __repr__(&self) -> String {
        format!(
            "LangevinChains(n_chains={}, dim={}, steps_done={})",
            self.inner.len(),
            self.inner.dim(),
            self.inner.steps()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEnergy>()?;
    m.add_class::<PyLangevin>()?;
    Ok(())
}
