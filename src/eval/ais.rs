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
//!
//! [`raise`] runs the same chain backwards from data (RAISE) for a
//! conservative estimate of log-probabilities.
//!
//! Speed: each thread anneals its own share of the chains through a whole
//! segment of the schedule (one parallel region per 100 βs). Each chain
//! keeps `vW` and `hWᵀ` of its current states and brings them up to date
//! by the units that changed — consecutive states differ in far fewer units
//! than are on (on a 784 × 500 MNIST model, 20–37 % of the hidden units
//! flip per step while 45–49 % are on) — or by a binary or dense product
//! when that is cheaper, chosen per chain from its own states; the products
//! are recomputed exactly every 64 βs, which bounds the rounding drift of
//! the updates. The weight increments use
//! [`crate::kernels::activation::softplus_step_sum_on`] (f32 SIMD, accurate
//! relative to each tiny difference). A chain's arithmetic depends only on
//! its own states and stream, so the results do not depend on the thread
//! count or on how runs are split over MPI ranks.

use crate::alloc::try_vec;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::binary::words_per_row;
use crate::kernels::gemm::HalfStepProducts;
use crate::kernels::mul_dims;
use crate::model::Rbm;
use crate::model::rbm::softplus_f64;
use crate::rng::{self, StreamState};
use crate::sampler::{gibbs, incremental};

use super::Progress;
use crate::simd;
use rayon::prelude::*;

/// Salakhutdinov & Murray's schedule: β in steps of 1e-3 up to 0.5, 1e-4 up
/// to 0.9, 1e-5 up to 1 — 14,500 intermediate distributions after β = 0.
pub fn default_schedule() -> Vec<f64> {
    scaled_default_schedule(1)
}

/// [`default_schedule`] with every step divided by `factor` (`factor ×
/// 14,500` distributions, the same shape): for checking that an estimate has
/// converged.
pub fn scaled_default_schedule(factor: usize) -> Vec<f64> {
    let f = factor.max(1) as f64;
    let mut b = vec![0.0];
    let mut push = |from: f64, to: f64, step: f64| {
        let n = ((to - from) / step).round() as usize;
        for i in 1..=n {
            b.push(from + i as f64 * step);
        }
    };
    push(0.0, 0.5, 1e-3 / f);
    push(0.5, 0.9, 1e-4 / f);
    push(0.9, 1.0, 1e-5 / f);
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
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct AisConfig {
    /// Independent runs `M` (default 100).
    pub runs: usize,
    /// Increasing βs from 0 to 1 (default [`default_schedule`]).
    pub schedule: Vec<f64>,
    /// Seed of the runs' streams.
    pub seed: u64,
}

setters!(AisConfig {
    runs: usize,
    schedule: Vec<f64>,
    seed: u64,
});

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
    /// `log σ̂` with `σ̂ = sd(w)/√M`, the standard error of `Ẑ` (so
    /// `log(Ẑ ± σ̂)` is S&M's one-σ interval); −inf for a single run.
    pub log_std_err: f64,
    /// `log Z_A` of the base model.
    pub log_z_base: f64,
    /// Each run's log importance weight.
    pub log_weights: Vec<f64>,
}

/// Checks a schedule: at least two βs rising strictly from 0 to 1.
pub(super) fn check_schedule(s: &[f64]) -> Result<()> {
    if s.len() < 2
        || s[0] != 0.0
        || *s.last().expect("len ≥ 2") != 1.0
        || s.iter().any(|x| x.is_nan())
        || s.windows(2).any(|w| w[1] <= w[0])
    {
        return Err(Error::InvalidParam {
            name: "schedule",
            reason: "the schedule must rise strictly from 0 to 1".into(),
        });
    }
    Ok(())
}

fn check_base(rbm: &Rbm, base_bias: &[f32]) -> Result<()> {
    let d = rbm.n_visible();
    if base_bias.len() != d || base_bias.iter().any(|b| !b.is_finite()) {
        return Err(Error::InvalidParam {
            name: "base biases",
            reason: format!("need {d} finite values (one per visible unit)"),
        });
    }
    Ok(())
}

/// `log Z_A = Σᵢ softplus(b_A,ᵢ) + H log 2` of the base-rate model.
pub(crate) fn log_z_base(rbm: &Rbm, base_bias: &[f32]) -> f64 {
    base_bias.iter().map(|&x| softplus_f64(x as f64)).sum::<f64>() + rbm.n_hidden() as f64 * 2f64.ln()
}

