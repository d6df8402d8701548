//! Log-densities of a Gaussian–Bernoulli RBM ([`GaussianRbm`]): its `log Z`
//! exactly (small `H`) or by annealed importance sampling, and the
//! average log-density `(1/n) Σ −F(v) − log Z` of data.
//!
//! The model is `p(v, h) ∝ exp(−E(v, h))` with
//! `E = Σᵢ (vᵢ − bᵢ)²/(2σᵢ²) − cᵀh − (v/σ)ᵀWh` (see [`GaussianRbm`]).
//!
//! **Exact.** Integrating `v` out for a fixed `h` is a Gaussian integral:
//! with `a = Wh`, `∫ exp(−(v−b)²/(2σ²) + v a/σ) dv = √(2πσ²) exp(a b/σ + a²/2)`
//! per visible unit, so
//! `log Z = Σᵢ ½ log(2πσᵢ²) + log Σ_h exp(cᵀh + Σᵢ (aᵢ bᵢ/σᵢ + aᵢ²/2))`,
//! a sum over the `2^H` hidden states.
//!
//! **AIS** (Neal 2001; the Bernoulli version is [`super::ais()`]). The
//! intermediate distributions scale the interaction and the hidden biases,
//! `p_β(v, h) ∝ exp(−Σᵢ (vᵢ − bᵢ)²/(2σᵢ²) + β (cᵀh + (v/σ)ᵀWh))`, so the
//! base `β = 0` is `N(b, σ²)` times uniform hidden units,
//! `log Z₀ = Σᵢ ½ log(2πσᵢ²) + H log 2`, sampled exactly. With the hidden
//! units summed out, `log p*_β(v) = −Σᵢ (vᵢ − bᵢ)²/(2σᵢ²) + Σⱼ softplus(β aⱼ(v))`,
//! `aⱼ(v) = cⱼ + ((v/σ)ᵀW)ⱼ`: the quadratic term cancels in every weight
//! increment `log p*_{β_k}(v) − log p*_{β_{k−1}}(v)`. The transition at `β`
//! is one Gibbs sweep of `p_β`: `hⱼ ~ Bernoulli(σ(β aⱼ(v)))`, then
//! `v ~ N(b + β σ ⊙ Wh, σ²)`. The interval is Salakhutdinov & Murray's, as
//! for binary RBMs.
//!
//! **RAISE** ([`raise`]): the same chains run from the data down the
//! schedule give a stochastic lower bound on each example's log-density.
//!
//! These are densities of continuous data: they can be positive, and they
//! change with the data's scale (a density of pixels in [0, 1] is not one of
//! pixels in [0, 255]). The natural yardstick is the base model itself, the
//! same `b` and `σ` with no hidden units: [`base_log_density`].

use super::ais::{
    AisConfig, AisEstimate, RaiseConfig, RaiseEstimate, check_schedule, log_mean_exp_neg, raise_summary,
    summarize,
};
use crate::alloc::try_vec;
use crate::data::Dataset;
use crate::energy::{Energy, Workspace};
use crate::error::{Error, Result};
use crate::kernels::{gemm, mul_dims};
use crate::model::GaussianRbm;
use crate::model::gaussian_rbm::{fill_parallel, quadratic};
use crate::rng;
use crate::sampler::gibbs;
use crate::simd;
use rayon::prelude::*;

/// Hidden units up to which [`log_partition_exact`] enumerates.
pub const MAX_EXACT_HIDDEN: usize = 24;

/// `Σᵢ ½ log(2πσᵢ²)`, the log-normalizer of `N(b, σ²)`.
fn log_gauss_norm(m: &GaussianRbm) -> f64 {
    m.sigma().iter().map(|&s| 0.5 * (2.0 * std::f64::consts::PI * (s as f64).powi(2)).ln()).sum()
}

