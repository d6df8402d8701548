//! Continuous energy functions `E(x)`, `x ∈ ℝᵈ`, batched over rows, for
//! Langevin-type samplers ([`crate::sampler::langevin`]) and maximum-likelihood
//! training (`∇_θ E`).
//!
//! * [`Energy`]: `E(x)` and `∇ₓE(x)` for every row of an `n × d` batch.
//! * [`TrainableEnergy`]: flat parameters and `Σᵣ aᵣ ∇_θ E(xᵣ)`, what the
//!   maximum-likelihood gradient `E_data[∇_θE] − E_model[∇_θE]` needs.
//! * Implementations: the Gaussian–Bernoulli RBM's free energy
//!   ([`crate::model::GaussianRbm`]), a multilayer perceptron with smooth
//!   activations and hand-written backpropagation ([`MlpEnergy`] on
//!   [`Mlp`]), and closed-form test energies whose
//!   samples are known exactly: [`Gaussian`] (full precision matrix) and
//!   [`GaussianMixture`] (isotropic components), the latter with its exact
//!   noise-conditional score for annealed Langevin dynamics.
//! * [`NoiseConditionalScore`]: `s(x, σ)` for annealed Langevin, from an
//!   energy ([`EnergyScore`]), a mixture (exact) or a trained [`ScoreMlp`].
//!
//! Energies are f64 per row (Metropolis tests difference them); gradients
//! are f32 like the states. Every implementation computes each row
//! independently of the others and of the thread count.

mod mlp;
mod score;
mod toy;

pub use mlp::{Activation, Mlp, MlpEnergy};
pub use score::{EnergyScore, NoiseConditionalScore, ScoreMlp};
pub use toy::{Gaussian, GaussianMixture};

use crate::error::{Error, Result};

/// Reusable scratch memory for energy evaluations, so that a sampler's
/// steps do not allocate (hold one per sampler; any energy may use it).
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    bufs: Vec<Vec<f32>>,
}

impl Workspace {
    /// Buffer `i`, resized to `len` (contents unspecified).
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `len` floats cannot be allocated.
    pub fn buf(&mut self, i: usize, len: usize) -> Result<&mut Vec<f32>> {
        while self.bufs.len() <= i {
            self.bufs.push(Vec::new());
        }
        let b = &mut self.bufs[i];
        if b.len() < len {
            b.try_reserve_exact(len - b.len()).map_err(|_| Error::TooLarge {
                what: "energy workspace",
                bytes: len as u128 * 4,
                available: None,
            })?;
            b.resize(len, 0.0);
        }
        Ok(b)
    }

    /// Moves buffer `i` out (empty if never used); give it back with
    /// [`Workspace::put`] so later calls reuse its memory.
    pub fn take(&mut self, i: usize) -> Vec<f32> {
        self.bufs.get_mut(i).map(std::mem::take).unwrap_or_default()
    }

    /// Stores `v` as buffer `i`.
    pub fn put(&mut self, i: usize, v: Vec<f32>) {
        while self.bufs.len() <= i {
            self.bufs.push(Vec::new());
        }
        self.bufs[i] = v;
    }

    /// Two distinct buffers at once.
    pub fn two(&mut self, len0: usize, len1: usize) -> Result<(&mut [f32], &mut [f32])> {
        self.buf(0, len0)?;
        self.buf(1, len1)?;
        let (a, b) = self.bufs.split_at_mut(1);
        Ok((&mut a[0][..len0], &mut b[0][..len1]))
    }
}

