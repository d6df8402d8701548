//! Python bindings of `boltzmann` (PyO3): the native module
//! `boltzmann._native` under the pure-Python package `boltzmann`, whose
//! `BernoulliRBM` is the scikit-learn estimator.
//!
//! Conventions:
//! * arrays come in as C-contiguous `float32` (the Python layer converts;
//!   contiguous inputs are read in place, without a copy) and go out as new
//!   NumPy arrays that take over the Rust buffers (no copy either);
//! * every call that computes releases the GIL and runs on a rayon pool of
//!   `n_jobs` threads (`None` or −1: all cores) — the results are the same
//!   bits for any `n_jobs`, as everywhere in the library;
//! * library errors become `ValueError` (bad input), `OSError` (files) or
//!   `RuntimeError` (training diverged), with the library's message.

use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig};
use boltzmann::io;
use boltzmann::sampler::{Chains, PackedChains, PackedTemperedChains, TemperedChains, tempering};
use boltzmann::train::{Algorithm, Centering, Optimizer, Schedule, TrainConfig, Trainer};
use boltzmann::{Error, Rbm};
use numpy::{
    AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLike1, PyArrayLike2, PyArrayMethods,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyBytes, PyDict};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

mod continuous;
mod dbn;

fn err(e: Error) -> PyErr {
    match e {
        Error::Os { .. } => PyOSError::new_err(e.to_string()),
        Error::Diverged { .. } => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn value_err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// The rayon pool of `n_jobs` threads (`None` or −1: one per core), built
/// once per size.
fn pool(n_jobs: Option<i64>) -> PyResult<Arc<rayon::ThreadPool>> {
    let n = match n_jobs {
        None | Some(-1) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(n) if (1..=1024).contains(&n) => n as usize,
        Some(n) => return Err(value_err(format!("n_jobs must be None, -1 or in 1..=1024, got {n}"))),
    };
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools =
        POOLS.get_or_init(Default::default).lock().map_err(|_| value_err("thread pools poisoned"))?;
    if let Some(p) = pools.get(&n) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} threads: {e}")))?,
    );
    pools.insert(n, p.clone());
    Ok(p)
}

/// Runs `f` without the GIL on the pool of `n_jobs` threads.
fn compute<T: Send>(
    py: Python<'_>,
    n_jobs: Option<i64>,
    f: impl FnOnce() -> Result<T, Error> + Send,
) -> PyResult<T> {
    let p = pool(n_jobs)?;
    py.detach(|| p.install(f)).map_err(err)
}

/// A 2-D `float32` array as a row-major slice (borrowed when C-contiguous)
/// and its shape.
fn matrix<'a>(a: &'a PyArrayLike2<'_, f32, AllowTypeChange>) -> (Cow<'a, [f32]>, usize, usize) {
    let (n, d) = (a.shape()[0], a.shape()[1]);
    match a.as_slice() {
        Ok(s) => (Cow::Borrowed(s), n, d),
        Err(_) => (Cow::Owned(a.as_array().iter().copied().collect()), n, d),
    }
}

fn vector(a: &PyArrayLike1<'_, f32, AllowTypeChange>) -> Vec<f32> {
    a.as_array().iter().copied().collect()
}

fn check_width(what: &str, got: usize, want: usize) -> PyResult<()> {
    if got != want {
        return Err(value_err(format!("{what} has {got} columns, the model expects {want}")));
    }
    Ok(())
}

fn to_2d<T: numpy::Element>(
    py: Python<'_>,
    v: Vec<T>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'_, PyArray2<T>>> {
    v.into_pyarray(py).reshape([rows, cols])
}

/// A Bernoulli–Bernoulli RBM: `weights` (n_visible × n_hidden), visible and
/// hidden biases.
#[pyclass(module = "boltzmann._native", name = "Rbm", frozen)]
struct PyRbm {
    inner: Rbm,
}

#[pymethods]
impl PyRbm {
    #[new]
    fn new(
        weights: PyArrayLike2<'_, f32, AllowTypeChange>,
        visible_bias: PyArrayLike1<'_, f32, AllowTypeChange>,
        hidden_bias: PyArrayLike1<'_, f32, AllowTypeChange>,
    ) -> PyResult<Self> {
        let (w, d, h) = matrix(&weights);
        let inner =
            Rbm::new(d, h, w.into_owned(), vector(&visible_bias), vector(&hidden_bias)).map_err(err)?;
        Ok(PyRbm { inner })
    }