/// Exact `log Z` by summing the closed-form Gaussian integrals over all
/// `2^H` hidden states (module docs), in f64.
///
/// # Errors
/// [`Error::InvalidParam`] when `n_hidden` exceeds [`MAX_EXACT_HIDDEN`].
///
/// # Examples
/// ```
/// use boltzmann::model::GaussianRbm;
/// use boltzmann::eval::gaussian_rbm::log_partition_exact;
/// // No weights: N(b, σ²) times 2^H uniform hidden states.
/// let m = GaussianRbm::new(1, 2, vec![0.0; 2], vec![0.3], vec![0.0; 2], vec![0.5])?;
/// let want = 0.5 * (2.0 * std::f64::consts::PI * 0.25f64).ln() + 2.0 * 2f64.ln();
/// assert!((log_partition_exact(&m)? - want).abs() < 1e-12);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn log_partition_exact(m: &GaussianRbm) -> Result<f64> {
    let (d, h) = (m.n_visible(), m.n_hidden());
    if h > MAX_EXACT_HIDDEN {
        return Err(Error::InvalidParam {
            name: "exact log Z",
            reason: format!(
                "enumerating 2^{h} hidden states is too much (at most 2^{MAX_EXACT_HIDDEN}); use AIS"
            ),
        });
    }
    let w = m.weights();
    let (b, c, s) = (m.visible_bias(), m.hidden_bias(), m.sigma());
    let terms: Vec<f64> = (0u64..1 << h)
        .into_par_iter()
        .map(|bits| {
            let mut t = 0.0f64;
            for (j, &cj) in c.iter().enumerate() {
                if bits >> j & 1 == 1 {
                    t += cj as f64;
                }
            }
            for i in 0..d {
                let a: f64 = (0..h).filter(|j| bits >> j & 1 == 1).map(|j| w[i * h + j] as f64).sum();
                t += a * b[i] as f64 / s[i] as f64 + 0.5 * a * a;
            }
            t
        })
        .collect();
    let mx = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    Ok(log_gauss_norm(m) + mx + terms.iter().map(|&t| (t - mx).exp()).sum::<f64>().ln())
}

/// AIS estimate of `log Z` from `N(b, σ²)` × uniform hidden units (module
/// docs): `config.runs` runs over `config.schedule`, streams from
/// `config.seed`; the same bits for any thread count.
///
/// # Errors
/// [`Error::InvalidParam`] for no runs or a schedule that does not rise
/// strictly from 0 to 1; sizes that do not fit in memory.
///
/// # Examples
/// ```
/// use boltzmann::model::GaussianRbm;
/// use boltzmann::eval::{AisConfig, linear_schedule, gaussian_rbm};
/// let m = GaussianRbm::random(6, 5, 0.5, 0.7, 3)?;
/// let cfg = AisConfig::default().runs(64).schedule(linear_schedule(1000)).seed(1);
/// let est = gaussian_rbm::ais(&m, &cfg)?;
/// assert!((est.log_z - gaussian_rbm::log_partition_exact(&m)?).abs() < 0.05);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn ais(m: &GaussianRbm, config: &AisConfig) -> Result<AisEstimate> {
    ais_with_progress(m, config, &|_| {})
}

/// [`ais`] calling `progress` with the number of distributions passed
/// (`schedule.len() − 1` in all).
///
/// # Errors
/// As [`ais`].
pub fn ais_with_progress(
    m: &GaussianRbm,
    config: &AisConfig,
    progress: super::Progress<'_>,
) -> Result<AisEstimate> {
    if config.runs == 0 {
        return Err(Error::InvalidParam { name: "runs", reason: "need at least one AIS run".into() });
    }
    let sched = &config.schedule;
    check_schedule(sched)?;
    let mut streams = rng::chain_streams(config.seed, config.runs)?;
    let mut a = Annealer::new(m, config.runs)?;
    // v ~ N(b, σ²).
    a.sample_base(&mut streams)?;
    for k in 1..sched.len() {
        a.increment(sched[k - 1], sched[k]);
        if k + 1 < sched.len() {
            a.transition(sched[k], &mut streams)?;
        }
        if k % 100 == 0 {
            progress(k as u64);
        }
    }
    progress((sched.len() - 1) as u64);
    Ok(summarize(log_z_base(m), a.logw))
}

