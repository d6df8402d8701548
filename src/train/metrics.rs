//! Monitors for training (Hinton's guide §5–6): reconstruction error, the
//! free-energy gap between training and validation data, and
//! pseudo-likelihood in two forms.
//!
//! All sums run in a fixed order (parallel over examples, then summed
//! sequentially), so values are reproducible for any thread count.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::{activation, gemm};
use crate::model::Rbm;
use crate::simd;
use rand_core::SeedableRng;
use rayon::prelude::*;

/// Monitoring values for one model and data subset(s).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Mean over examples of `Σᵢ (vᵢ − p(vᵢ | p(h|v)))²` (mean-field
    /// reconstruction).
    pub recon_error: f64,
    /// Mean free energy of the training subset.
    pub free_energy_train: f64,
    /// Mean free energy of the validation subset.
    pub free_energy_valid: Option<f64>,
    /// Mean exact pseudo-log-likelihood per example (sum over all `D`
    /// one-bit flips) on the training subset.
    pub pseudo_ll: f64,
    /// The same on the validation subset.
    pub pseudo_ll_valid: Option<f64>,
}

impl Metrics {
    /// `F̄(valid) − F̄(train)`: grows when the model overfits (the
    /// training data get lower free energy than held-out data).
    pub fn free_energy_gap(&self) -> Option<f64> {
        self.free_energy_valid.map(|v| v - self.free_energy_train)
    }
}

fn check(rbm: &Rbm, data: &Dataset) -> Result<()> {
    if data.dim() != rbm.n_visible() {
        return Err(Error::ShapeMismatch {
            what: "data features (model n_visible)",
            expected: rbm.n_visible(),
            got: data.dim(),
        });
    }
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    Ok(())
}

/// Mean-field reconstruction error, mean per example.
///
/// # Errors
/// Mismatched sizes, an empty data set.
pub fn reconstruction_error(rbm: &Rbm, data: &Dataset) -> Result<f64> {
    check(rbm, data)?;
    let (n, d, h) = (data.len(), rbm.n_visible(), rbm.n_hidden());
    let mut ph = vec![0.0f32; n * h];
    rbm.hidden_probs(data.features(), &mut ph)?;
    let mut pv = vec![0.0f32; n * d];
    rbm.visible_probs(&ph, &mut pv)?;
    let per: Vec<f64> = pv
        .par_chunks(d)
        .zip(data.features().par_chunks(d))
        .map(|(p, v)| p.iter().zip(v).map(|(&a, &b)| ((a - b) as f64).powi(2)).sum())
        .collect();
    Ok(per.iter().sum::<f64>() / n as f64)
}

/// Mean free energy `F̄ = (1/n) Σ F(v)`.
///
/// # Errors
/// Mismatched sizes, an empty data set.
pub fn mean_free_energy(rbm: &Rbm, data: &Dataset) -> Result<f64> {
    check(rbm, data)?;
    let mut f = vec![0.0f64; data.len()];
    rbm.free_energy_batch(data.features(), &mut f)?;
    Ok(f.iter().sum::<f64>() / data.len() as f64)
}

/// Exact pseudo-log-likelihood, mean per example:
/// `(1/n) Σ_v Σᵢ log p(vᵢ | v₋ᵢ)`, with `log p(vᵢ|v₋ᵢ) = log σ(F(v⁽ⁱ⁾) − F(v))`
/// and `v⁽ⁱ⁾` the example with bit `i` flipped (Besag 1975). Costs `D·H`
/// per example.
///
/// # Errors
/// Mismatched sizes, an empty data set.
pub fn pseudo_log_likelihood(rbm: &Rbm, data: &Dataset) -> Result<f64> {
    check(rbm, data)?;
    let (n, d, h) = (data.len(), rbm.n_visible(), rbm.n_hidden());
    let mut pre = vec![0.0f32; n * h];
    gemm::par_gemm_nn(n, d, h, data.features(), rbm.weights(), &mut pre, 64)?;
    let isa = simd::active_isa();
    let per: Vec<f64> = pre
        .par_chunks(h)
        .zip(data.features().par_chunks(d))
        .map_init(
            || (vec![0.0f32; h], vec![0.0f32; h]),
            |(flip, sp), (pre_v, v)| {
                let x: Vec<f32> = pre_v.iter().zip(rbm.hidden_bias()).map(|(a, c)| a + c).collect();
                activation::softplus_flush(isa, &x, sp);
                let bv: f64 = v.iter().zip(rbm.visible_bias()).map(|(&a, &b)| a as f64 * b as f64).sum();
                let f_v = -bv - sp.iter().map(|&s| s as f64).sum::<f64>();
                let mut total = 0.0f64;
                for (i, &vi) in v.iter().enumerate() {
                    let s = 1.0 - 2.0 * vi;
                    let wrow = &rbm.weights()[i * h..(i + 1) * h];
                    for ((f, &xx), &w) in flip.iter_mut().zip(&x).zip(wrow) {
                        *f = xx + s * w;
                    }
                    activation::softplus_flush(isa, flip, sp);
                    let f_flip = -(bv + (s * rbm.visible_bias()[i]) as f64)
                        - sp.iter().map(|&q| q as f64).sum::<f64>();
                    total += log_sigmoid(f_flip - f_v);
                }
                total
            },
        )
        .collect();
    Ok(per.iter().sum::<f64>() / n as f64)
}

/// scikit-learn's stochastic pseudo-likelihood (`BernoulliRBM.score_samples`):
/// for each example one bit `i` chosen at random (seeded), `D · log σ(F(v⁽ⁱ⁾) − F(v))`;
/// returns the mean over examples. An unbiased but noisy estimate of
/// [`pseudo_log_likelihood`], given for comparison with scikit-learn.
///
/// # Errors
/// Mismatched sizes, an empty data set.
pub fn pseudo_log_likelihood_stochastic(rbm: &Rbm, data: &Dataset, seed: u64) -> Result<f64> {
    check(rbm, data)?;
    let (n, d) = (data.len(), rbm.n_visible());
    let mut g = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flipped = data.features().to_vec();
    for r in flipped.chunks_exact_mut(d) {
        let i = crate::data::bounded(&mut g, d as u64) as usize;
        r[i] = 1.0 - r[i];
    }
    let (mut f, mut ff) = (vec![0.0f64; n], vec![0.0f64; n]);
    rbm.free_energy_batch(data.features(), &mut f)?;
    rbm.free_energy_batch(&flipped, &mut ff)?;
    Ok(f.iter().zip(&ff).map(|(&a, &b)| d as f64 * log_sigmoid(b - a)).sum::<f64>() / n as f64)
}

/// All monitors on a training subset and an optional validation subset.
///
/// # Errors
/// As the individual functions.
pub fn evaluate(rbm: &Rbm, train: &Dataset, valid: Option<&Dataset>) -> Result<Metrics> {
    Ok(Metrics {
        recon_error: reconstruction_error(rbm, train)?,
        free_energy_train: mean_free_energy(rbm, train)?,
        free_energy_valid: valid.map(|v| mean_free_energy(rbm, v)).transpose()?,
        pseudo_ll: pseudo_log_likelihood(rbm, train)?,
        pseudo_ll_valid: valid.map(|v| pseudo_log_likelihood(rbm, v)).transpose()?,
    })
}

/// `log σ(x) = −softplus(−x)` in f64.
fn log_sigmoid(x: f64) -> f64 {
    -crate::model::rbm::softplus_f64(-x)
}
