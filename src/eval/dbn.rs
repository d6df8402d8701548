//! The variational lower bound on `log p(v)` of a Deep Belief Network, and
//! its exact value and exact `log p(v)` on tiny networks.
//!
//! For a DBN with `L` layers and recognition distribution
//! `Q(h¹…hᴸ⁻¹ | v) = Πₗ Q(hˡ | hˡ⁻¹)` (see [`crate::model::dbn`]), Jensen's
//! inequality gives (Hinton, Osindero & Teh 2006; Salakhutdinov & Murray 2008
//! for `L = 2`):
//!
//! `log p(v) ≥ E_Q[ Σₗ₌₁ᴸ⁻¹ log p(hˡ⁻¹ | hˡ) + log p*_L(hᴸ⁻¹) − log Q(h¹…hᴸ⁻¹ | v) ] − log Z_L`,
//!
//! where `p*_L(x) = exp(−F_L(x))` is the top RBM's unnormalized marginal of
//! its visible units and `Z_L` its partition function (exact or AIS, from
//! [`crate::eval`]). [`lower_bound`] estimates the expectation with `S`
//! samples of the recognition chain per example, with the entropy of each
//! `Q(hˡ | hˡ⁻¹)` given its sampled parent taken analytically (`Σⱼ
//! softplus(yⱼ) − yⱼσ(yⱼ)`), which keeps the estimate unbiased and lowers
//! its variance. For `L = 1` the bound is `log p(v) = −F(v) − log Z` itself.
//! The bound is tight when `Q` is the true posterior, e.g. for a layer tied
//! to the one below ([`crate::model::dbn::tied_layer`]).

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::gemm;
use crate::model::rbm::{sigmoid_f64, softplus_f64};
use crate::model::{Dbn, LayerStack, Rbm, UntiedDbn};
use crate::rng;
use rayon::prelude::*;

/// A Monte-Carlo estimate of the average bound over a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundEstimate {
    /// Average bound (nats per example), with `log_z_top` subtracted.
    pub mean: f64,
    /// Standard error of `mean` from the spread of the per-example
    /// estimates (data and sampling noise together; add the uncertainty of
    /// `log_z_top` if it came from AIS).
    pub std_err: f64,
    /// The per-example estimates.
    pub per_example: Vec<f64>,
    /// The top RBM's `log Z` used (NaN for [`lower_bound_with`]).
    pub log_z_top: f64,
}

/// Estimates the bound on every row of `data` with `samples` recognition
/// samples per example (streams from `seed`; the same result for any thread
/// count).
///
/// # Errors
/// [`Error::ShapeMismatch`] if the data width is not the DBN's,
/// [`Error::InvalidParam`] for `samples = 0`, an empty data set or a
/// non-finite `log_z_top`, [`Error::NotBinary`] for non-binary data.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, data::Dataset, model::Dbn, eval::{dbn::lower_bound, log_partition_exact}};
/// let dbn = Dbn::new(vec![Rbm::random(8, 5, 0.5, 0.0, 1)?, Rbm::random(5, 4, 0.5, 0.0, 2)?])?;
/// let data = Dataset::new(vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], 8)?;
/// let log_z = log_partition_exact(dbn.top())?;
/// let b = lower_bound(&dbn, &data, log_z, 100, 3)?;
/// assert!(b.mean < 0.0 && b.per_example.len() == 1);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn lower_bound(
    net: &impl LayerStack,
    data: &Dataset,
    log_z_top: f64,
    samples: usize,
    seed: u64,
) -> Result<BoundEstimate> {
    forward_bound(net.generative(), net.recognition(), data, log_z_top, samples, seed)
}

/// The bound with the top term `−F(h) − log Z_top`.
fn forward_bound(
    dbn: &Dbn,
    recognition: &[Rbm],
    data: &Dataset,
    log_z_top: f64,
    samples: usize,
    seed: u64,
) -> Result<BoundEstimate> {
    check(dbn, data, log_z_top)?;
    let top = dbn.top();
    let mut b = bound(dbn, recognition, data, samples, seed, |h: &[f32]| {
        let mut f = vec![0.0f64; h.len() / top.n_visible()];
        top.free_energy_batch(h, &mut f)?;
        Ok(f.iter().map(|f| -f - log_z_top).collect())
    })?;
    b.log_z_top = log_z_top;
    Ok(b)
}