/// `log Z` of the base `N(b, σ²)` × uniform hidden units.
fn log_z_base(m: &GaussianRbm) -> f64 {
    log_gauss_norm(m) + m.n_hidden() as f64 * 2f64.ln()
}

/// `n` annealing chains of a GB-RBM: states, the cached `(v/σ)W` of the
/// current states, scratch, and each chain's accumulated log-weight.
struct Annealer<'m> {
    m: &'m GaussianRbm,
    n: usize,
    v: Vec<f32>,
    z: Vec<f32>,
    tmp: Vec<f32>,
    /// `(v/σ)W` of the current `v` (no bias).
    pre: Vec<f32>,
    hid: Vec<f32>,
    hb: Vec<f32>,
    logw: Vec<f64>,
}

impl<'m> Annealer<'m> {
    fn new(m: &'m GaussianRbm, n: usize) -> Result<Annealer<'m>> {
        let (d, h) = (m.n_visible(), m.n_hidden());
        let (nd, nh) = (mul_dims("AIS runs × n_visible", n, d)?, mul_dims("AIS runs × n_hidden", n, h)?);
        Ok(Annealer {
            m,
            n,
            v: try_vec(nd, 0.0f32, "annealing states")?,
            z: try_vec(nd, 0.0f32, "normals")?,
            tmp: try_vec(nd, 0.0f32, "annealing scratch")?,
            pre: try_vec(nh, 0.0f32, "annealing scratch")?,
            hid: try_vec(nh, 0.0f32, "annealing states")?,
            hb: vec![0.0f32; h],
            logw: vec![0.0f64; n],
        })
    }

    /// `v ~ N(b, σ²)` (the exact base sample), and its `(v/σ)W`.
    fn sample_base(&mut self, streams: &mut [rng::StreamState]) -> Result<()> {
        let (b, s) = (self.m.visible_bias(), self.m.sigma());
        fill_parallel(streams, b.len(), &mut self.z, true)?;
        gaussian_step(&mut self.v, &self.z, None, b, s, 0.0);
        self.m.pre_hidden(&self.v, self.n, &mut self.tmp, &mut self.pre)
    }

    /// Starts chain `c` at `row(c)` (finite, checked by the caller).
    fn set_states<'r>(&mut self, row: impl Fn(usize) -> &'r [f32]) -> Result<()> {
        let d = self.m.n_visible();
        for (c, out) in self.v.chunks_exact_mut(d).enumerate() {
            out.copy_from_slice(row(c));
        }
        self.m.pre_hidden(&self.v, self.n, &mut self.tmp, &mut self.pre)
    }

    /// Adds `log p*_{β1}(v) − log p*_{β0}(v)` at the current states.
    fn increment(&mut self, b0: f64, b1: f64) {
        let (isa, c) = (simd::active_isa(), self.m.hidden_bias());
        let (b0f, dbf) = (b0 as f32, (b1 - b0) as f32);
        let h = c.len();
        self.logw
            .par_iter_mut()
            .zip(self.pre.par_chunks(h))
            .for_each(|(lw, ph)| *lw += simd::softplus_step_sum(isa, ph, c, b0f, dbf));
    }

    /// One Gibbs sweep of `p_β`: `h ~ p_β(h|v)`, `v ~ p_β(v|h)`; then the
    /// new states' `(v/σ)W`.
    fn transition(&mut self, beta: f64, streams: &mut [rng::StreamState]) -> Result<()> {
        let m = self.m;
        let (b, c, s) = (m.visible_bias(), m.hidden_bias(), m.sigma());
        let (d, h, n) = (m.n_visible(), m.n_hidden(), self.n);
        let isa = simd::active_isa();
        let threads = rayon::current_num_threads();
        let rows = n.div_ceil(threads).max(1);
        let bf = beta as f32;
        self.pre.par_chunks_mut(4096).for_each(|x| x.iter_mut().for_each(|y| *y *= bf));
        self.hb.iter_mut().zip(c).for_each(|(o, &cj)| *o = bf * cj);
        gibbs::sample_units(isa, &self.pre, &self.hb, &mut self.hid, streams, None, threads)?;
        // tmp = hWᵀ, then v = b + β σ ⊙ tmp + σ ⊙ z.
        gemm::par_gemm_nt(n, h, d, &self.hid, m.weights(), &mut self.tmp, rows)?;
        fill_parallel(streams, d, &mut self.z, true)?;
        gaussian_step(&mut self.v, &self.z, Some(&self.tmp), b, s, bf);
        m.pre_hidden(&self.v, n, &mut self.tmp, &mut self.pre)
    }
}