/// A block of annealing chains: visible states, scratch, and each chain's
/// accumulated log weight, in runs of chains that each thread anneals on its
/// own ([`Run`]). Forward AIS and reverse annealing (RAISE) are the same two
/// operations in a different order.
struct Annealer<'a> {
    cx: Shared<'a>,
    runs: Vec<Run>,
}

/// What every run reads: the model, the base rates and the packed weights.
struct Shared<'a> {
    rbm: &'a Rbm,
    base_bias: &'a [f32],
    /// `b − b_A` in f64.
    bias_diff: Vec<f64>,
    /// The products, with `W` and `Wᵀ` packed once for the dense tile
    /// kernels and the binary products.
    products: HalfStepProducts<'a>,
    isa: simd::Isa,
}

/// Products are recomputed from the states (not updated by the units that
/// changed) at every schedule position that is a multiple of this: bounds
/// the rounding drift of the updates.
const EXACT_EVERY: usize = 64;

/// A run of consecutive chains annealed on one thread: states, their two
/// products kept current by the units that changed
/// ([`crate::sampler::incremental`]), streams and log weights. Every
/// chain's arithmetic depends only on its own states and stream, so how the
/// chains are split into runs (the thread count, the MPI ranks) changes no
/// bit.
struct Run {
    streams: Vec<StreamState>,
    v: Vec<f32>,
    h: Vec<f32>,
    /// `vW` for the states `bits_v`.
    vw: Vec<f32>,
    /// `hWᵀ` for the states `bits_h`.
    hwt: Vec<f32>,
    bits_v: Vec<u64>,
    bits_h: Vec<u64>,
    /// Whether `hwt` belongs to `bits_h` (not after the states were set
    /// from outside; `vw` is recomputed then).
    valid_h: bool,
    scratch: incremental::Scratch,
    /// The intermediate model's hidden and visible biases.
    hb: Vec<f32>,
    vb: Vec<f32>,
    logw: Vec<f64>,
}

impl Run {
    fn new(streams: Vec<StreamState>, d: usize, h: usize) -> Result<Run> {
        let n = streams.len();
        Ok(Run {
            streams,
            v: try_vec(n * d, 0.0, "annealing states")?,
            h: try_vec(n * h, 0.0, "annealing states")?,
            vw: try_vec(n * h, 0.0, "annealing products")?,
            hwt: try_vec(n * d, 0.0, "annealing products")?,
            bits_v: vec![0; n * words_per_row(d)],
            bits_h: vec![0; n * words_per_row(h)],
            valid_h: false,
            scratch: incremental::Scratch::new(d, h),
            hb: vec![0.0; h],
            vb: vec![0.0; d],
            logw: vec![0.0; n],
        })
    }

    /// The borrowed rows of [`incremental`], the scratch and the two bias
    /// buffers, disjointly.
    fn parts(&mut self) -> (incremental::Rows<'_>, &mut incremental::Scratch, &mut Vec<f32>, &mut Vec<f32>) {
        let Run { streams, v, h, vw, hwt, bits_v, bits_h, scratch, hb, vb, .. } = self;
        let rows = incremental::Rows { v, h, streams, vw, hwt, bits_v, bits_h };
        (rows, scratch, hb, vb)
    }

    /// After `v` was set from outside: `vW` recomputed, `hWᵀ` not trusted.
    fn states_set(&mut self, cx: &Shared<'_>) {
        self.valid_h = false;
        self.update_vw(cx, false, true);
    }

    /// Brings `vW` up to date with `v` (`exact`: recompute it).
    fn update_vw(&mut self, cx: &Shared<'_>, valid: bool, exact: bool) {
        let (mut rows, s, _, _) = self.parts();
        incremental::update_vw(cx.isa, &cx.products, &mut rows, valid, exact, s);
    }