    /// Weights N(0, std²), biases N(0, bias_std²), from `seed`.
    #[staticmethod]
    #[pyo3(signature = (n_visible, n_hidden, std = 0.01, bias_std = 0.0, seed = 0))]
    fn random(n_visible: usize, n_hidden: usize, std: f32, bias_std: f32, seed: u64) -> PyResult<Self> {
        Ok(PyRbm { inner: Rbm::random(n_visible, n_hidden, std, bias_std, seed).map_err(err)? })
    }

    /// Reads a model file of `boltzmann train` (safetensors, kind "rbm").
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(PyRbm { inner: io::load_rbm(path).map_err(err)? })
    }

    /// Writes the model file atomically (the same format as the CLI's).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        io::save_rbm(&self.inner, path).map_err(err)
    }

    /// The model file's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &io::rbm_bytes(&self.inner))
    }

    /// A model from the bytes of a model file.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(PyRbm { inner: io::parse_rbm(data).map_err(err)? })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let ctor = py.get_type::<PyRbm>().getattr("from_bytes")?;
        Ok((ctor, (slf.get().to_bytes(py),)))
    }

    #[getter]
    fn n_visible(&self) -> usize {
        self.inner.n_visible()
    }

    #[getter]
    fn n_hidden(&self) -> usize {
        self.inner.n_hidden()
    }

    /// The weights, n_visible × n_hidden (a copy).
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        to_2d(py, self.inner.weights().to_vec(), self.inner.n_visible(), self.inner.n_hidden())
    }

    #[getter]
    fn visible_bias<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.inner.visible_bias().to_vec().into_pyarray(py)
    }

    #[getter]
    fn hidden_bias<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.inner.hidden_bias().to_vec().into_pyarray(py)
    }

    /// `p(h = 1 | v)` of each row of `v`.
    #[pyo3(signature = (v, n_jobs = None))]
    fn hidden_probs<'py>(
        &self,
        py: Python<'py>,
        v: PyArrayLike2<'py, f32, AllowTypeChange>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (x, n, d) = matrix(&v);
        check_width("v", d, self.inner.n_visible())?;
        let h = self.inner.n_hidden();
        let out = compute(py, n_jobs, || {
            let mut out = vec![0.0f32; n * h];
            self.inner.hidden_probs(&x, &mut out).map(|_| out)
        })?;
        to_2d(py, out, n, h)
    }

    /// `p(v = 1 | h)` of each row of `h`.
    #[pyo3(signature = (h, n_jobs = None))]
    fn visible_probs<'py>(
        &self,
        py: Python<'py>,
        h: PyArrayLike2<'py, f32, AllowTypeChange>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (x, n, k) = matrix(&h);
        check_width("h", k, self.inner.n_hidden())?;
        let d = self.inner.n_visible();
        let out = compute(py, n_jobs, || {
            let mut out = vec![0.0f32; n * d];
            self.inner.visible_probs(&x, &mut out).map(|_| out)
        })?;
        to_2d(py, out, n, d)
    }

    /// The free energy `F(v) = −bᵀv − Σⱼ softplus(cⱼ + (vᵀW)ⱼ)` of each row
    /// (float64).
    #[pyo3(signature = (v, n_jobs = None))]
    fn free_energy<'py>(
        &self,
        py: Python<'py>,
        v: PyArrayLike2<'py, f32, AllowTypeChange>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (x, n, d) = matrix(&v);
        check_width("v", d, self.inner.n_visible())?;
        let out = compute(py, n_jobs, || {
            let mut out = vec![0.0f64; n];
            self.inner.free_energy_batch(&x, &mut out).map(|_| out)
        })?;
        Ok(out.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        format!("Rbm(n_visible={}, n_hidden={})", self.inner.n_visible(), self.inner.n_hidden())
    }
}

/// An ensemble of block-Gibbs chains (binary visible and hidden states,
/// one random stream per chain).
#[pyclass(module = "boltzmann._native", name = "Chains")]
struct PyChains {
    inner: Chains,
}