/// [`lower_bound`] with the top term `log p_L(hᴸ⁻¹)` of every recognition
/// sample supplied by `top_log_prob` (called with chunks of samples, rows
/// of the top RBM's visible width, in order; it returns one value per
/// row). With `−F(h) − log Ẑ` this is [`lower_bound`]; with a stochastic
/// lower bound on `log p_L(h)` such as RAISE ([`crate::eval::raise`], one
/// reverse chain per sample) the result is a **conservative** estimate of
/// the bound that does not depend on a forward estimate of `Z_L` (forward
/// AIS tends to underestimate `log Z`, which inflates the bound). The
/// returned `log_z_top` is NaN.
///
/// # Errors
/// As [`lower_bound`], and those of `top_log_prob`;
/// [`Error::ShapeMismatch`] if it returns the wrong number of values.
pub fn lower_bound_with(
    net: &impl LayerStack,
    data: &Dataset,
    samples: usize,
    seed: u64,
    top_log_prob: impl FnMut(&[f32]) -> Result<Vec<f64>>,
) -> Result<BoundEstimate> {
    bound(net.generative(), net.recognition(), data, samples, seed, top_log_prob)
}

/// [`lower_bound`] for a DBN with separate recognition weights (after
/// up-down fine-tuning): `Q` from `net.recognition()`, `p` from
/// `net.generative()`.
///
/// # Errors
/// As [`lower_bound`].
#[deprecated(note = "lower_bound takes any LayerStack, an UntiedDbn included")]
pub fn lower_bound_untied(
    net: &UntiedDbn,
    data: &Dataset,
    log_z_top: f64,
    samples: usize,
    seed: u64,
) -> Result<BoundEstimate> {
    forward_bound(net.generative(), net.recognition(), data, log_z_top, samples, seed)
}

/// [`lower_bound_with`] for a DBN with separate recognition weights.
///
/// # Errors
/// As [`lower_bound_with`].
#[deprecated(note = "lower_bound_with takes any LayerStack, an UntiedDbn included")]
pub fn lower_bound_untied_with(
    net: &UntiedDbn,
    data: &Dataset,
    samples: usize,
    seed: u64,
    top_log_prob: impl FnMut(&[f32]) -> Result<Vec<f64>>,
) -> Result<BoundEstimate> {
    bound(net.generative(), net.recognition(), data, samples, seed, top_log_prob)
}

fn bound(
    dbn: &Dbn,
    recognition: &[Rbm],
    data: &Dataset,
    samples: usize,
    seed: u64,
    mut top_log_prob: impl FnMut(&[f32]) -> Result<Vec<f64>>,
) -> Result<BoundEstimate> {
    check(dbn, data, 0.0)?;
    if samples == 0 {
        return Err(Error::InvalidParam {
            name: "samples",
            reason: "need at least one sample per example".into(),
        });
    }
    let n = data.len();
    let d = dbn.n_visible();
    // Examples in chunks (bounded memory: chunk × samples rows at a time),
    // each example's samples on their own streams.
    const CHUNK: usize = 256;
    let mut per_example = Vec::with_capacity(n);
    for c0 in (0..n).step_by(CHUNK) {
        let c1 = (c0 + CHUNK).min(n);
        let rows = (c1 - c0) * samples;
        let mut x = crate::alloc::try_vec(rows * d, 0.0f32, "bound scratch")?;
        for (r, dst) in x.chunks_exact_mut(d).enumerate() {
            dst.copy_from_slice(data.row(c0 + r / samples));
        }
        let mut streams = rng::chain_streams(seed ^ (c0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), rows)?;
        let mut acc = vec![0.0f64; rows];
        for (rec, generative) in recognition.iter().zip(dbn.layers()) {
            x = recognition_step(rec, generative, &x, &mut streams, &mut acc)?;
        }
        let top = top_log_prob(&x)?;
        if top.len() != rows {
            return Err(Error::ShapeMismatch {
                what: "top log-probabilities (one per sample)",
                expected: rows,
                got: top.len(),
            });
        }
        for (a, t) in acc.iter_mut().zip(&top) {
            *a += t;
        }
        per_example.extend(acc.chunks_exact(samples).map(|s| s.iter().sum::<f64>() / samples as f64));
    }
    let mean = per_example.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        per_example.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Ok(BoundEstimate { mean, std_err: (var / n as f64).sqrt(), per_example, log_z_top: f64::NAN })
}