    /// Adds `log p*_{β1}(v) − log p*_{β0}(v)` at the current states to each
    /// chain's log weight (f64 accumulation), `vW` first brought up to date
    /// (`exact`: recomputed).
    fn increment(&mut self, cx: &Shared<'_>, b0: f64, b1: f64, exact: bool) {
        self.update_vw(cx, true, exact);
        let (d, h) = (cx.rbm.n_visible(), cx.rbm.n_hidden());
        let c = cx.rbm.hidden_bias();
        let (b0f, dbf) = (b0 as f32, (b1 - b0) as f32);
        let bits = self.bits_v.chunks(words_per_row(d));
        for ((lw, ph), row) in self.logw.iter_mut().zip(self.vw.chunks(h)).zip(bits) {
            // The visible units that are on, in increasing order.
            let mut t = 0.0f64;
            for (blk, &word) in row.iter().enumerate() {
                let mut m = word;
                while m != 0 {
                    t += cx.bias_diff[blk * 64 + m.trailing_zeros() as usize];
                    m &= m - 1;
                }
            }
            *lw += (b1 - b0) * t + simd::softplus_step_sum(cx.isa, ph, c, b0f, dbf);
        }
    }

    /// One Gibbs sweep `v → h → v` of the intermediate RBM at `β`: weights
    /// `βW`, hidden biases `βc`, visible biases `(1−β)b_A + βb`. It leaves
    /// `p_β` invariant and is reversible with respect to it. `vW` must be
    /// current ([`Self::increment`] leaves it so); `exact`: recompute `hWᵀ`
    /// instead of updating it.
    fn transition(&mut self, cx: &Shared<'_>, beta: f64, exact: bool) {
        let bf = beta as f32;
        let (a, b, c) = (cx.base_bias, cx.rbm.visible_bias(), cx.rbm.hidden_bias());
        let valid = self.valid_h;
        let (mut rows, s, hb, vb) = self.parts();
        for (o, &cj) in hb.iter_mut().zip(c) {
            *o = bf * cj;
        }
        for ((o, &bi), &ai) in vb.iter_mut().zip(b).zip(a) {
            *o = (1.0 - bf) * ai + bf * bi;
        }
        incremental::sweep(cx.isa, &cx.products, &mut rows, bf, hb, vb, valid, exact, s);
        self.valid_h = true;
    }
}

impl<'a> Annealer<'a> {
    /// Chains with these streams (one per chain), split into one run per
    /// thread.
    fn new(rbm: &'a Rbm, base_bias: &'a [f32], streams: Vec<StreamState>) -> Result<Self> {
        let (d, h, m) = (rbm.n_visible(), rbm.n_hidden(), streams.len());
        let isa = simd::active_isa();
        mul_dims("annealing chains × units", m, d.max(h))?;
        let per = m.div_ceil(rayon::current_num_threads().max(1)).max(1);
        let mut runs = Vec::new();
        let mut streams = streams.into_iter();
        for r0 in (0..m).step_by(per) {
            runs.push(Run::new(streams.by_ref().take(per.min(m - r0)).collect(), d, h)?);
        }
        let products = HalfStepProducts::new(isa, rbm.weights(), d, h).with_packed();
        let bias_diff =
            rbm.visible_bias().iter().zip(base_bias).map(|(&b, &a)| b as f64 - a as f64).collect();
        Ok(Annealer { cx: Shared { rbm, base_bias, bias_diff, products, isa }, runs })
    }