/// Chains annealed together by [`raise`] (bounds its scratch memory).
const RAISE_BLOCK: usize = 1024;

/// Reverse annealing (RAISE; Burda, Grosse & Salakhutdinov, AISTATS 2015)
/// for a GB-RBM: a stochastic **lower** bound on each example's
/// log-density, to set beside [`ais`]'s estimate (which tends to be too
/// high). The same construction as the binary [`super::raise()`]: each
/// example starts a chain at `v_K = v` that walks the schedule from β = 1
/// down to 0 by the transitions of [`ais`] (one Gibbs sweep `h|v`, `v|h`
/// of `p_β` each — reversible with respect to `p_β(v)`), accumulating the
/// increments `log p*_{β_k}(v_{k−1}) − log p*_{β_{k−1}}(v_{k−1})`; then
/// `log p̂(v) = −F(v) − log Z₀ − Σ increments` (averaged over
/// `runs_per_example` chains as `log mean w`), whose expectation is at most
/// the annealing model's `log p_ann(v) → log p(v)`. Chains have their own
/// streams (chain `e·r + j` of example `e` is stream `e·r + j` of
/// [`rng::chain_streams`]`(seed, ·)`); the result does not depend on the
/// thread count.
///
/// # Errors
/// [`Error::InvalidParam`] for zero runs, no examples or a bad schedule;
/// [`Error::ShapeMismatch`] for data of the wrong width;
/// [`Error::NonFinite`] for non-finite data.
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::model::GaussianRbm;
/// use boltzmann::eval::{RaiseConfig, linear_schedule, gaussian_rbm};
/// let m = GaussianRbm::random(4, 6, 0.5, 0.7, 3)?;
/// let data = Dataset::new((0..40).map(|i| (i % 7) as f32 * 0.3 - 0.8).collect(), 4)?;
/// let cfg = RaiseConfig::default().runs_per_example(4).schedule(linear_schedule(500)).seed(2);
/// let est = gaussian_rbm::raise(&m, &data, &cfg)?;
/// let exact = gaussian_rbm::average_log_density(&m, &data, gaussian_rbm::log_partition_exact(&m)?)?;
/// assert!(est.mean < exact + 3.0 * est.std_err && est.mean > exact - 0.5);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn raise(m: &GaussianRbm, data: &Dataset, config: &RaiseConfig) -> Result<RaiseEstimate> {
    raise_with_progress(m, data, config, &|_| {})
}

