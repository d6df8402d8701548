//! Deep belief networks from Python: greedy training (`train_dbn`), the
//! `Dbn` model (features, recognition samples, ancestral samples, the
//! variational lower bound on `log p(x)`), and the CLI's DBN files.

use super::{PyRbm, Settings, check_width, compute, dataset, err, matrix, to_2d, value_err};
use boltzmann::eval;
use boltzmann::io;
use boltzmann::model::Dbn;
use boltzmann::rng::{Purpose, derive};
use boltzmann::train::TrainConfig;
use boltzmann::train::dbn::{DbnConfig, Propagate, train_greedy};
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLike2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::PathBuf;

type F32<'py> = Bound<'py, PyArray2<f32>>;

/// A deep belief network: a stack of RBMs, bottom first, whose top is an
/// undirected RBM and whose lower layers are directed `p(hˡ⁻¹ | hˡ)`.
#[pyclass(module = "boltzmann._native", name = "Dbn", frozen)]
pub(crate) struct PyDbn {
    inner: Dbn,
}

impl PyDbn {
    /// `layer` (default: the top) checked against the depth.
    fn layer(&self, layer: Option<usize>) -> PyResult<usize> {
        let depth = self.inner.depth();
        match layer {
            None => Ok(depth),
            Some(l) if l <= depth => Ok(l),
            Some(l) => Err(value_err(format!("layer {l} is above the top of a {depth}-layer DBN"))),
        }
    }

    fn width(&self, layer: usize) -> usize {
        self.inner.sizes()[layer]
    }
}

#[pymethods]
impl PyDbn {
    /// A DBN from its layers (`Rbm`s, bottom first): each layer's visible
    /// units must be the hidden units of the layer below.
    #[new]
    fn new(layers: Vec<PyRef<'_, PyRbm>>) -> PyResult<Self> {
        let layers = layers.iter().map(|r| r.inner.clone()).collect();
        Ok(PyDbn { inner: Dbn::new(layers).map_err(err)? })
    }

    /// Reads a DBN file of `boltzmann dbn train` (safetensors, tied
    /// weights; untied and label-joined files are refused by name).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(PyDbn { inner: io::load_dbn(path).map_err(err)? })
    }

    /// Writes the DBN file atomically (the CLI's format).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        io::save_dbn(&self.inner, path).map_err(err)
    }

    /// The DBN file's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &io::dbn_bytes(&self.inner))
    }

    /// A DBN from the bytes of a DBN file.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(PyDbn { inner: io::parse_dbn(data).map_err(err)? })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let ctor = py.get_type::<PyDbn>().getattr("from_bytes")?;
        Ok((ctor, (slf.get().to_bytes(py),)))
    }

    /// The layers as `Rbm`s, bottom first (copies).
    #[getter]
    fn layers(&self) -> Vec<PyRbm> {
        self.inner.layers().iter().map(|r| PyRbm { inner: r.clone() }).collect()
    }

    /// Layer widths, visible first: `[D, H¹, …, Hᴸ]`.
    #[getter]
    fn sizes(&self) -> Vec<usize> {
        self.inner.sizes()
    }

    /// Number of layers `L`.
    #[getter]
    fn depth(&self) -> usize {
        self.inner.depth()
    }

    /// Posterior means passed up to `layer` (0: the input; default: the
    /// top): the deterministic features of each row of `x`.
    #[pyo3(signature = (x, layer = None, n_jobs = None))]
    fn transform<'py>(
        &self,
        py: Python<'py>,
        x: PyArrayLike2<'py, f32, AllowTypeChange>,
        layer: Option<usize>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let l = self.layer(layer)?;
        let (x, n, d) = matrix(&x);
        check_width("x", d, self.inner.n_visible())?;
        let out = compute(py, n_jobs, || self.inner.transform(&x, l))?;
        to_2d(py, out, n, self.width(l))
    }

    /// Binary samples `hˡ ~ Q(hˡ | hˡ⁻¹)` passed up to `layer` (default:
    /// the top), one random stream per row from `seed`.
    #[pyo3(signature = (x, layer = None, seed = 0, n_jobs = None))]
    fn recognize<'py>(
        &self,
        py: Python<'py>,
        x: PyArrayLike2<'py, f32, AllowTypeChange>,
        layer: Option<usize>,
        seed: u64,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let l = self.layer(layer)?;
        let (x, n, d) = matrix(&x);
        check_width("x", d, self.inner.n_visible())?;
        let out = compute(py, n_jobs, || self.inner.recognize(&x, l, seed))?;
        to_2d(py, out, n, self.width(l))
    }

    /// `n` samples of `p(v)`: `n` Gibbs chains in the top RBM run `n_steps`
    /// sweeps from uniform states, then one ancestral pass down. Returns
    /// `(visible, visible_probs)`: the binary samples and the bottom
    /// layer's `p(v = 1 | h¹)` they were drawn from (smoother to look at).
    #[pyo3(signature = (n, n_steps = 1000, seed = 0, n_jobs = None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        n_steps: usize,
        seed: u64,
        n_jobs: Option<i64>,
    ) -> PyResult<(F32<'py>, F32<'py>)> {
        let s = compute(py, n_jobs, || self.inner.sample(n, n_steps, seed))?;
        let d = self.inner.n_visible();
        Ok((to_2d(py, s.visible, n, d)?, to_2d(py, s.visible_probs, n, d)?))
    }

    /// The variational lower bound on `log p(x)` of each binary row of `x`
    /// (Salakhutdinov & Murray 2008, eq. 15), averaged over `samples`
    /// recognition samples, given the top RBM's `log Z` (exact from
    /// `log_partition_exact(dbn.layers[-1])` for a small top, else `ais`).
    /// Returns {"mean", "std_err", "per_example"}.
    #[pyo3(signature = (x, log_z_top, samples = 10, seed = 0, n_jobs = None))]
    fn lower_bound<'py>(
        &self,
        py: Python<'py>,
        x: PyArrayLike2<'py, f32, AllowTypeChange>,
        log_z_top: f64,
        samples: usize,
        seed: u64,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let data = dataset(&x)?;
        check_width("x", data.dim(), self.inner.n_visible())?;
        let b = compute(py, n_jobs, || eval::dbn::lower_bound(&self.inner, &data, log_z_top, samples, seed))?;
        let out = PyDict::new(py);
        out.set_item("mean", b.mean)?;
        out.set_item("std_err", b.std_err)?;
        let per: Bound<'py, PyArray1<f64>> = b.per_example.into_pyarray(py);
        out.set_item("per_example", per)?;
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!("Dbn(sizes={:?})", self.inner.sizes())
    }
}

