//! The variational lower bound on the log-density `log p(v)` of a DBN with
//! a Gaussian bottom layer ([`GaussianDbn`]), and its exact value and exact
//! `log p(v)` on tiny networks.
//!
//! With `Q(h¹ | v)` the bottom layer's recognition distribution,
//! `log p(v) ≥ E_Q[log p(v | h¹) + log p_upper(h¹)] + H(Q(h¹ | v))`, where
//! `p(v | h¹) = N(v; b + σ ⊙ Wh¹, σ²)` and `log p_upper(h¹)` is itself
//! bounded by the upper network's bound ([`super::dbn::lower_bound`], one
//! recognition sample per `h¹`; exact `−F(h¹) − log Z` when the upper
//! network is a single RBM). Densities are in nats per example for the
//! data's own units (a change of scale of the data shifts them by
//! `D·log scale`).

use super::dbn::{BoundEstimate, log_prob_exact, lower_bound};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::mul_dims;
use crate::model::{Dbn, GaussianDbn};
use crate::rng;

fn check<'a>(net: &'a GaussianDbn, data: &Dataset, log_z_top: f64) -> Result<&'a Dbn> {
    let upper = net.upper().ok_or_else(|| Error::InvalidParam {
        name: "DBN depth",
        reason: "a one-layer Gaussian DBN is a GB-RBM, whose log Z is not implemented; bound a network of ≥ 2 layers".into(),
    })?;
    if !log_z_top.is_finite() {
        return Err(Error::InvalidParam { name: "log_z_top", reason: format!("{log_z_top} is not finite") });
    }
    if data.dim() != net.n_visible() {
        return Err(Error::ShapeMismatch {
            what: "data features (DBN n_visible)",
            expected: net.n_visible(),
            got: data.dim(),
        });
    }
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    if let Some(i) = data.features().iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "data", index: i });
    }
    Ok(upper)
}

/// `log N(v; means, σ²)` of one row, in f64.
fn log_gauss(v: &[f32], means: &[f32], sigma: &[f32]) -> f64 {
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    v.iter()
        .zip(means)
        .zip(sigma)
        .map(|((&x, &m), &s)| {
            let t = (x as f64 - m as f64) / s as f64;
            -0.5 * t * t - (s as f64).ln() - half_log_2pi
        })
        .sum()
}

/// Entropy of a factorial Bernoulli with these probabilities.
fn entropy(p: &[f32]) -> f64 {
    let xlogx = |x: f64| if x > 0.0 { x * x.ln() } else { 0.0 };
    p.iter().map(|&p| -(xlogx(p as f64) + xlogx(1.0 - p as f64))).sum()
}