#[pymethods]
impl PyChains {
    /// `n_chains` chains with uniformly random visible states.
    #[new]
    #[pyo3(signature = (rbm, n_chains, seed = 0))]
    fn new(rbm: &PyRbm, n_chains: usize, seed: u64) -> PyResult<Self> {
        Ok(PyChains { inner: Chains::new(&rbm.inner, n_chains, seed).map_err(err)? })
    }

    /// Chains started at the binary rows of `visible`.
    #[staticmethod]
    #[pyo3(signature = (rbm, visible, seed = 0))]
    fn from_visible(
        rbm: &PyRbm,
        visible: PyArrayLike2<'_, f32, AllowTypeChange>,
        seed: u64,
    ) -> PyResult<Self> {
        let (x, _, d) = matrix(&visible);
        check_width("visible", d, rbm.inner.n_visible())?;
        Ok(PyChains { inner: Chains::from_visible(&rbm.inner, &x, seed).map_err(err)? })
    }

    /// `k` sweeps `h ~ p(h|v)`, `v ~ p(v|h)` of every chain. With
    /// `incremental=True`, each chain keeps its products between sweeps and
    /// updates them by the units that changed (`Chains::sweep_incremental`:
    /// the same transition up to rounding, faster on trained models).
    #[pyo3(signature = (rbm, k = 1, n_jobs = None, incremental = false))]
    fn sweep(
        &mut self,
        py: Python<'_>,
        rbm: &PyRbm,
        k: usize,
        n_jobs: Option<i64>,
        incremental: bool,
    ) -> PyResult<()> {
        let chains = &mut self.inner;
        if incremental {
            compute(py, n_jobs, || chains.sweep_incremental(&rbm.inner, k))
        } else {
            compute(py, n_jobs, || chains.sweep(&rbm.inner, k))
        }
    }

    /// The visible states, n_chains × n_visible (a copy).
    #[getter]
    fn visible<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        to_2d(py, self.inner.visible().to_vec(), self.inner.batch(), self.inner.n_visible())
    }

    /// The hidden states, n_chains × n_hidden (a copy).
    #[getter]
    fn hidden<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        to_2d(py, self.inner.hidden().to_vec(), self.inner.batch(), self.inner.n_hidden())
    }

    /// A read-only NumPy view of the visible states (no copy): it shows the
    /// states as they are now and after every later sweep, and keeps the
    /// chains alive. Do not read it while another thread sweeps.
    fn visible_view<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (n, d) = {
            let c = &slf.borrow().inner;
            (c.batch(), c.n_visible())
        };
        let ptr = slf.borrow().inner.visible().as_ptr();
        view(slf.into_any(), ptr, n, d)
    }

    /// A read-only NumPy view of the hidden states (as `visible_view`).
    fn hidden_view<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (n, h) = {
            let c = &slf.borrow().inner;
            (c.batch(), c.n_hidden())
        };
        let ptr = slf.borrow().inner.hidden().as_ptr();
        view(slf.into_any(), ptr, n, h)
    }

    /// Sets the visible states (binary rows, one per chain).
    fn set_visible(&mut self, visible: PyArrayLike2<'_, f32, AllowTypeChange>) -> PyResult<()> {
        let (x, n, d) = matrix(&visible);
        if n != self.inner.batch() {
            return Err(value_err(format!("visible has {n} rows, there are {} chains", self.inner.batch())));
        }
        check_width("visible", d, self.inner.n_visible())?;
        self.inner.set_visible(&x).map_err(err)
    }

    #[getter]
    fn n_chains(&self) -> usize {
        self.inner.batch()
    }

    #[getter]
    fn sweeps_done(&self) -> u64 {
        self.inner.sweeps_done()
    }

    fn __repr__(&self) -> String {
        format!("Chains(n_chains={}, sweeps_done={})", self.inner.batch(), self.inner.sweeps_done())
    }
}

