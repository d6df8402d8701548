//! Annealed importance sampling estimates of `log Z` (Neal 2001), as in
//! Salakhutdinov & Murray, "On the Quantitative Analysis of Deep Belief
//! Networks" (ICML 2008), §3–4.
//!
//! The base model A has no weights, no hidden biases and visible biases
//! `b_A` (by default from smoothed training-data marginals), so
//! `log Z_A = Σᵢ softplus(b_A,ᵢ) + H log 2` and exact samples are
//! independent Bernoulli draws. The intermediate distributions are
//!
//! `log p*_β(v) = (1−β) b_Aᵀv + β bᵀv + Σⱼ softplus(β (cⱼ + (vᵀW)ⱼ))`,
//!
//! `β` from 0 to 1, and the transition at `β` is one Gibbs sweep of the RBM
//! with weights `βW`, hidden biases `βc` and visible biases
//! `(1−β)b_A + βb`, which leaves `p_β` invariant. Each run's log weight is
//! `Σ_k log p*_{β_k}(v_k) − log p*_{β_{k−1}}(v_k)`, accumulated in f64, and
//! `log Ẑ = log Z_A + log mean(w)`.
//!
//! The reported interval is S&M's: `log(mean(w) ± 3·sd(w)/√M)`, computed
//! relative to the largest weight so nothing overflows.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::gemm::HalfStepProducts;
use crate::model::Rbm;
use crate::model::rbm::softplus_f64;
use crate::rng;
use crate::sampler::gibbs;
use crate::simd;
use rayon::prelude::*;

/// Salakhutdinov & Murray's schedule: β in steps of 1e-3 up to 0.5, 1e-4 up
/// to 0.9, 1e-5 up to 1 — 14,500 intermediate distributions after β = 0.
pub fn default_schedule() -> Vec<f64> {
    let mut b = vec![0.0];
    let mut push = |from: f64, to: f64, step: f64| {
        let n = ((to - from) / step).round() as usize;
        for i in 1..=n {
            b.push(from + i as f64 * step);
        }
    };
    push(0.0, 0.5, 1e-3);
    push(0.5, 0.9, 1e-4);
    push(0.9, 1.0, 1e-5);
    *b.last_mut().expect("non-empty") = 1.0;
    b
}

/// `n` equally spaced steps from 0 to 1 (a cheaper schedule for monitoring).
pub fn linear_schedule(n: usize) -> Vec<f64> {
    (0..=n.max(1)).map(|i| i as f64 / n.max(1) as f64).collect()
}

/// Visible biases of the base-rate model: `log(p/(1−p))` of the data
/// marginals smoothed with one pseudo-count each way,
/// `p = (count + 1)/(n + 2)`, which keeps them away from 0 and 1.
///
/// # Errors
/// An empty data set.
pub fn base_rate_biases(data: &Dataset) -> Result<Vec<f32>> {
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    let n = data.len() as f64;
    Ok(data
        .marginals()
        .iter()
        .map(|&m| {
            let p = (m * n + 1.0) / (n + 2.0);
            (p / (1.0 - p)).ln() as f32
        })
        .collect())
}

/// Options of [`ais`].
#[derive(Debug, Clone, PartialEq)]
pub struct AisConfig {
    /// Independent runs `M` (default 100).
    pub runs: usize,
    /// Increasing βs from 0 to 1 (default [`default_schedule`]).
    pub schedule: Vec<f64>,
    /// Seed of the runs' streams.
    pub seed: u64,
}

impl Default for AisConfig {
    fn default() -> Self {
        AisConfig { runs: 100, schedule: default_schedule(), seed: 0 }
    }
}

/// An AIS estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct AisEstimate {
    /// `log Ẑ`.
    pub log_z: f64,
    /// `log(mean(w) − 3 sd(w)/√M)` (−inf when that is not positive).
    pub log_z_low: f64,
    /// `log(mean(w) + 3 sd(w)/√M)`.
    pub log_z_high: f64,
    /// `log Z_A` of the base model.
    pub log_z_base: f64,
    /// Each run's log importance weight.
    pub log_weights: Vec<f64>,
}

