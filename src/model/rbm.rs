//! The Bernoulli–Bernoulli Restricted Boltzmann Machine.
//!
//! Binary visible units `v ∈ {0,1}^D`, binary hidden units `h ∈ {0,1}^H`,
//! weights `W` (`D × H`, row-major: `w[i·H + j]` couples visible `i` and
//! hidden `j`), visible biases `b` and hidden biases `c`:
//!
//! * energy `E(v, h) = −vᵀWh − bᵀv − cᵀh`, `p(v, h) = exp(−E(v, h)) / Z`;
//! * free energy `F(v) = −bᵀv − Σⱼ softplus(cⱼ + (vᵀW)ⱼ)`, `p(v) = exp(−F(v)) / Z`;
//! * conditionals `p(hⱼ = 1 | v) = σ(cⱼ + (vᵀW)ⱼ)` and
//!   `p(vᵢ = 1 | h) = σ(bᵢ + (Wh)ᵢ)`.
//!
//! See Hinton, "A Practical Guide to Training Restricted Boltzmann Machines"
//! (UTML TR 2010-003), §2.

use crate::alloc::try_vec;
use crate::error::{Error, Result};
use crate::kernels::{activation, check_len, gemm, mul_dims};
use crate::simd;
use rand_core::{Rng, SeedableRng};

/// A Bernoulli–Bernoulli RBM. Parameters are validated at construction
/// (sizes, finiteness, and that no pre-activation can overflow f32), so the
/// samplers built on it never produce NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Rbm {
    n_visible: usize,
    n_hidden: usize,
    weights: Vec<f32>,
    visible_bias: Vec<f32>,
    hidden_bias: Vec<f32>,
}

fn check_finite(what: &'static str, x: &[f32]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { what, index }),
        None => Ok(()),
    }
}