/// A read-only `rows × cols` NumPy array over `ptr`, owned by `owner`.
///
/// The owner must be a chain ensemble whose state buffers are allocated
/// once and never reallocated (the `Chains` / `PackedChains` wrappers never
/// replace their ensemble), so the memory lives as long as the owner.
fn view<'py, T: numpy::Element>(
    owner: Bound<'py, PyAny>,
    ptr: *const T,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let py = owner.py();
    // SAFETY: `ptr` points to `rows × cols` contiguous elements of a buffer
    // owned by `owner` that is never reallocated while `owner` lives (see
    // above); the array keeps `owner` alive as its base.
    let arr = unsafe {
        let v = numpy::ndarray::ArrayView2::from_shape_ptr((rows, cols), ptr);
        PyArray2::borrow_from_array(&v, owner)
    };
    arr.call_method("setflags", (), Some(&[("write", false)].into_py_dict(py)?))?;
    Ok(arr)
}

/// Chains with bit-packed visible states (136 bytes per chain at 784
/// visible units), for millions of chains; the same states as `Chains` with
/// the same seed.
#[pyclass(module = "boltzmann._native", name = "PackedChains")]
struct PyPackedChains {
    inner: PackedChains,
}

#[pymethods]
impl PyPackedChains {
    /// `n_chains` chains with uniformly random visible states.
    #[new]
    #[pyo3(signature = (rbm, n_chains, seed = 0))]
    fn new(py: Python<'_>, rbm: &PyRbm, n_chains: usize, seed: u64) -> PyResult<Self> {
        let inner = compute(py, None, || PackedChains::new(&rbm.inner, n_chains, seed))?;
        Ok(PyPackedChains { inner })
    }

    /// `k` sweeps of every chain.
    #[pyo3(signature = (rbm, k = 1, n_jobs = None))]
    fn sweep(&mut self, py: Python<'_>, rbm: &PyRbm, k: usize, n_jobs: Option<i64>) -> PyResult<()> {
        let chains = &mut self.inner;
        compute(py, n_jobs, || chains.sweep(&rbm.inner, k))
    }

    /// The visible states unpacked, n_chains × n_visible float32 (a copy:
    /// 32 × the packed size).
    #[getter]
    fn visible<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (n, d) = (self.inner.batch(), self.inner.n_visible());
        let mut out = Vec::with_capacity(n * d);
        for i in 0..n {
            out.extend(self.inner.visible_row(i));
        }
        to_2d(py, out, n, d)
    }

    /// A read-only view of the packed words, n_chains × ⌈n_visible/64⌉
    /// uint64 (unit `i` of a chain is bit `i % 64` of word `i / 64`); live
    /// as `Chains.visible_view`.
    fn visible_bits_view<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyArray2<u64>>> {
        let (n, w, ptr) = {
            let c = &slf.borrow().inner;
            (c.batch(), c.visible_bits().len() / c.batch(), c.visible_bits().as_ptr())
        };
        view(slf.into_any(), ptr, n, w)
    }

    /// Fraction of visible units on, over all chains.
    fn visible_density(&self) -> f64 {
        self.inner.visible_density()
    }

    #[getter]
    fn n_chains(&self) -> usize {
        self.inner.batch()
    }

    #[getter]
    fn bytes_per_chain(&self) -> usize {
        self.inner.bytes_per_chain()
    }

    #[getter]
    fn sweeps_done(&self) -> u64 {
        self.inner.sweeps_done()
    }

    fn __repr__(&self) -> String {
        format!("PackedChains(n_chains={}, sweeps_done={})", self.inner.batch(), self.inner.sweeps_done())
    }
}

/// The two tempered ensembles behind `TemperedChains`.
enum Tempered {
    F32(Box<TemperedChains>),
    Packed(Box<PackedTemperedChains>),
}

/// Parallel tempering: `n_chains` chains, each with a replica at every
/// inverse temperature of a geometric ladder from `beta_min` to 1
/// (`replicas` of them), neighbour swaps after every sweep; `packed=True`
/// keeps the states as bits (the same states and swaps as f32 with the same
/// seed).
#[pyclass(module = "boltzmann._native", name = "TemperedChains")]
struct PyTemperedChains {
    inner: Tempered,
}