/// Greedy layer-wise training of a DBN with `hidden` units per layer
/// (bottom first) on the binary rows of `data`: each layer is an RBM
/// trained with these settings (the seed of layer `l` is `seed + l`, as
/// `boltzmann dbn train` does), the layers above the first on recognition
/// samples (`propagate="samples"`) or probabilities of the layer below.
#[pyfunction]
#[pyo3(signature = (
    data, hidden, *, epochs = 10, algorithm = "pcd", k = 1, n_chains = 100, learning_rate = 0.05,
    final_learning_rate = None, batch_size = 100, optimizer = "sgd", momentum = 0.5, l2 = 0.0,
    centering = None, shuffle = true, weight_init_std = 0.01, propagate = "samples",
    tied_init = false, seed = 0, n_jobs = None
))]
#[allow(clippy::too_many_arguments)]
fn train_dbn(
    py: Python<'_>,
    data: PyArrayLike2<'_, f32, AllowTypeChange>,
    hidden: Vec<usize>,
    epochs: usize,
    algorithm: &str,
    k: usize,
    n_chains: usize,
    learning_rate: f32,
    final_learning_rate: Option<f32>,
    batch_size: usize,
    optimizer: &str,
    momentum: f32,
    l2: f32,
    centering: Option<f32>,
    shuffle: bool,
    weight_init_std: f32,
    propagate: &str,
    tied_init: bool,
    seed: u64,
    n_jobs: Option<i64>,
) -> PyResult<PyDbn> {
    if hidden.is_empty() {
        return Err(value_err("hidden must list at least one layer width"));
    }
    let propagate = match propagate {
        "samples" => Propagate::Samples,
        "probabilities" => Propagate::Probabilities,
        p => return Err(value_err(format!("propagate must be \"samples\" or \"probabilities\", got {p:?}"))),
    };
    let base = Settings {
        algorithm_name: algorithm,
        k,
        n_chains,
        learning_rate,
        final_learning_rate,
        batch_size,
        epochs,
        optimizer_name: optimizer,
        momentum,
        l2,
        centering,
        shuffle,
        weight_init_std,
        seed,
    }
    .config()?;
    let layers: Vec<TrainConfig> = hidden
        .iter()
        .enumerate()
        .map(|(l, &h)| base.clone().n_hidden(h).seed(seed.wrapping_add(l as u64)))
        .collect();
    let config = DbnConfig::new(layers)
        .tied_init(tied_init)
        .propagate(propagate)
        .seed(derive(seed, Purpose::DbnLayers));
    let data = dataset(&data)?;
    let inner = compute(py, n_jobs, || train_greedy(&config, &data, |_, _| {}))?;
    Ok(PyDbn { inner })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDbn>()?;
    m.add_function(wrap_pyfunction!(train_dbn, m)?)?;
    Ok(())
}