impl Rbm {
    /// Builds an RBM from its parameters.
    ///
    /// # Errors
    /// * [`Error::InvalidParam`] if a size is zero;
    /// * [`Error::ShapeMismatch`] if `weights.len() != n_visible·n_hidden` or
    ///   a bias has the wrong length;
    /// * [`Error::NonFinite`] for NaN/inf parameters, or when the largest
    ///   possible pre-activation `|c_j| + Σᵢ |w_ij|` (or `|b_i| + Σⱼ |w_ij|`)
    ///   is not finite in f32 (a sum that could overflow during sampling).
    ///
    /// # Examples
    /// ```
    /// use boltzmann::Rbm;
    /// let rbm = Rbm::new(2, 1, vec![0.5, -0.5], vec![0.0, 0.1], vec![0.2]).unwrap();
    /// assert_eq!(rbm.n_visible(), 2);
    /// assert!(Rbm::new(2, 1, vec![f32::NAN, 0.0], vec![0.0; 2], vec![0.0]).is_err());
    /// ```
    pub fn new(
        n_visible: usize,
        n_hidden: usize,
        weights: Vec<f32>,
        visible_bias: Vec<f32>,
        hidden_bias: Vec<f32>,
    ) -> Result<Rbm> {
        check_sizes(n_visible, n_hidden)?;
        check_len("weights (n_visible × n_hidden)", n_visible * n_hidden, weights.len())?;
        check_len("visible bias", n_visible, visible_bias.len())?;
        check_len("hidden bias", n_hidden, hidden_bias.len())?;
        check_finite("weights", &weights)?;
        check_finite("visible bias", &visible_bias)?;
        check_finite("hidden bias", &hidden_bias)?;
        // Worst-case pre-activations must stay finite.
        let mut col = hidden_bias.iter().map(|c| c.abs()).collect::<Vec<f32>>();
        for (i, row) in weights.chunks_exact(n_hidden).enumerate() {
            let mut r = visible_bias[i].abs();
            for (acc, w) in col.iter_mut().zip(row) {
                *acc += w.abs();
                r += w.abs();
            }
            if !r.is_finite() {
                return Err(Error::NonFinite {
                    what: "row sum of |weights| (pre-activation bound)",
                    index: i,
                });
            }
        }
        if let Some(j) = col.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "column sum of |weights| (pre-activation bound)",
                index: j,
            });
        }
        Ok(Rbm { n_visible, n_hidden, weights, visible_bias, hidden_bias })
    }

    /// An RBM with all parameters zero (the uniform distribution).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for zero sizes, [`Error::TooLarge`] if the
    /// weights do not fit in memory.
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Result<Rbm> {
        check_sizes(n_visible, n_hidden)?;
        let w = try_vec(mul_dims("weights", n_visible, n_hidden)?, 0.0, "weights")?;
        Ok(Rbm {
            n_visible,
            n_hidden,
            weights: w,
            visible_bias: try_vec(n_visible, 0.0, "visible bias")?,
            hidden_bias: try_vec(n_hidden, 0.0, "hidden bias")?,
        })
    }

    /// An RBM with weights drawn i.i.d. from `N(0, std²)` and biases
    /// `N(0, bias_std²)` (zero when `bias_std == 0`), from a seeded
    /// xoshiro256++ stream (Box–Muller). `std = 0.01`, `bias_std = 0` is
    /// the initialisation of Hinton's guide.
    ///
    /// # Errors
    /// As [`Rbm::zeros`], plus [`Error::InvalidParam`] for a negative or
    /// non-finite `std`/`bias_std`.
    pub fn random(n_visible: usize, n_hidden: usize, std: f32, bias_std: f32, seed: u64) -> Result<Rbm> {
        for (name, s) in [("std", std), ("bias_std", bias_std)] {
            if !(s.is_finite() && s >= 0.0) {
                return Err(Error::InvalidParam {
                    name, reason: format!("must be finite and ≥ 0, got {s}")
                });
            }
        }
        let mut rbm = Rbm::zeros(n_visible, n_hidden)?;
        let mut g = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut normal = move || {
            // Box–Muller on two 53-bit uniforms in (0, 1].
            let u1 = ((g.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
            let u2 = (g.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        for w in rbm.weights.iter_mut() {
            *w = (normal() * std as f64) as f32;
        }
        if bias_std > 0.0 {
            for b in rbm.visible_bias.iter_mut().chain(rbm.hidden_bias.iter_mut()) {
                *b = (normal() * bias_std as f64) as f32;
            }
        }
        // Re-validate: huge `std` can make the pre-activation bound overflow.
        Rbm::new(n_visible, n_hidden, rbm.weights, rbm.visible_bias, rbm.hidden_bias)
    }

    /// Number of visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.n_visible
    }
    /// Number of hidden units `H`.
    pub fn n_hidden(&self) -> usize {
        self.n_hidden
    }
    /// Weights, `D × H` row-major.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
    /// Visible biases `b` (length `D`).
    pub fn visible_bias(&self) -> &[f32] {
        &self.visible_bias
    }
    /// Hidden biases `c` (length `H`).
    pub fn hidden_bias(&self) -> &[f32] {
        &self.hidden_bias
    }
    /// Mutable parameters for the trainer, which re-checks them (finite,
    /// bounded) after every update.
    pub(crate) fn params_mut(&mut self) -> (&mut [f32], &mut [f32], &mut [f32]) {
        (&mut self.weights, &mut self.visible_bias, &mut self.hidden_bias)
    }

    /// Consumes the model and returns `(weights, visible_bias, hidden_bias)`.
    pub fn into_parts(self) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        (self.weights, self.visible_bias, self.hidden_bias)
    }

    /// Energy `E(v, h) = −vᵀWh − bᵀv − cᵀh` of one configuration, in f64.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths, [`Error::NonFinite`] for
    /// NaN/inf entries.
    pub fn energy(&self, v: &[f32], h: &[f32]) -> Result<f64> {
        check_len("v", self.n_visible, v.len())?;
        check_len("h", self.n_hidden, h.len())?;
        check_finite("v", v)?;
        check_finite("h", h)?;
        let mut e = 0.0f64;
        for (i, &vi) in v.iter().enumerate() {
            if vi != 0.0 {
                let row = &self.weights[i * self.n_hidden..(i + 1) * self.n_hidden];
                let s: f64 = row.iter().zip(h).map(|(&w, &hj)| w as f64 * hj as f64).sum();
                e -= vi as f64 * s;
            }
            e -= self.visible_bias[i] as f64 * vi as f64;
        }
        e -= self.hidden_bias.iter().zip(h).map(|(&c, &hj)| c as f64 * hj as f64).sum::<f64>();
        Ok(e)
    }

    /// Free energy `F(v) = −bᵀv − Σⱼ softplus(cⱼ + (vᵀW)ⱼ)` of one visible
    /// vector, accumulated in f64 with a stable softplus. Values of `v` need
    /// not be binary (mean-field vectors are allowed) but must be finite.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NonFinite`].
    pub fn free_energy(&self, v: &[f32]) -> Result<f64> {
        check_len("v", self.n_visible, v.len())?;
        check_finite("v", v)?;
        let mut pre: Vec<f64> = self.hidden_bias.iter().map(|&c| c as f64).collect();
        let mut f = 0.0;
        for (i, &vi) in v.iter().enumerate() {
            if vi != 0.0 {
                let row = &self.weights[i * self.n_hidden..(i + 1) * self.n_hidden];
                for (p, &w) in pre.iter_mut().zip(row) {
                    *p += vi as f64 * w as f64;
                }
            }
            f -= self.visible_bias[i] as f64 * vi as f64;
        }
        Ok(f - pre.iter().map(|&x| softplus_f64(x)).sum::<f64>())
    }

    /// Free energies of a batch (`v` is `batch × D`, row-major) into `out`
    /// (length `batch`), using the dense product and the SIMD softplus
    /// (f32 terms, summed in f64). Rows run in parallel.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NonFinite`], [`Error::TooLarge`].
    pub fn free_energy_batch(&self, v: &[f32], out: &mut [f64]) -> Result<()> {
        let batch = out.len();
        check_len("v (batch × n_visible)", mul_dims("v", batch, self.n_visible)?, v.len())?;
        check_finite("v", v)?;
        let mut pre = try_vec(mul_dims("pre-activations", batch, self.n_hidden)?, 0.0f32, "pre-activations")?;
        gemm::par_gemm_nn(batch, self.n_visible, self.n_hidden, v, &self.weights, &mut pre, 256)?;
        let isa = simd::active_isa();
        use rayon::prelude::*;
        out.par_iter_mut().zip(pre.par_chunks_mut(self.n_hidden)).zip(v.par_chunks(self.n_visible)).for_each(
            |((o, p), vr)| {
                activation::softplus_rows_bias_in_place(isa, p, &self.hidden_bias);
                let vb: f64 = vr.iter().zip(&self.visible_bias).map(|(&x, &b)| x as f64 * b as f64).sum();
                *o = -vb - p.iter().map(|&x| x as f64).sum::<f64>();
            },
        );
        Ok(())
    }

    /// `p(h = 1 | v)` for a batch: `out[r][j] = σ(cⱼ + (v_rᵀW)ⱼ)`; `v` is
    /// `batch × D`, `out` is `batch × H`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (including a `v` length that is not a
    /// multiple of `D`), [`Error::NonFinite`].
    pub fn hidden_probs(&self, v: &[f32], out: &mut [f32]) -> Result<()> {
        let batch = v.len() / self.n_visible;
        check_len("v (a multiple of n_visible)", batch * self.n_visible, v.len())?;
        check_len("output (batch × n_hidden)", mul_dims("output", batch, self.n_hidden)?, out.len())?;
        check_finite("v", v)?;
        gemm::par_gemm_nn(batch, self.n_visible, self.n_hidden, v, &self.weights, out, 256)?;
        activation::sigmoid_rows_bias_in_place(simd::active_isa(), out, &self.hidden_bias);
        Ok(())
    }

    /// `p(v = 1 | h)` for a batch: `out[r][i] = σ(bᵢ + (W h_r)ᵢ)`; `h` is
    /// `batch × H`, `out` is `batch × D`.
    ///
    /// # Errors
    /// As [`Rbm::hidden_probs`].
    pub fn visible_probs(&self, h: &[f32], out: &mut [f32]) -> Result<()> {
        let batch = h.len() / self.n_hidden;
        check_len("h (a multiple of n_hidden)", batch * self.n_hidden, h.len())?;
        check_len("output (batch × n_visible)", mul_dims("output", batch, self.n_visible)?, out.len())?;
        check_finite("h", h)?;
        gemm::par_gemm_nt(batch, self.n_hidden, self.n_visible, h, &self.weights, out, 256)?;
        activation::sigmoid_rows_bias_in_place(simd::active_isa(), out, &self.visible_bias);
        Ok(())
    }
}

fn check_sizes(n_visible: usize, n_hidden: usize) -> Result<()> {
    if n_visible == 0 || n_hidden == 0 {
        return Err(Error::InvalidParam {
            name: "model size",
            reason: format!("n_visible and n_hidden must be ≥ 1, got {n_visible} × {n_hidden}"),
        });
    }
    mul_dims("n_visible × n_hidden", n_visible, n_hidden)?;
    crate::alloc::check_bytes("weights", (n_visible as u128) * (n_hidden as u128), 4)
}

/// `log(1 + exp(x))` in f64, stable for all x.
pub(crate) fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `1 / (1 + exp(−x))` in f64, without overflow for any x.
pub(crate) fn sigmoid_f64(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    if x >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) }
}