    /// Runs `f` on every run, in parallel.
    fn each(&mut self, f: impl Fn(&mut Run, &Shared<'a>) + Sync) {
        let cx = &self.cx;
        self.runs.par_iter_mut().for_each(|r| f(r, cx));
    }

    /// `v ~ p_A`: independent Bernoulli(σ(b_A)).
    fn sample_base(&mut self) {
        self.each(|r, cx| {
            let zeros = vec![0.0f32; r.v.len()];
            let mut bits = Vec::new();
            gibbs::sample_rows_seq(cx.isa, &zeros, cx.base_bias, &mut r.v, &mut r.streams, &mut bits);
            r.states_set(cx);
        });
    }

    /// Sets the states (`m × n_visible`, row-major) by rows.
    fn set_states(&mut self, rows: impl Fn(usize) -> &'a [f32] + Sync) {
        let d = self.cx.rbm.n_visible();
        let mut first = Vec::with_capacity(self.runs.len());
        let mut at = 0;
        for r in &self.runs {
            first.push(at);
            at += r.logw.len();
        }
        let cx = &self.cx;
        self.runs.par_iter_mut().zip(first).for_each(|(r, c0)| {
            for (c, row) in r.v.chunks_mut(d).enumerate() {
                row.copy_from_slice(rows(c0 + c));
            }
            r.states_set(cx);
        });
    }

    /// Every chain's log weight, in chain order.
    fn log_weights(&self) -> Vec<f64> {
        self.runs.iter().flat_map(|r| r.logw.iter().copied()).collect()
    }
}

/// How often (in annealing steps) the progress callback is called.
const PROGRESS_EVERY: usize = 100;

/// Runs AIS from the base-rate model with visible biases `base_bias` to
/// `rbm`.
///
/// # Errors
/// [`Error::InvalidParam`] for no runs, a schedule that does not rise from 0
/// to 1, or wrong-length / non-finite base biases.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, eval::{self, AisConfig}};
/// let rbm = Rbm::random(12, 8, 0.5, 0.2, 1).unwrap();
/// let base = vec![0.0f32; 12];
/// let config = AisConfig::default().runs(50).schedule(eval::linear_schedule(2000)).seed(1);
/// let est = eval::ais(&rbm, &base, &config).unwrap();
/// let exact = eval::log_partition_exact(&rbm).unwrap();
/// assert!((est.log_z - exact).abs() < 0.1);
/// ```
pub fn ais(rbm: &Rbm, base_bias: &[f32], config: &AisConfig) -> Result<AisEstimate> {
    ais_with_progress(rbm, base_bias, config, &|_| {})
}

/// [`ais`] calling `progress` with the number of distributions passed
/// (`schedule.len() − 1` in all).
///
/// # Errors
/// As [`ais`].
pub fn ais_with_progress(
    rbm: &Rbm,
    base_bias: &[f32],
    config: &AisConfig,
    progress: Progress<'_>,
) -> Result<AisEstimate> {
    check_ais(rbm, base_bias, config)?;
    let logw = ais_log_weights(rbm, base_bias, config, 0..config.runs, progress)?;
    Ok(summarize(log_z_base(rbm, base_bias), logw))
}

/// Checks what [`ais`] checks.
pub(crate) fn check_ais(rbm: &Rbm, base_bias: &[f32], config: &AisConfig) -> Result<()> {
    if config.runs == 0 {
        return Err(Error::InvalidParam { name: "runs", reason: "need at least one AIS run".into() });
    }
    check_schedule(&config.schedule)?;
    check_base(rbm, base_bias)
}

/// The log importance weights of the runs `runs` of [`ais`] (their streams
/// are those of one process's runs; each run's weight depends only on its
/// stream, so a share of the runs gives the bits the whole would). Checked
/// by [`check_ais`] first.
pub(crate) fn ais_log_weights(
    rbm: &Rbm,
    base_bias: &[f32],
    config: &AisConfig,
    runs: std::ops::Range<usize>,
    progress: Progress<'_>,
) -> Result<Vec<f64>> {
    let s = &config.schedule;
    let streams = rng::chain_streams_range(config.seed, runs.start, runs.len())?;
    let mut a = Annealer::new(rbm, base_bias, streams)?;
    a.sample_base();
    let last = s.len() - 1;
    // Segments of PROGRESS_EVERY steps, each one parallel region.
    for k0 in (1..=last).step_by(PROGRESS_EVERY) {
        let k1 = (k0 + PROGRESS_EVERY - 1).min(last);
        a.each(|r, cx| {
            for k in k0..=k1 {
                let exact = k.is_multiple_of(EXACT_EVERY);
                r.increment(cx, s[k - 1], s[k], exact);
                if k < last {
                    r.transition(cx, s[k], exact);
                }
            }
        });
        if k1.is_multiple_of(PROGRESS_EVERY) {
            progress(k1 as u64);
        }
    }
    progress(last as u64);
    Ok(a.log_weights())
}

/// Options of [`raise`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct RaiseConfig {
    /// Reverse chains per example (default 1). With `r > 1` an example's
    /// estimate is `log mean(w)` over its `r` chains: a tighter bound.
    pub runs_per_example: usize,
    /// Increasing βs from 0 to 1 (default [`default_schedule`]); the chains
    /// walk it from 1 down to 0.
    pub schedule: Vec<f64>,
    /// Seed of the chains' streams.
    pub seed: u64,
}

setters!(RaiseConfig {
    runs_per_example: usize,
    schedule: Vec<f64>,
    seed: u64,
});

impl Default for RaiseConfig {
    fn default() -> Self {
        RaiseConfig { runs_per_example: 1, schedule: default_schedule(), seed: 0 }
    }
}

