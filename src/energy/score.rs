//! Noise-conditional score functions `s(x, σ) ≈ ∇ₓ log p_σ(x)` (the data
//! density smoothed by `N(0, σ²I)`), what annealed Langevin dynamics
//! follows: the trait, the score `−∇E` of any energy, the exact score of a
//! Gaussian mixture, and [`ScoreMlp`], the network trained by denoising
//! score matching ([`crate::train::dsm`]).

use super::{Activation, Energy, GaussianMixture, Mlp, Workspace};
use crate::error::{Error, Result};

/// A score function `s(x, σ) ≈ ∇ₓ log p_σ(x)` of the data density smoothed
/// by `N(0, σ²I)`: what annealed Langevin dynamics follows.
pub trait NoiseConditionalScore: Sync {
    /// The dimension `d`.
    fn dim(&self) -> usize;
    /// `s(xᵣ, σ)` for every row of `x` (`n × d`) into `out` (`n × d`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths.
    fn score(&self, x: &[f32], sigma: f32, out: &mut [f32], ws: &mut Workspace) -> Result<()>;
}

impl NoiseConditionalScore for GaussianMixture {
    fn dim(&self) -> usize {
        Energy::dim(self)
    }

    /// The exact score of the mixture convolved with `N(0, σ²I)`.
    fn score(&self, x: &[f32], sigma: f32, out: &mut [f32], ws: &mut Workspace) -> Result<()> {
        self.smoothed(sigma as f64)?.grad(x, out, ws)?;
        out.iter_mut().for_each(|g| *g = -*g);
        Ok(())
    }
}

/// The score `−∇E` of an energy, the same at every noise level (plain
/// Langevin run through the annealed sampler).
#[derive(Debug, Clone, Copy)]
pub struct EnergyScore<'a, E: Energy>(pub &'a E);

impl<E: Energy> NoiseConditionalScore for EnergyScore<'_, E> {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn score(&self, x: &[f32], _sigma: f32, out: &mut [f32], ws: &mut Workspace) -> Result<()> {
        self.0.grad(x, out, ws)?;
        out.iter_mut().for_each(|g| *g = -*g);
        Ok(())
    }
}

/// A noise-conditional score network: an [`Mlp`] from `d + 1` inputs
/// (`x` and `log σ`) to `d` outputs, and the noise levels it was trained
/// on (strictly decreasing).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMlp {
    pub(crate) mlp: Mlp,
    sigmas: Vec<f32>,
}

impl ScoreMlp {
    /// A fresh network for data of dimension `dim`.
    ///
    /// # Errors
    /// As [`Mlp::new`]; [`Error::InvalidParam`] for a schedule that is not
    /// positive and strictly decreasing.
    pub fn new(dim: usize, hidden: &[usize], act: Activation, sigmas: Vec<f32>, seed: u64) -> Result<Self> {
        let sizes: Vec<usize> = std::iter::once(dim + 1).chain(hidden.iter().copied()).chain([dim]).collect();
        Self::from_mlp(Mlp::new(&sizes, act, seed)?, sigmas)
    }

    /// From a network (`sizes = [d + 1, …, d]`) and its noise levels.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for other sizes or a bad schedule.
    pub fn from_mlp(mlp: Mlp, sigmas: Vec<f32>) -> Result<Self> {
        let s = mlp.sizes();
        if s[0] != s[s.len() - 1] + 1 {
            return Err(Error::InvalidParam {
                name: "score network sizes",
                reason: format!("{s:?}: input must be the output width + 1 (x and log σ)"),
            });
        }
        let ok = !sigmas.is_empty()
            && sigmas.iter().all(|v| v.is_finite() && *v > 0.0)
            && sigmas.windows(2).all(|w| w[0] > w[1]);
        if !ok {
            return Err(Error::InvalidParam {
                name: "noise levels",
                reason: format!("{sigmas:?} must be positive and strictly decreasing"),
            });
        }
        Ok(ScoreMlp { mlp, sigmas })
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The training noise levels, largest first.
    pub fn sigmas(&self) -> &[f32] {
        &self.sigmas
    }

    /// Data dimension `d`.
    pub fn dim(&self) -> usize {
        self.mlp.sizes()[0] - 1
    }

    /// `[x, log σ]` rows.
    pub(crate) fn inputs(&self, x: &[f32], log_sigma: impl Fn(usize) -> f32) -> Vec<f32> {
        let d = self.dim();
        let mut inp = Vec::with_capacity(x.len() / d * (d + 1));
        for (r, row) in x.chunks_exact(d).enumerate() {
            inp.extend_from_slice(row);
            inp.push(log_sigma(r));
        }
        inp
    }
}

impl NoiseConditionalScore for ScoreMlp {
    fn dim(&self) -> usize {
        ScoreMlp::dim(self)
    }

    fn score(&self, x: &[f32], sigma: f32, out: &mut [f32], ws: &mut Workspace) -> Result<()> {
        let d = self.dim();
        crate::energy::rows(d, x, x.len() / d)?;
        crate::kernels::check_len("score (rows × dim)", x.len(), out.len())?;
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::InvalidParam { name: "sigma", reason: format!("{sigma} is not > 0") });
        }
        let ls = sigma.ln();
        let f = self.mlp.forward(&self.inputs(x, |_| ls), ws)?;
        out.iter_mut().zip(&f).for_each(|(o, &v)| *o = v / sigma);
        Ok(())
    }
}
