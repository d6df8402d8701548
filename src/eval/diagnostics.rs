//! Convergence and mixing diagnostics of Markov chains from scalar traces
//! (for example each chain's energy or free energy after every sweep).
//!
//! * [`integrated_autocorr_time`] — `τ = 1 + 2 Σ_{k≥1} ρ_k`, estimated with
//!   Geyer's initial monotone sequence (Geyer, Statistical Science 1992): the
//!   sums of adjacent autocorrelation pairs `Γ_m = ρ_{2m} + ρ_{2m+1}` are
//!   added while positive, each capped at the one before. `τ` is the number
//!   of sweeps that one independent sample is worth.
//! * [`effective_sample_size`] — `T / τ` for one trace; over many chains,
//!   [`diagnose`] sums them.
//! * [`split_rhat`] — the potential scale reduction of Gelman & Rubin with
//!   each chain split in halves (Gelman et al., *Bayesian Data Analysis*,
//!   3rd ed., §11.4): ≈ 1 when the chains agree with each other and with
//!   their own halves, above ≈ 1.01–1.1 when they have not mixed.
//!
//! Autocovariances are computed in f64 directly (O(T·K) for `K` lags, up to
//! where Geyer's sequence stops), so the result does not depend on a thread
//! count.
//!
//! ```
//! use boltzmann::eval::diagnostics::{integrated_autocorr_time, split_rhat};
//! // An AR(1) trace x_t = 0.8 x_{t−1} + ε: τ = (1 + 0.8)/(1 − 0.8) = 9.
//! let mut x = vec![0.0f64; 100_000];
//! let mut s = 12345u64;
//! let mut noise = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//!                      ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5 };
//! for t in 1..x.len() { x[t] = 0.8 * x[t - 1] + noise(); }
//! let tau = integrated_autocorr_time(&x).unwrap();
//! assert!((tau - 9.0).abs() < 1.0, "{tau}");
//! let r = split_rhat(&[&x[..50_000], &x[50_000..]]).unwrap();
//! assert!(r < 1.01);
//! # Ok::<(), boltzmann::Error>(())
//! ```

use crate::error::{Error, Result};

/// The shortest trace the estimators accept.
pub const MIN_TRACE: usize = 4;

fn check_trace(x: &[f64]) -> Result<()> {
    if x.len() < MIN_TRACE {
        return Err(Error::InvalidParam {
            name: "trace",
            reason: format!("needs ≥ {MIN_TRACE} values, got {}", x.len()),
        });
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidParam { name: "trace", reason: format!("value {i} is {}", x[i]) });
    }
    Ok(())
}

/// Autocorrelation `ρ_k` of `x` at lag `k` given its mean and lag-0
/// autocovariance (biased estimator, divided by `T`, as Geyer's method wants).
fn autocorr_at(x: &[f64], mean: f64, c0: f64, k: usize) -> f64 {
    let n = x.len();
    let s: f64 = x[..n - k].iter().zip(&x[k..]).map(|(a, b)| (a - mean) * (b - mean)).sum();
    s / n as f64 / c0
}

/// The autocorrelations `ρ_0 = 1, ρ_1, …, ρ_{max_lag}` of a trace.
///
/// # Errors
/// A trace shorter than [`MIN_TRACE`] or with non-finite values;
/// `max_lag ≥ T`.
pub fn autocorrelation(x: &[f64], max_lag: usize) -> Result<Vec<f64>> {
    check_trace(x)?;
    if max_lag >= x.len() {
        return Err(Error::InvalidParam {
            name: "max_lag",
            reason: format!("must be below the trace length {}, got {max_lag}", x.len()),
        });
    }
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let c0 = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / x.len() as f64;
    if c0 == 0.0 {
        return Ok((0..=max_lag).map(|k| if k == 0 { 1.0 } else { 0.0 }).collect());
    }
    Ok((0..=max_lag).map(|k| autocorr_at(x, mean, c0, k)).collect())
}

