//! A Deep Belief Network over real-valued data: a Gaussian–Bernoulli RBM at
//! the bottom ([`GaussianRbm`], the directed layer `p(v | h¹) = N(b + σ ⊙
//! Wh¹, σ²)` once stacked) under a DBN of binary layers ([`Dbn`]) that
//! models `p(h¹)` — Hinton & Salakhutdinov (2006) use such a bottom layer
//! for real-valued inputs.
//!
//! `p(v, h¹, …) = p(v | h¹) · p_upper(h¹, …)`; recognition `Q(h¹ | v) =
//! σ(c + (v/σ)W)` then the upper network's. With no upper network the model
//! is the GB-RBM itself. Training: [`crate::train::dbn::train_gaussian_greedy`];
//! the bound: [`crate::eval::gaussian_dbn::gaussian_lower_bound`].

use super::dbn::{DbnSamples, bernoulli_in_place};
use super::{Dbn, GaussianRbm};
use crate::error::{Error, Result};
use crate::kernels::mul_dims;
use crate::rng;

/// A Gaussian–Bernoulli RBM under an optional DBN of binary layers (module
/// docs).
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, model::{Dbn, GaussianDbn, GaussianRbm}};
/// let bottom = GaussianRbm::random(6, 4, 0.3, 1.0, 1)?;
/// let upper = Dbn::new(vec![Rbm::random(4, 3, 0.3, 0.0, 2)?])?;
/// let net = GaussianDbn::new(bottom, Some(upper))?;
/// assert_eq!(net.sizes(), vec![6, 4, 3]);
/// let s = net.sample(5, 20, 7)?;
/// assert_eq!(s.visible.len(), 5 * 6);
/// assert_eq!(net.transform(&s.visible, 2)?.len(), 5 * 3);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianDbn {
    bottom: GaussianRbm,
    upper: Option<Dbn>,
}

impl GaussianDbn {
    /// From the bottom GB-RBM and the network above it.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the upper network's visible units are not
    /// the bottom's hidden units.
    pub fn new(bottom: GaussianRbm, upper: Option<Dbn>) -> Result<Self> {
        if let Some(u) = &upper
            && u.n_visible() != bottom.n_hidden()
        {
            return Err(Error::ShapeMismatch {
                what: "layer 2 visible units (hidden units of the Gaussian bottom layer)",
                expected: bottom.n_hidden(),
                got: u.n_visible(),
            });
        }
        Ok(GaussianDbn { bottom, upper })
    }

    /// The Gaussian–Bernoulli bottom layer.
    pub fn bottom(&self) -> &GaussianRbm {
        &self.bottom
    }

    /// The binary layers above it, if any.
    pub fn upper(&self) -> Option<&Dbn> {
        self.upper.as_ref()
    }

    /// Number of layers (RBMs) `L`.
    pub fn depth(&self) -> usize {
        1 + self.upper.as_ref().map_or(0, Dbn::depth)
    }

    /// Visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.bottom.n_visible()
    }

    /// Layer widths `[D, H¹, …, Hᴸ]`.
    pub fn sizes(&self) -> Vec<usize> {
        match &self.upper {
            Some(u) => std::iter::once(self.n_visible()).chain(u.sizes()).collect(),
            None => vec![self.n_visible(), self.bottom.n_hidden()],
        }
    }

    fn check_layer(&self, layer: usize) -> Result<()> {
        if layer > self.depth() {
            return Err(Error::InvalidParam {
                name: "layer",
                reason: format!("{layer} is above the top layer ({})", self.depth()),
            });
        }
        Ok(())
    }

    /// Posterior means up to `layer` (0: the input itself), `n × Hˡ`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not rows of `D`,
    /// [`Error::InvalidParam`] for a layer above the top, [`Error::NonFinite`].
    pub fn transform(&self, x: &[f32], layer: usize) -> Result<Vec<f32>> {
        self.check_layer(layer)?;
        let n = self.rows(x)?;
        if layer == 0 {
            return Ok(x.to_vec());
        }
        let mut h =
            crate::alloc::try_vec(mul_dims("features", n, self.bottom.n_hidden())?, 0.0f32, "features")?;
        self.bottom.hidden_probs(x, &mut h)?;
        match &self.upper {
            Some(u) if layer > 1 => u.transform(&h, layer - 1),
            _ => Ok(h),
        }
    }

    /// Binary recognition samples up to `layer ≥ 1` (streams from `seed`).
    ///
    /// # Errors
    /// As [`GaussianDbn::transform`]; [`Error::InvalidParam`] for layer 0.
    pub fn recognize(&self, x: &[f32], layer: usize, seed: u64) -> Result<Vec<f32>> {
        if layer == 0 {
            return Err(Error::InvalidParam { name: "layer", reason: "layer 0 is the data itself".into() });
        }
        let mut h = self.transform(x, 1)?;
        let mut st = rng::chain_streams(seed, h.len() / self.bottom.n_hidden())?;
        bernoulli_in_place(&mut st, self.bottom.n_hidden(), &mut h)?;
        match &self.upper {
            Some(u) if layer > 1 => {
                self.check_layer(layer)?;
                u.recognize(&h, layer - 1, rng::derive(seed, rng::Purpose::GaussianDbnRecognition))
            }
            _ => Ok(h),
        }
    }

    /// `n` samples of `p(v)`: the upper network's ancestral samples of `h¹`
    /// (Gibbs in its top RBM for `sweeps` sweeps, then down), then
    /// `v ~ N(b + σ ⊙ Wh¹, σ²)`; without an upper network, `sweeps` Gibbs
    /// sweeps of the GB-RBM from `v = b`. `visible_probs` holds the means
    /// `b + σ ⊙ Wh¹` (smoother pictures).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `n = 0`; [`Error::TooLarge`].
    pub fn sample(&self, n: usize, sweeps: usize, seed: u64) -> Result<DbnSamples> {
        if n == 0 {
            return Err(Error::InvalidParam { name: "n", reason: "no samples requested".into() });
        }
        let (d, h) = (self.n_visible(), self.bottom.n_hidden());
        let mut streams = rng::chain_streams(rng::derive(seed, rng::Purpose::GaussianDbnSampling), n)?;
        let hid = match &self.upper {
            Some(u) => u.sample(n, sweeps, seed)?.visible,
            None => {
                let mut v: Vec<f32> =
                    self.bottom.visible_bias().iter().copied().cycle().take(n * d).collect();
                self.bottom.gibbs(&mut v, &mut streams, sweeps.max(1))?
            }
        };
        debug_assert_eq!(hid.len(), n * h);
        let mut means = crate::alloc::try_vec(mul_dims("samples", n, d)?, 0.0f32, "samples")?;
        self.bottom.visible_means(&hid, &mut means)?;
        let mut z = crate::alloc::try_vec(n * d, 0.0f32, "samples")?;
        rng::fill_normal(&mut streams, d, &mut z)?;
        let s = self.bottom.sigma();
        let visible =
            means.iter().zip(&z).enumerate().map(|(k, (&m, &z))| m + s[k % d] * z).collect::<Vec<f32>>();
        Ok(DbnSamples { visible, visible_probs: means })
    }

    fn rows(&self, x: &[f32]) -> Result<usize> {
        let d = self.n_visible();
        let n = x.len() / d;
        crate::kernels::check_len("input (rows × n_visible)", mul_dims("input", n, d)?, x.len())?;
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "input", index: i });
        }
        Ok(n)
    }
}