/// A RAISE estimate: stochastic lower bounds on the examples'
/// log-probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct RaiseEstimate {
    /// Each example's estimate `log p̂(v)` (its expectation is at most
    /// `log p_ann(v)`).
    pub log_probs: Vec<f64>,
    /// Their mean: the conservative estimate of the average log-probability.
    pub mean: f64,
    /// Standard error of the mean over examples (`sd/√n`; 0 for one example).
    pub std_err: f64,
    /// Each example's implied estimate of `log Z`, `−F(v) − log p̂(v)`
    /// (reverse AIS from data: too high in expectation when the examples
    /// come from the model). Their spread, unlike that of `log_probs`, does
    /// not include the spread of the examples' free energies, so
    /// `mean ± sd/√n` of these is the precise way to compare with a forward
    /// `log Ẑ`.
    pub log_z: Vec<f64>,
}

/// Chains processed together by [`raise`] (bounds its scratch memory).
const RAISE_BLOCK: usize = 1024;

/// Reverse annealing (RAISE; Burda, Grosse & Salakhutdinov, "Accurate and
/// Conservative Estimates of MRF Log-likelihood using Reverse Annealing",
/// AISTATS 2015): a stochastic **lower** bound on each example's
/// log-probability, to set beside the forward AIS estimate, which tends to
/// be too high.
///
/// The forward annealing chain of [`ais`] — `v₀ ~ p_A`, then one Gibbs
/// transition `T_k` at each `β_k`, `k = 1 … K` (the last at `β = 1`) — is
/// itself a normalized generative model `p_ann(v_K)`. Started at a data
/// point `v_K = v` and run backwards (`v_{k−1} ~ T_k(·|v_k)`, which is the
/// exact reversal because each Gibbs sweep is reversible with respect to its
/// `p_β`), the importance weight
///
/// `w = p_A(v₀) · Π_{k=1..K} p*_{β_k}(v_k) / p*_{β_k}(v_{k−1})`
///
/// has `E[w] = p_ann(v)` exactly, so `E[log w] ≤ log p_ann(v)`. As the
/// schedule lengthens `p_ann → p`, and the bound rises to `log p(v)` from
/// below while forward AIS comes down from above: the two bracket the true
/// value. The cost is one chain of `K` sweeps per example (and per run).
///
/// Blocks of chains are independent, each chain has its own stream, and the
/// result does not depend on the thread count.
///
/// # Errors
/// [`Error::InvalidParam`] for zero runs, an empty data set, a bad schedule
/// or base biases; [`Error::ShapeMismatch`] for data of the wrong width;
/// [`Error::NotBinary`] for non-binary data.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, data::Dataset, eval::{self, RaiseConfig}};
/// let rbm = Rbm::random(10, 6, 0.5, 0.2, 1).unwrap();
/// let data = Dataset::new((0..40).map(|i| ((i * 7 % 3) == 0) as u8 as f32).collect(), 10).unwrap();
/// let config = RaiseConfig::default().runs_per_example(4).schedule(eval::linear_schedule(500)).seed(2);
/// let est = eval::raise(&rbm, &vec![0.0; 10], &data, &config).unwrap();
/// let exact = eval::average_log_prob(&rbm, &data, eval::log_partition_exact(&rbm).unwrap()).unwrap();
/// assert!(est.mean < exact + 3.0 * est.std_err && est.mean > exact - 0.5);
/// ```
pub fn raise(rbm: &Rbm, base_bias: &[f32], data: &Dataset, config: &RaiseConfig) -> Result<RaiseEstimate> {
    raise_with_progress(rbm, base_bias, data, config, &|_| {})
}

/// [`raise`] calling `progress` with the number of chain-steps done so far
/// (`examples × runs_per_example × (schedule.len() − 1)` in all).
///
/// # Errors
/// As [`raise`].
pub fn raise_with_progress(
    rbm: &Rbm,
    base_bias: &[f32],
    data: &Dataset,
    config: &RaiseConfig,
    progress: Progress<'_>,
) -> Result<RaiseEstimate> {
    check_raise(rbm, base_bias, data, config)?;
    let (_, log_probs, log_z) = raise_examples(rbm, base_bias, data, config, &|ex| 0..ex, progress)?;
    Ok(raise_summary(log_probs, log_z))
}