#[pymethods]
impl PyTemperedChains {
    #[new]
    #[pyo3(signature = (rbm, n_chains, replicas = 10, beta_min = 0.3, seed = 0, packed = false))]
    fn new(
        py: Python<'_>,
        rbm: &PyRbm,
        n_chains: usize,
        replicas: usize,
        beta_min: f32,
        seed: u64,
        packed: bool,
    ) -> PyResult<Self> {
        let ladder = tempering::geometric_ladder(replicas, beta_min).map_err(err)?;
        let inner = compute(py, None, || {
            Ok(if packed {
                Tempered::Packed(Box::new(PackedTemperedChains::new(&rbm.inner, n_chains, ladder, seed)?))
            } else {
                Tempered::F32(Box::new(TemperedChains::new(&rbm.inner, n_chains, ladder, seed)?))
            })
        })?;
        Ok(PyTemperedChains { inner })
    }

    /// `k` sweeps, each a Gibbs sweep of every replica then a swap round.
    #[pyo3(signature = (rbm, k = 1, n_jobs = None))]
    fn sweep(&mut self, py: Python<'_>, rbm: &PyRbm, k: usize, n_jobs: Option<i64>) -> PyResult<()> {
        let t = &mut self.inner;
        compute(py, n_jobs, || match t {
            Tempered::F32(c) => c.sweep(&rbm.inner, k),
            Tempered::Packed(c) => c.sweep(&rbm.inner, k),
        })
    }

    /// Visible states of the β = 1 replicas, n_chains × n_visible float32
    /// (a copy).
    #[getter]
    fn visible<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (v, n) = match &self.inner {
            Tempered::F32(c) => (c.visible().to_vec(), c.tempering().n_chains()),
            Tempered::Packed(c) => (c.visible(), c.n_chains()),
        };
        let d = v.len() / n;
        to_2d(py, v, n, d)
    }

    /// The ladder of inverse temperatures, increasing to 1.
    #[getter]
    fn betas(&self) -> Vec<f32> {
        match &self.inner {
            Tempered::F32(c) => c.tempering().betas().to_vec(),
            Tempered::Packed(c) => c.betas().to_vec(),
        }
    }

    /// Acceptance rate of the swaps of each neighbouring pair of temperatures.
    fn swap_rates(&self) -> Vec<f64> {
        match &self.inner {
            Tempered::F32(c) => c.tempering().swap_rates(),
            Tempered::Packed(c) => c.swap_rates(),
        }
    }

    /// Completed round trips (lowest β to 1 and back) and their mean length
    /// in sweeps.
    fn round_trips(&self) -> (u64, f64) {
        match &self.inner {
            Tempered::F32(c) => c.tempering().round_trips(),
            Tempered::Packed(c) => c.round_trips(),
        }
    }

    #[getter]
    fn sweeps_done(&self) -> u64 {
        match &self.inner {
            Tempered::F32(c) => c.sweeps_done(),
            Tempered::Packed(c) => c.sweeps_done(),
        }
    }

    fn __repr__(&self) -> String {
        let (packed, n) = match &self.inner {
            Tempered::F32(c) => (false, c.tempering().n_chains()),
            Tempered::Packed(c) => (true, c.n_chains()),
        };
        let packed = if packed { "True" } else { "False" };
        format!("TemperedChains(n_chains={n}, replicas={}, packed={packed})", self.betas().len())
    }
}

/// The CD-k / PCD trainer of the library, one epoch at a time.
#[pyclass(module = "boltzmann._native", name = "Trainer")]
struct PyTrainer {
    inner: Trainer,
}

fn algorithm(name: &str, k: usize, n_chains: usize) -> PyResult<Algorithm> {
    match name {
        "cd" => Ok(Algorithm::Cd { k }),
        "pcd" => Ok(Algorithm::Pcd { k, chains: n_chains }),
        _ => Err(value_err(format!("algorithm must be \"cd\" or \"pcd\", got {name:?}"))),
    }
}

fn optimizer(name: &str, momentum: f32) -> PyResult<Optimizer> {
    match name {
        "sgd" => Ok(Optimizer::Sgd { initial: momentum, final_: momentum, switch_epoch: 0 }),
        "adam" => Ok(Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }),
        _ => Err(value_err(format!("optimizer must be \"sgd\" or \"adam\", got {name:?}"))),
    }
}