/// One recognition step for rows `x` of layer `l − 1`: samples
/// `hˡ ~ Q(hˡ | x)` (weights and hidden biases of `rec`) and adds
/// `log p(x | hˡ) + H(Q(·| x))` to `acc` (`p` from `generative`'s weights and
/// visible biases; `rec` and `generative` are the same RBM when tied).
fn recognition_step(
    rec: &Rbm,
    generative: &Rbm,
    x: &[f32],
    streams: &mut [rng::StreamState],
    acc: &mut [f64],
) -> Result<Vec<f32>> {
    let (d, h, rows) = (rec.n_visible(), rec.n_hidden(), acc.len());
    let mut y = crate::alloc::try_vec(rows * h, 0.0f32, "bound scratch")?;
    gemm::par_gemm_nn(rows, d, h, x, rec.weights(), &mut y, 256)?;
    let mut u = crate::alloc::try_vec(rows * h, 0.0f32, "bound scratch")?;
    rng::fill_uniform(streams, h, &mut u)?;
    let c = rec.hidden_bias();
    let mut hs = crate::alloc::try_vec(rows * h, 0.0f32, "bound scratch")?;
    // Entropy of Q(·|x) given x, and the sample.
    acc.par_iter_mut().zip(y.par_chunks(h)).zip(u.par_chunks(h)).zip(hs.par_chunks_mut(h)).for_each(
        |(((a, yr), ur), hr)| {
            for (((&y, &u), o), &c) in yr.iter().zip(ur).zip(hr.iter_mut()).zip(c) {
                let y = y as f64 + c as f64;
                let q = sigmoid_f64(y);
                *a += softplus_f64(y) - y * q;
                *o = ((u as f64) < q) as u8 as f32;
            }
        },
    );
    // log p(x | h) = Σᵢ xᵢzᵢ − softplus(zᵢ), z = W h + b.
    let mut z = crate::alloc::try_vec(rows * d, 0.0f32, "bound scratch")?;
    gemm::par_gemm_nt(rows, h, d, &hs, generative.weights(), &mut z, 256)?;
    let b = generative.visible_bias();
    acc.par_iter_mut().zip(z.par_chunks(d)).zip(x.par_chunks(d)).for_each(|((a, zr), xr)| {
        *a += log_bernoulli(xr, zr, b);
    });
    Ok(hs)
}

/// `Σᵢ xᵢzᵢ − softplus(zᵢ)` with `zᵢ = pre[i] + bias[i]`, in f64.
fn log_bernoulli(x: &[f32], pre: &[f32], bias: &[f32]) -> f64 {
    x.iter()
        .zip(pre)
        .zip(bias)
        .map(|((&x, &p), &b)| {
            let z = p as f64 + b as f64;
            x as f64 * z - softplus_f64(z)
        })
        .sum()
}

fn check(dbn: &Dbn, data: &Dataset, log_z_top: f64) -> Result<()> {
    if !log_z_top.is_finite() {
        return Err(Error::InvalidParam { name: "log_z_top", reason: format!("{log_z_top} is not finite") });
    }
    dbn.check_data(data)
}

/// Largest total number of hidden units below the top RBM's visible layer
/// and including it (`H¹ + … + Hᴸ⁻¹`) that [`lower_bound_exact`] and
/// [`log_prob_exact`] enumerate.
pub const EXACT_MAX_HIDDEN_BITS: usize = 20;

/// The bound computed exactly (all configurations of `h¹…hᴸ⁻¹` weighted by
/// `Q`), per example; for tiny networks and tests.
///
/// # Errors
/// As [`lower_bound`], and [`Error::InvalidParam`] when `H¹ + … + Hᴸ⁻¹`
/// exceeds [`EXACT_MAX_HIDDEN_BITS`].
pub fn lower_bound_exact(net: &impl LayerStack, data: &Dataset, log_z_top: f64) -> Result<Vec<f64>> {
    exact(net.generative(), net.recognition(), data, log_z_top, false)
}