/// The per-example estimates of [`raise`] (the examples' indices, `log p̂`,
/// implied `log Z`) for this process's share of each block of examples: `share(ex)` is the
/// range, within a block of `ex` examples, that this process anneals (all
/// of it in one process). Every example's chains have the streams, and
/// give the bits, they have in one process. Checked as [`raise`] checks first.
pub(crate) fn raise_examples(
    rbm: &Rbm,
    base_bias: &[f32],
    data: &Dataset,
    config: &RaiseConfig,
    share: &dyn Fn(usize) -> std::ops::Range<usize>,
    progress: Progress<'_>,
) -> Result<(Vec<usize>, Vec<f64>, Vec<f64>)> {
    let (r, s) = (config.runs_per_example, &config.schedule);
    let n = data.len();
    mul_dims("RAISE chains", n, r)?;
    let lz_a = log_z_base(rbm, base_bias);
    let per_block = raise_block(r);
    let (mut index, mut log_probs, mut log_z) = (Vec::new(), Vec::new(), Vec::new());
    let mut done = 0u64;
    for block in (0..n).step_by(per_block) {
        let mine = share(per_block.min(n - block));
        let (first, ex) = (block + mine.start, mine.len());
        let m = ex * r;
        let st = rng::chain_streams_range(config.seed, first * r, m)?;
        let mut a = Annealer::new(rbm, base_bias, st)?;
        a.set_states(|c| data.row(first + c / r));
        // v_{k−1} ~ T_k(·|v_k), then add log p*_{β_k} − log p*_{β_{k−1}} at
        // v_{k−1}; in segments down to multiples of PROGRESS_EVERY.
        let mut hi = s.len() - 1;
        while hi >= 1 {
            let lo = (hi / PROGRESS_EVERY * PROGRESS_EVERY).max(1);
            a.each(|run, cx| {
                for k in (lo..=hi).rev() {
                    let exact = k.is_multiple_of(EXACT_EVERY);
                    run.transition(cx, s[k], exact);
                    run.increment(cx, s[k - 1], s[k], exact);
                }
            });
            if lo.is_multiple_of(PROGRESS_EVERY) {
                progress(done + (s.len() - lo) as u64 * m as u64);
            }
            hi = lo - 1;
        }
        done += (s.len() - 1) as u64 * m as u64;
        progress(done);
        // log w = log p*_K(v) − (log Z_A + Σ increments): the increments
        // estimate log(Z/Z_A) from above.
        let logw = a.log_weights();
        for e in 0..ex {
            let neg_f = -rbm.free_energy(data.row(first + e))?;
            let lme = log_mean_exp_neg(&logw[e * r..(e + 1) * r]);
            index.push(first + e);
            log_probs.push(neg_f - lz_a + lme);
            log_z.push(lz_a - lme);
        }
    }
    Ok((index, log_probs, log_z))
}

/// Checks what [`raise`] checks.
pub(crate) fn check_raise(rbm: &Rbm, base_bias: &[f32], data: &Dataset, config: &RaiseConfig) -> Result<()> {
    if config.runs_per_example == 0 {
        return Err(Error::InvalidParam { name: "runs_per_example", reason: "need at least one".into() });
    }
    check_schedule(&config.schedule)?;
    check_base(rbm, base_bias)?;
    let d = rbm.n_visible();
    if data.dim() != d {
        return Err(Error::ShapeMismatch {
            what: "data features (model n_visible)",
            expected: d,
            got: data.dim(),
        });
    }
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    data.check_binary()
}

/// Examples per block of [`raise`] at `r` runs per example.
fn raise_block(r: usize) -> usize {
    (RAISE_BLOCK / r.max(1)).max(1)
}

/// `log mean exp(−x)` over one example's reverse chains (computed relative to
/// the smallest `x`): the example's `log w` from its chains' accumulated
/// increments.
pub(crate) fn log_mean_exp_neg(x: &[f64]) -> f64 {
    let mn = x.iter().cloned().fold(f64::INFINITY, f64::min);
    -mn + (x.iter().map(|&v| (mn - v).exp()).sum::<f64>() / x.len() as f64).ln()
}

/// Mean and standard error of the per-example estimates, in example order.
pub(crate) fn raise_summary(log_probs: Vec<f64>, log_z: Vec<f64>) -> RaiseEstimate {
    let n = log_probs.len();
    let nf = n as f64;
    let mean = log_probs.iter().sum::<f64>() / nf;
    let std_err = if n > 1 {
        (log_probs.iter().map(|&x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt() / nf.sqrt()
    } else {
        0.0
    };
    RaiseEstimate { log_probs, mean, std_err, log_z }
}

pub(crate) fn summarize(log_z_base: f64, log_weights: Vec<f64>) -> AisEstimate {
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
        log_std_err: at(sd / m.sqrt()),
        log_z_base,
        log_weights,
    }
}