/// The training settings shared by `Trainer` and `train_dbn` (one layer's).
struct Settings<'a> {
    algorithm_name: &'a str,
    k: usize,
    n_chains: usize,
    learning_rate: f32,
    final_learning_rate: Option<f32>,
    batch_size: usize,
    epochs: usize,
    optimizer_name: &'a str,
    momentum: f32,
    l2: f32,
    centering: Option<f32>,
    shuffle: bool,
    weight_init_std: f32,
    seed: u64,
}

impl Settings<'_> {
    /// The library's configuration with these settings (checked when the
    /// trainer starts).
    fn config(&self) -> PyResult<TrainConfig> {
        Ok(TrainConfig::default()
            .algorithm(algorithm(self.algorithm_name, self.k, self.n_chains)?)
            .learning_rate(self.learning_rate)
            .schedule(match self.final_learning_rate {
                None => Schedule::Constant,
                Some(final_lr) => Schedule::Linear { final_lr },
            })
            .optimizer(optimizer(self.optimizer_name, self.momentum)?)
            .l2(self.l2)
            .batch_size(self.batch_size)
            .epochs(self.epochs)
            .shuffle(self.shuffle)
            .weight_init_std(self.weight_init_std)
            .centering(self.centering.map(|hidden_rate| Centering { hidden_rate }))
            .seed(self.seed))
    }
}

#[pymethods]
impl PyTrainer {
    /// A fresh run on `data` (rows in [0, 1]; binary unless
    /// `probability_data`), from random weights or from the model `initial`.
    /// See `TrainConfig` in the Rust documentation for every setting.
    #[new]
    #[pyo3(signature = (
        data, *, n_hidden, algorithm_name = "pcd", k = 1, n_chains = 100, learning_rate = 0.05,
        final_learning_rate = None, batch_size = 100, epochs = 10, optimizer_name = "sgd", momentum = 0.5,
        l2 = 0.0, centering = None, probability_data = false, any_real_data = false, shuffle = true, weight_init_std = 0.01,
        visible_bias_from_data = true, seed = 0, n_jobs = None, initial = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        data: PyArrayLike2<'_, f32, AllowTypeChange>,
        n_hidden: usize,
        algorithm_name: &str,
        k: usize,
        n_chains: usize,
        learning_rate: f32,
        final_learning_rate: Option<f32>,
        batch_size: usize,
        epochs: usize,
        optimizer_name: &str,
        momentum: f32,
        l2: f32,
        centering: Option<f32>,
        probability_data: bool,
        any_real_data: bool,
        shuffle: bool,
        weight_init_std: f32,
        visible_bias_from_data: bool,
        seed: u64,
        n_jobs: Option<i64>,
        initial: Option<PyRef<'_, PyRbm>>,
    ) -> PyResult<Self> {
        let settings = Settings {
            algorithm_name,
            k,
            n_chains,
            learning_rate,
            final_learning_rate,
            batch_size,
            epochs,
            optimizer_name,
            momentum,
            l2,
            centering,
            shuffle,
            weight_init_std,
            seed,
        };
        let config = settings
            .config()?
            .n_hidden(n_hidden)
            .visible_bias_from_data(visible_bias_from_data)
            .probability_data(probability_data)
            .any_real_data(any_real_data);
        let data = dataset(&data)?;
        let initial = initial.map(|r| r.inner.clone());
        let inner = compute(py, n_jobs, || match initial {
            None => Trainer::new(config, &data),
            Some(rbm) => Trainer::starting_from(config, &data, rbm),
        })?;
        Ok(PyTrainer { inner })
    }

    /// One epoch over `data` (any number of rows: a last batch may be
    /// smaller); returns {"epoch", "updates", "learning_rate", "seconds"}.
    #[pyo3(signature = (data, n_jobs = None))]
    fn run_epoch<'py>(
        &mut self,
        py: Python<'py>,
        data: PyArrayLike2<'py, f32, AllowTypeChange>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let data = dataset(&data)?;
        let t = &mut self.inner;
        let r = compute(py, n_jobs, || t.run_epoch(&data, |_, _| {}))?;
        let d = PyDict::new(py);
        d.set_item("epoch", r.epoch)?;
        d.set_item("updates", r.updates)?;
        d.set_item("learning_rate", r.learning_rate)?;
        d.set_item("seconds", r.seconds)?;
        Ok(d)
    }

    /// The model trained so far.
    fn model(&self) -> PyRbm {
        PyRbm { inner: self.inner.model().into_owned() }
    }

    /// Epochs completed.
    #[getter]
    fn epoch(&self) -> usize {
        self.inner.epoch()
    }

    /// Whether the configured epochs are done.
    fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Changes the total number of epochs.
    fn set_epochs(&mut self, epochs: usize) -> PyResult<()> {
        self.inner.set_epochs(epochs).map_err(err)
    }

    /// The persistent chains' hidden states (PCD), n_chains × n_hidden.
    fn chain_hidden<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let c = &self.inner.state().chains;
        to_2d(py, c.hidden().to_vec(), c.batch(), c.n_hidden())
    }

    /// The whole training state as the bytes of a checkpoint file (the
    /// CLI's `checkpoint.safetensors` format).
    fn state_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &io::checkpoint_bytes(self.inner.state()))
    }

    /// A trainer continuing exactly from checkpoint bytes.
    #[staticmethod]
    fn from_state_bytes(data: &[u8]) -> PyResult<Self> {
        let s = io::parse_checkpoint(data, "checkpoint bytes").map_err(err)?;
        Ok(PyTrainer { inner: Trainer::from_state(s).map_err(err)? })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let ctor = py.get_type::<PyTrainer>().getattr("from_state_bytes")?;
        Ok((ctor, (slf.borrow().state_bytes(py),)))
    }
}