/// Integrated autocorrelation time of one trace (Geyer's initial monotone
/// sequence estimator), clamped to `[1/T, T]`: a trace that never
/// decorrelates is worth one sample; a constant trace gives 1.
///
/// # Errors
/// A trace shorter than [`MIN_TRACE`] or with non-finite values.
pub fn integrated_autocorr_time(x: &[f64]) -> Result<f64> {
    check_trace(x)?;
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let c0 = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
    if c0 == 0.0 {
        return Ok(1.0);
    }
    let rho = |k: usize| if k < n { autocorr_at(x, mean, c0, k) } else { 0.0 };
    // τ = −1 + 2 Σ_{m≥0} Γ_m, Γ_m = ρ_{2m} + ρ_{2m+1}, while Γ_m > 0,
    // each Γ_m ≤ Γ_{m−1}.
    let mut sum = 0.0;
    let mut prev = f64::INFINITY;
    let mut m = 0;
    while 2 * m + 1 < n {
        let g = rho(2 * m) + rho(2 * m + 1);
        if g <= 0.0 {
            break;
        }
        let g = g.min(prev);
        sum += g;
        prev = g;
        m += 1;
    }
    Ok((-1.0 + 2.0 * sum).clamp(1.0 / n as f64, n as f64))
}

/// Effective sample size `T / τ` of one trace.
///
/// # Errors
/// As [`integrated_autocorr_time`].
pub fn effective_sample_size(x: &[f64]) -> Result<f64> {
    Ok(x.len() as f64 / integrated_autocorr_time(x)?)
}

/// Split R-hat over chains of equal length (each split into its first and
/// second half; an odd middle value is dropped).
///
/// # Errors
/// Fewer than 2 chains, chains of different lengths, traces shorter than
/// [`MIN_TRACE`] or with non-finite values.
pub fn split_rhat(chains: &[&[f64]]) -> Result<f64> {
    if chains.len() < 2 {
        return Err(Error::InvalidParam {
            name: "chains",
            reason: format!("split R-hat needs ≥ 2 chains, got {}", chains.len()),
        });
    }
    let t = chains[0].len();
    for c in chains {
        check_trace(c)?;
        if c.len() != t {
            return Err(Error::ShapeMismatch {
                what: "trace length (all chains equal)",
                expected: t,
                got: c.len(),
            });
        }
    }
    let half = t / 2;
    let halves: Vec<&[f64]> = chains.iter().flat_map(|c| [&c[..half], &c[t - half..]]).collect();
    let n = half as f64;
    let means: Vec<f64> = halves.iter().map(|h| h.iter().sum::<f64>() / n).collect();
    let vars: Vec<f64> = halves
        .iter()
        .zip(&means)
        .map(|(h, &m)| h.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0))
        .collect();
    let mm = halves.len() as f64;
    let grand = means.iter().sum::<f64>() / mm;
    let b = n * means.iter().map(|m| (m - grand) * (m - grand)).sum::<f64>() / (mm - 1.0);
    let w = vars.iter().sum::<f64>() / mm;
    if w == 0.0 {
        // Every half constant: equal constants agree, different ones do not.
        return Ok(if b == 0.0 { 1.0 } else { f64::INFINITY });
    }
    let var_plus = (n - 1.0) / n * w + b / n;
    Ok((var_plus / w).sqrt())
}

/// Diagnostics of an ensemble of chains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainDiagnostics {
    /// Chains.
    pub chains: usize,
    /// Trace length per chain.
    pub length: usize,
    /// Mean integrated autocorrelation time over the chains (sweeps, or
    /// updates for the chains of training).
    pub iat_mean: f64,
    /// The largest one.
    pub iat_max: f64,
    /// Sum of the chains' effective sample sizes.
    pub ess: f64,
    /// Split R-hat across the chains.
    pub split_rhat: f64,
}

/// Diagnostics of `chains` traces of length `length`, stored chain-major
/// (`traces[c·length + t]`).
///
/// # Errors
/// Fewer than 2 chains, a length below [`MIN_TRACE`], a buffer of the wrong
/// size, non-finite values.
pub fn diagnose(traces: &[f64], chains: usize, length: usize) -> Result<ChainDiagnostics> {
    if chains.checked_mul(length) != Some(traces.len()) {
        return Err(Error::ShapeMismatch {
            what: "traces (chains × length)",
            expected: chains * length,
            got: traces.len(),
        });
    }
    if length == 0 {
        return Err(Error::InvalidParam { name: "trace", reason: "empty".into() });
    }
    let rows: Vec<&[f64]> = traces.chunks_exact(length).collect();
    let rhat = split_rhat(&rows)?;
    let taus = rows.iter().map(|r| integrated_autocorr_time(r)).collect::<Result<Vec<f64>>>()?;
    Ok(ChainDiagnostics {
        chains,
        length,
        iat_mean: taus.iter().sum::<f64>() / chains as f64,
        iat_max: taus.iter().cloned().fold(0.0, f64::max),
        ess: taus.iter().map(|t| length as f64 / t).sum(),
        split_rhat: rhat,
    })
}