/// [`lower_bound_exact`] with separate recognition weights.
///
/// # Errors
/// As [`lower_bound_exact`].
#[deprecated(note = "lower_bound_exact takes any LayerStack, an UntiedDbn included")]
pub fn lower_bound_exact_untied(net: &UntiedDbn, data: &Dataset, log_z_top: f64) -> Result<Vec<f64>> {
    exact(net.generative(), net.recognition(), data, log_z_top, false)
}

/// Exact `log p(v)` of each example under the DBN (a sum over all
/// configurations of `h¹…hᴸ⁻¹`); for tiny networks and tests.
///
/// # Errors
/// As [`lower_bound_exact`].
pub fn log_prob_exact(net: &impl LayerStack, data: &Dataset, log_z_top: f64) -> Result<Vec<f64>> {
    let dbn = net.generative();
    exact(dbn, &dbn.layers()[..dbn.depth() - 1], data, log_z_top, true)
}

fn exact(dbn: &Dbn, recognition: &[Rbm], data: &Dataset, log_z_top: f64, marginal: bool) -> Result<Vec<f64>> {
    check(dbn, data, log_z_top)?;
    let below = &dbn.layers()[..dbn.depth() - 1];
    let bits: usize = below.iter().map(Rbm::n_hidden).sum();
    if bits > EXACT_MAX_HIDDEN_BITS {
        return Err(Error::InvalidParam {
            name: "DBN size",
            reason: format!(
                "{bits} hidden units below the top RBM; exact sums allow {EXACT_MAX_HIDDEN_BITS}"
            ),
        });
    }
    let top = dbn.top();
    Ok((0..data.len())
        .into_par_iter()
        .map(|e| {
            let v: Vec<f64> = data.row(e).iter().map(|&x| x as f64).collect();
            // Terms per configuration: log Q(h|v) and log p(v, h)·Z.
            let mut terms = Vec::with_capacity(1 << bits);
            for cfg in 0u64..(1u64 << bits) {
                let mut parent = v.clone();
                let (mut log_q, mut log_p) = (0.0f64, 0.0f64);
                let mut shift = 0;
                for (rbm, rec) in below.iter().zip(recognition) {
                    let h: Vec<f64> =
                        (0..rbm.n_hidden()).map(|j| ((cfg >> (shift + j)) & 1) as f64).collect();
                    shift += rbm.n_hidden();
                    log_q += log_q_given(rec, &parent, &h);
                    log_p += log_p_visible_given(rbm, &parent, &h);
                    parent = h;
                }
                let top_v: Vec<f32> = parent.iter().map(|&x| x as f32).collect();
                log_p -= top.free_energy(&top_v).expect("sizes checked");
                terms.push((log_q, log_p));
            }
            if marginal {
                let m = terms.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max);
                m + terms.iter().map(|t| (t.1 - m).exp()).sum::<f64>().ln() - log_z_top
            } else {
                terms.iter().map(|&(q, p)| q.exp() * (p - q)).sum::<f64>() - log_z_top
            }
        })
        .collect())
}

/// `log Q(h | x)` for RBM `rbm` (x its visible, h its hidden units).
fn log_q_given(rbm: &Rbm, x: &[f64], h: &[f64]) -> f64 {
    let (d, nh, w) = (rbm.n_visible(), rbm.n_hidden(), rbm.weights());
    (0..nh)
        .map(|j| {
            let y = rbm.hidden_bias()[j] as f64 + (0..d).map(|i| x[i] * w[i * nh + j] as f64).sum::<f64>();
            h[j] * y - softplus_f64(y)
        })
        .sum()
}

/// `log p(x | h)` for RBM `rbm` (x its visible, h its hidden units).
fn log_p_visible_given(rbm: &Rbm, x: &[f64], h: &[f64]) -> f64 {
    let (d, nh, w) = (rbm.n_visible(), rbm.n_hidden(), rbm.weights());
    (0..d)
        .map(|i| {
            let z = rbm.visible_bias()[i] as f64 + (0..nh).map(|j| h[j] * w[i * nh + j] as f64).sum::<f64>();
            x[i] * z - softplus_f64(z)
        })
        .sum()
}