fn dataset(a: &PyArrayLike2<'_, f32, AllowTypeChange>) -> PyResult<Dataset> {
    let (x, _, d) = matrix(a);
    Dataset::new(x.into_owned(), d).map_err(err)
}

/// AIS estimate of `log Z` (Salakhutdinov & Murray 2008): `runs` runs over
/// `steps` linear βs (default: their 14,500-step schedule), from the
/// base-rate model of `base_data` (default: zero visible biases). Returns
/// {"log_z", "log_z_low", "log_z_high"} (the ±3σ interval).
#[pyfunction]
#[pyo3(signature = (rbm, base_data = None, runs = 100, steps = None, seed = 0, n_jobs = None))]
fn ais<'py>(
    py: Python<'py>,
    rbm: &PyRbm,
    base_data: Option<PyArrayLike2<'py, f32, AllowTypeChange>>,
    runs: usize,
    steps: Option<usize>,
    seed: u64,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = rbm.inner.n_visible();
    let base = match &base_data {
        Some(b) => {
            let b = dataset(b)?;
            check_width("base_data", b.dim(), d)?;
            eval::base_rate_biases(&b).map_err(err)?
        }
        None => vec![0.0; d],
    };
    let schedule = match steps {
        None => eval::default_schedule(),
        Some(0) => return Err(value_err("steps must be ≥ 1")),
        Some(n) if n > 100_000_000 => return Err(value_err("steps must be ≤ 100,000,000")),
        Some(n) => eval::linear_schedule(n),
    };
    let cfg = AisConfig::default().runs(runs).schedule(schedule).seed(seed);
    let est = compute(py, n_jobs, || eval::ais(&rbm.inner, &base, &cfg))?;
    let out = PyDict::new(py);
    out.set_item("log_z", est.log_z)?;
    out.set_item("log_z_low", est.log_z_low)?;
    out.set_item("log_z_high", est.log_z_high)?;
    Ok(out)
}

/// Exact `log Z`, summing over the smaller layer (at most 30 units).
#[pyfunction]
#[pyo3(signature = (rbm, n_jobs = None))]
fn log_partition_exact(py: Python<'_>, rbm: &PyRbm, n_jobs: Option<i64>) -> PyResult<f64> {
    compute(py, n_jobs, || eval::log_partition_exact(&rbm.inner))
}

/// The native half of the `boltzmann` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRbm>()?;
    m.add_class::<PyChains>()?;
    m.add_class::<PyPackedChains>()?;
    m.add_class::<PyTemperedChains>()?;
    m.add_class::<PyTrainer>()?;
    m.add_function(wrap_pyfunction!(ais, m)?)?;
    m.add_function(wrap_pyfunction!(log_partition_exact, m)?)?;
    dbn::register(m)?;
    continuous::register(m)?;
    m.add("isa", boltzmann::active_isa().to_string())?;
    Ok(())
}