/// [`raise`] calling `progress` with the number of chain-steps done so far
/// (`examples × runs_per_example × (schedule.len() − 1)` in all).
///
/// # Errors
/// As [`raise`].
pub fn raise_with_progress(
    m: &GaussianRbm,
    data: &Dataset,
    config: &RaiseConfig,
    progress: super::Progress<'_>,
) -> Result<RaiseEstimate> {
    let (r, s) = (config.runs_per_example, &config.schedule);
    if r == 0 {
        return Err(Error::InvalidParam { name: "runs_per_example", reason: "need at least one".into() });
    }
    check_schedule(s)?;
    check_data(m, data, 0.0)?;
    let n = data.len();
    mul_dims("RAISE chains", n, r)?;
    let neg_f = log_densities(m, data, 0.0)?; // −F(v)
    let lz_a = log_z_base(m);
    let per_block = (RAISE_BLOCK / r).max(1);
    let (mut log_probs, mut log_z) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut done = 0u64;
    for first in (0..n).step_by(per_block) {
        let ex = per_block.min(n - first);
        let chains = ex * r;
        let mut st = rng::chain_streams_range(config.seed, first * r, chains)?;
        let mut a = Annealer::new(m, chains)?;
        a.set_states(|c| data.row(first + c / r))?;
        // v_{k−1} ~ T_k(·|v_k), then the increment of (β_{k−1}, β_k) at v_{k−1}.
        for k in (1..s.len()).rev() {
            a.transition(s[k], &mut st)?;
            a.increment(s[k - 1], s[k]);
            if k % 100 == 0 {
                progress(done + (s.len() - k) as u64 * chains as u64);
            }
        }
        done += (s.len() - 1) as u64 * chains as u64;
        progress(done);
        for e in 0..ex {
            let lme = log_mean_exp_neg(&a.logw[e * r..(e + 1) * r]);
            log_probs.push(neg_f[first + e] - lz_a + lme);
            log_z.push(lz_a - lme);
        }
    }
    Ok(raise_summary(log_probs, log_z))
}

/// `v = b + β σ ⊙ wh + σ ⊙ z` row by row (`wh` absent: `v = b + σ ⊙ z`).
fn gaussian_step(v: &mut [f32], z: &[f32], wh: Option<&[f32]>, b: &[f32], s: &[f32], beta: f32) {
    let d = b.len();
    v.par_chunks_mut(d).enumerate().for_each(|(r, row)| {
        let zr = &z[r * d..(r + 1) * d];
        for i in 0..d {
            let mean = match wh {
                Some(a) => b[i] + beta * s[i] * a[r * d + i],
                None => b[i],
            };
            row[i] = mean + s[i] * zr[i];
        }
    });
}

fn check_data(m: &GaussianRbm, data: &Dataset, log_z: f64) -> Result<()> {
    if data.dim() != m.n_visible() {
        return Err(Error::ShapeMismatch {
            what: "data features (model n_visible)",
            expected: m.n_visible(),
            got: data.dim(),
        });
    }
    if data.is_empty() || !log_z.is_finite() {
        return Err(Error::InvalidParam {
            name: "data/log_z",
            reason: "need examples and a finite log Z".into(),
        });
    }
    if let Some(i) = data.features().iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { what: "data", index: i });
    }
    Ok(())
}

/// Each example's log-density `−F(v) − log Z` (f64 free energies), `log Z`
/// given (exact or estimated).
///
/// # Errors
/// Data of the wrong width, no data, non-finite data or `log_z`.
pub fn log_densities(m: &GaussianRbm, data: &Dataset, log_z: f64) -> Result<Vec<f64>> {
    check_data(m, data, log_z)?;
    let mut f = vec![0.0f64; data.len()];
    // In blocks, to bound the workspace.
    let d = m.n_visible();
    let mut ws = Workspace::default();
    for (x, o) in data.features().chunks(256 * d).zip(f.chunks_mut(256)) {
        m.energy(x, o, &mut ws)?;
    }
    Ok(f.into_iter().map(|f| -f - log_z).collect())
}

/// The mean of [`log_densities`].
///
/// # Errors
/// As [`log_densities`].
pub fn average_log_density(m: &GaussianRbm, data: &Dataset, log_z: f64) -> Result<f64> {
    let l = log_densities(m, data, log_z)?;
    Ok(l.iter().sum::<f64>() / l.len() as f64)
}

/// The average log-density of `data` under the model's base, `N(b, σ²)`
/// with no hidden units: what the hidden units add is the difference.
///
/// # Errors
/// As [`log_densities`] (with no `log Z`).
pub fn base_log_density(m: &GaussianRbm, data: &Dataset) -> Result<f64> {
    check_data(m, data, 0.0)?;
    let (b, s) = (m.visible_bias(), m.sigma());
    let norm = log_gauss_norm(m);
    let total: f64 = (0..data.len()).into_par_iter().map(|r| -quadratic(data.row(r), b, s) - norm).sum();
    Ok(total / data.len() as f64)
}