/// Estimates the bound on every row of `data` with `samples` samples of
/// `h¹ ~ Q(h¹ | v)` per example (streams from `seed`; the same for any
/// thread count), the upper network's top `log Z` given.
///
/// # Errors
/// [`Error::InvalidParam`] for a one-layer network, `samples = 0`, no data
/// or a non-finite `log_z_top`; [`Error::ShapeMismatch`];
/// [`Error::NonFinite`] data.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, data::Dataset, model::{Dbn, GaussianDbn, GaussianRbm}};
/// use boltzmann::eval::{gaussian_dbn::gaussian_lower_bound, log_partition_exact};
/// let upper = Dbn::new(vec![Rbm::random(4, 3, 0.5, 0.0, 2)?])?;
/// let net = GaussianDbn::new(GaussianRbm::random(2, 4, 0.5, 1.0, 1)?, Some(upper))?;
/// let log_z = log_partition_exact(net.upper().unwrap().top())?;
/// let data = Dataset::new(vec![0.3, -0.2, 1.0, 0.5], 2)?;
/// let b = gaussian_lower_bound(&net, &data, log_z, 50, 7)?;
/// assert!(b.mean.is_finite() && b.per_example.len() == 2);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn gaussian_lower_bound(
    net: &GaussianDbn,
    data: &Dataset,
    log_z_top: f64,
    samples: usize,
    seed: u64,
) -> Result<BoundEstimate> {
    let upper = check(net, data, log_z_top)?;
    if samples == 0 {
        return Err(Error::InvalidParam { name: "samples", reason: "need at least one".into() });
    }
    let (n, d, h) = (data.len(), net.n_visible(), net.bottom().n_hidden());
    let x = data.features();
    let mut p = crate::alloc::try_vec(mul_dims("posteriors", n, h)?, 0.0f32, "posteriors")?;
    net.bottom().hidden_probs(x, &mut p)?;
    let mut per: Vec<f64> = p.chunks_exact(h).map(entropy).collect();
    let mut streams = rng::chain_streams(seed, n)?;
    let mut u = crate::alloc::try_vec(n * h, 0.0f32, "uniforms")?;
    let mut means = crate::alloc::try_vec(mul_dims("means", n, d)?, 0.0f32, "means")?;
    for s in 0..samples {
        rng::fill_uniform(&mut streams, h, &mut u)?;
        let hs: Vec<f32> = p.iter().zip(&u).map(|(&p, &u)| (u < p) as u8 as f32).collect();
        net.bottom().visible_means(&hs, &mut means)?;
        let up = lower_bound(upper, &Dataset::new(hs, h)?, log_z_top, 1, seed ^ (0xB0B0 + s as u64))?;
        for (r, acc) in per.iter_mut().enumerate() {
            let lg = log_gauss(&x[r * d..(r + 1) * d], &means[r * d..(r + 1) * d], net.bottom().sigma());
            *acc += (lg + up.per_example[r]) / samples as f64;
        }
    }
    let mean = per.iter().sum::<f64>() / n as f64;
    let var = if n > 1 { per.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
    Ok(BoundEstimate { mean, std_err: (var / n as f64).sqrt(), per_example: per, log_z_top })
}

/// Exact log-density `log p(v)` of each example (a sum over every `h¹`
/// with the upper network's exact `log p_upper(h¹)`); for tiny networks.
///
/// # Errors
/// As [`gaussian_lower_bound`], and [`Error::InvalidParam`] when the
/// hidden units to enumerate exceed
/// [`super::dbn::EXACT_MAX_HIDDEN_BITS`].
pub fn gaussian_log_density_exact(net: &GaussianDbn, data: &Dataset, log_z_top: f64) -> Result<Vec<f64>> {
    exact(net, data, log_z_top, true)
}

/// The bound computed exactly (every `h¹` weighted by `Q`, the upper
/// network's exact `log p_upper(h¹)`); for tiny networks and tests.
///
/// # Errors
/// As [`gaussian_log_density_exact`].
pub fn gaussian_lower_bound_exact(net: &GaussianDbn, data: &Dataset, log_z_top: f64) -> Result<Vec<f64>> {
    exact(net, data, log_z_top, false)
}

fn exact(net: &GaussianDbn, data: &Dataset, log_z_top: f64, marginal: bool) -> Result<Vec<f64>> {
    let upper = check(net, data, log_z_top)?;
    let (d, h) = (net.n_visible(), net.bottom().n_hidden());
    let below: usize = upper.layers()[..upper.depth() - 1].iter().map(|r| r.n_hidden()).sum();
    if h + below > super::dbn::EXACT_MAX_HIDDEN_BITS {
        return Err(Error::InvalidParam {
            name: "DBN size",
            reason: format!(
                "{} hidden units to enumerate; exact sums allow {}",
                h + below,
                super::dbn::EXACT_MAX_HIDDEN_BITS
            ),
        });
    }
    let states: Vec<f32> =
        (0..1usize << h).flat_map(|s| (0..h).map(move |j| ((s >> j) & 1) as f32)).collect();
    let log_up = log_prob_exact(upper, &Dataset::new(states.clone(), h)?, log_z_top)?;
    let mut means = vec![0.0f32; (1 << h) * d];
    net.bottom().visible_means(&states, &mut means)?;
    let x = data.features();
    let mut p = vec![0.0f32; data.len() * h];
    net.bottom().hidden_probs(x, &mut p)?;
    let mut out = Vec::with_capacity(data.len());
    for (r, v) in x.chunks_exact(d).enumerate() {
        let terms: Vec<f64> = (0..1usize << h)
            .map(|s| log_up[s] + log_gauss(v, &means[s * d..(s + 1) * d], net.bottom().sigma()))
            .collect();
        if marginal {
            let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            out.push(m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln());
        } else {
            let pr = &p[r * h..(r + 1) * h];
            let mut b = entropy(pr);
            for (s, t) in terms.iter().enumerate() {
                let q: f64 = (0..h)
                    .map(|j| if (s >> j) & 1 == 1 { pr[j] as f64 } else { 1.0 - pr[j] as f64 })
                    .product();
                if q > 0.0 {
                    b += q * t;
                }
            }
            out.push(b);
        }
    }
    Ok(out)
}