/// A batched energy function on `ℝᵈ`.
///
/// **Contract for implementations.** A sampler calls each method once per
/// step on all its chains (`x` is `n × d`, row-major), from inside the
/// caller's rayon pool; the implementation decides how to parallelize (the
/// built-in energies split the rows into blocks with rayon). Every row's
/// result must depend on that row only — not on `n`, on how rows are
/// split, or on the thread count — which is what keeps samplers
/// bit-reproducible. `ws` is scratch memory the sampler keeps between calls
/// ([`Workspace::buf`]); using it is optional. Energies are `f64`,
/// gradients `f32`.
///
/// An energy of your own (a double well in each coordinate) under MALA:
/// ```
/// use boltzmann::energy::{Energy, Workspace};
/// use boltzmann::sampler::{LangevinChains, langevin::MalaConfig};
///
/// struct DoubleWell { d: usize }
///
/// impl Energy for DoubleWell {
///     fn dim(&self) -> usize { self.d }
///     fn energy(&self, x: &[f32], out: &mut [f64], _: &mut Workspace) -> boltzmann::Result<()> {
///         for (row, e) in x.chunks_exact(self.d).zip(out.iter_mut()) {
///             *e = row.iter().map(|&v| { let v = v as f64; (v * v - 1.0).powi(2) }).sum();
///         }
///         Ok(())
///     }
///     fn grad(&self, x: &[f32], grad: &mut [f32], _: &mut Workspace) -> boltzmann::Result<()> {
///         for (g, &v) in grad.iter_mut().zip(x) {
///             *g = 4.0 * v * (v * v - 1.0);
///         }
///         Ok(())
///     }
/// }
///
/// let mut chains = LangevinChains::uniform(256, 2, -2.0, 2.0, 7)?;
/// let report = chains.run_mala(&DoubleWell { d: 2 }, &MalaConfig::new(0.05), 200)?;
/// assert!(report.rate() > 0.5);
/// # Ok::<(), boltzmann::Error>(())
/// ```
///
/// # Examples
/// ```
/// use boltzmann::energy::{Energy, Gaussian, Workspace};
/// let e = Gaussian::isotropic(vec![1.0, -1.0], 0.5)?;
/// let x = [1.0f32, -1.0, 2.0, -1.0];
/// let (mut en, mut g) = (vec![0.0f64; 2], vec![0.0f32; 4]);
/// e.energy_grad(&x, &mut en, &mut g, &mut Workspace::default())?;
/// assert_eq!(en[0], 0.0);
/// assert_eq!(g, vec![0.0, 0.0, 4.0, 0.0]); // (x − μ)/σ²
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub trait Energy: Sync {
    /// The dimension `d` of `x`.
    fn dim(&self) -> usize;

    /// `E(xᵣ)` of every row of `x` (`n × d`) into `out` (`n`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths.
    fn energy(&self, x: &[f32], out: &mut [f64], ws: &mut Workspace) -> Result<()>;

    /// `∇ₓE(xᵣ)` of every row into `grad` (`n × d`).
    ///
    /// # Errors
    /// As [`Energy::energy`].
    fn grad(&self, x: &[f32], grad: &mut [f32], ws: &mut Workspace) -> Result<()>;

    /// Both at once (implementations share the work where they can).
    ///
    /// # Errors
    /// As [`Energy::energy`].
    fn energy_grad(&self, x: &[f32], energy: &mut [f64], grad: &mut [f32], ws: &mut Workspace) -> Result<()> {
        self.energy(x, energy, ws)?;
        self.grad(x, grad, ws)
    }
}

/// An energy with learnable parameters `θ` (a flat f32 vector).
pub trait TrainableEnergy: Energy {
    /// Number of parameters.
    fn n_params(&self) -> usize;

    /// The parameters, flat (layout documented by the implementation).
    fn params(&self) -> Vec<f32>;

    /// Replaces the parameters.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a wrong length, [`Error::NonFinite`], or
    /// values the model refuses (e.g. σ ≤ 0).
    fn set_params(&mut self, p: &[f32]) -> Result<()>;

    /// `Σᵣ coef[r] · ∇_θ E(xᵣ)` added into `out` (`n_params`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths.
    fn add_param_grad(&self, x: &[f32], coef: &[f32], out: &mut [f64], ws: &mut Workspace) -> Result<()>;
}

/// Rows in `x` for an energy of dimension `d`, checking the lengths of `x`
/// and of a per-row output.
pub(crate) fn rows(d: usize, x: &[f32], per_row_out: usize) -> Result<usize> {
    let n = x.len() / d.max(1);
    crate::kernels::check_len("x (rows × dim)", crate::kernels::mul_dims("x", n, d)?, x.len())?;
    crate::kernels::check_len("per-row output", n, per_row_out)?;
    Ok(n)
}