/// Runs AIS from the base-rate model with visible biases `base_bias` to
/// `rbm`.
///
/// # Errors
/// [`Error::InvalidParam`] for no runs, a schedule that does not rise from 0
/// to 1, or wrong-length / non-finite base biases.
pub fn ais(rbm: &Rbm, base_bias: &[f32], config: &AisConfig) -> Result<AisEstimate> {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let bad = |r: String| Error::InvalidParam { name: "ais", reason: r };
    if config.runs == 0 {
        return Err(bad("need at least one run".into()));
    }
    let s = &config.schedule;
    if s.len() < 2
        || s[0] != 0.0
        || *s.last().expect("len ≥ 2") != 1.0
        || s.iter().any(|x| x.is_nan())
        || s.windows(2).any(|w| w[1] <= w[0])
    {
        return Err(bad("the schedule must rise strictly from 0 to 1".into()));
    }
    if base_bias.len() != d || base_bias.iter().any(|b| !b.is_finite()) {
        return Err(bad(format!("base biases: need {d} finite values")));
    }
    let m = config.runs;
    let isa = simd::active_isa();
    let mut streams = rng::chain_streams(config.seed, m)?;
    // v ~ p_A: independent Bernoulli(σ(b_A)).
    let mut v = vec![0.0f32; m * d];
    let zeros = vec![0.0f32; m * d];
    gibbs::sample_rows(isa, &zeros, base_bias, &mut v, &mut streams, None, rayon::current_num_threads());
    let mut h_state = vec![0.0f32; m * h];
    let mut pre_h = vec![0.0f32; m * h];
    let mut pre_v = vec![0.0f32; m * d];
    let mut logw = vec![0.0f64; m];
    let products = HalfStepProducts::new(isa, rbm.weights(), d, h);
    let threads = rayon::current_num_threads();
    let (b, c) = (rbm.visible_bias(), rbm.hidden_bias());
    let mut hb = vec![0.0f32; h];
    let mut vb = vec![0.0f32; d];
    for k in 1..s.len() {
        let (b0, b1) = (s[k - 1], s[k]);
        // Weight update at v_k: log p*_{β_k}(v) − log p*_{β_{k−1}}(v), f64.
        products.visible_to_hidden_cols(m, &v, &mut pre_h, threads);
        logw.par_iter_mut().zip(v.par_chunks(d)).zip(pre_h.par_chunks(h)).for_each(|((lw, vr), ph)| {
            let mut t = 0.0f64;
            for (i, &x) in vr.iter().enumerate() {
                if x != 0.0 {
                    t += (b1 - b0) * (b[i] as f64 - base_bias[i] as f64);
                }
            }
            for (j, &p) in ph.iter().enumerate() {
                let x = c[j] as f64 + p as f64;
                t += softplus_f64(b1 * x) - softplus_f64(b0 * x);
            }
            *lw += t;
        });
        if k + 1 == s.len() {
            break;
        }
        // Transition at β_k: h ~ σ(β(c + vW)), v ~ σ((1−β)b_A + β(b + Wh)).
        let bf = b1 as f32;
        pre_h.par_chunks_mut(4096).for_each(|x| x.iter_mut().for_each(|y| *y *= bf));
        for (o, &cj) in hb.iter_mut().zip(c) {
            *o = bf * cj;
        }
        gibbs::sample_rows(isa, &pre_h, &hb, &mut h_state, &mut streams, None, threads);
        products.hidden_to_visible_cols(m, &h_state, &mut pre_v, threads);
        pre_v.par_chunks_mut(4096).for_each(|x| x.iter_mut().for_each(|y| *y *= bf));
        for ((o, &bi), &ai) in vb.iter_mut().zip(b).zip(base_bias) {
            *o = (1.0 - bf) * ai + bf * bi;
        }
        gibbs::sample_rows(isa, &pre_v, &vb, &mut v, &mut streams, None, threads);
    }
    let log_z_base = base_bias.iter().map(|&x| softplus_f64(x as f64)).sum::<f64>() + h as f64 * 2f64.ln();
    Ok(summarize(log_z_base, logw))
}

fn summarize(log_z_base: f64, log_weights: Vec<f64>) -> AisEstimate {
    let m = log_weights.len() as f64;
    let mx = log_weights.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let r: Vec<f64> = log_weights.iter().map(|&x| (x - mx).exp()).collect();
    let mean = r.iter().sum::<f64>() / m;
    let sd =
        if m > 1.0 { (r.iter().map(|&x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt() } else { 0.0 };
    let half = 3.0 * sd / m.sqrt();
    let at = |x: f64| if x > 0.0 { log_z_base + mx + x.ln() } else { f64::NEG_INFINITY };
    AisEstimate {
        log_z: at(mean),
        log_z_low: at(mean - half),
        log_z_high: at(mean + half),
        log_z_base,
        log_weights,
    }
}
