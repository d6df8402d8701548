//! Parallel tempering (replica exchange) for RBMs.
//!
//! [`TemperedChains`] holds `n` chains, each with one replica at every
//! inverse temperature `β₁ < … < β_K = 1` of a ladder. Replica `r` samples
//!
//! ```text
//! p_β(v, h) ∝ exp(−β E(v, h) − (1 − β) E_A(v)),   E_A(v) = −b_Aᵀv,
//! ```
//!
//! the RBM with weights `βW`, hidden biases `βc` and visible biases
//! `(1−β)b_A + βb` (the same family AIS anneals through; with `b_A = 0`, the
//! default, it is plain `exp(−βE)`). A sweep is one block-Gibbs sweep
//! `v ~ p_β(v|h)`, `h ~ p_β(h|v)` of every replica, followed by a round of
//! swaps between neighbouring temperatures — pairs `(r, r+1)` with `r` even
//! after even sweeps, odd after odd ones (deterministic even/odd, Lingenheil
//! et al. 2009) — each accepted with probability
//! `min(1, exp((β_{r+1} − β_r)(D_{r+1} − D_r)))`, `D = E − E_A`, which keeps
//! the product of the `p_β` invariant (Swendsen & Wang 1986; for RBMs
//! Desjardins et al., AISTATS 2010, and Cho, Raiko & Ilin, IJCNN 2010). The
//! β = 1 replicas are samples of the model.
//!
//! The energies cost nothing extra: the hidden half-step computes
//! `c + Wᵀv` for the current `v`, and `E(v,h) = −bᵀv − hᵀ(c + Wᵀv)`.
//!
//! # Reproducibility
//!
//! Every (replica, chain) row draws from its own stream; the swap decision of
//! pair `(r, r+1)` of chain `c` draws one word from row `(r, c)`'s stream.
//! Products are computed row by row in a fixed order (choosing binary or
//! dense per row, as [`crate::Chains`] does), so the same seed gives the same
//! bits for any thread count.
//!
//! # Diagnostics
//!
//! [`Tempering::swap_rates`] gives the acceptance of each neighbouring
//! pair; [`Tempering::round_trips`] follows each *walker* (a state as it
//! moves up and down the ladder through swaps) and counts its trips from the
//! lowest β to β = 1 and back — the time that measures how well tempering
//! mixes (Katzgraber et al. 2006).

use super::exchange::{self, BlockScratch, Exchange, RowBytes};
use super::{Chains, gibbs};
use crate::error::{Error, Result};
use crate::kernels::activation;
use crate::kernels::gemm::HalfStepProducts;
use crate::model::Rbm;
use crate::simd::Isa;
use rayon::prelude::*;

/// A geometric ladder of `k` inverse temperatures from `beta_min` to 1:
/// `β_r = beta_min^{(k−1−r)/(k−1)}`.
///
/// # Errors
/// [`Error::InvalidParam`] for `k < 2` or `beta_min` outside (0, 1).
///
/// # Examples
/// ```
/// let b = boltzmann::sampler::tempering::geometric_ladder(3, 0.25).unwrap();
/// assert_eq!(b, vec![0.25, 0.5, 1.0]);
/// ```
pub fn geometric_ladder(k: usize, beta_min: f32) -> Result<Vec<f32>> {
    if k < 2 {
        return Err(Error::InvalidParam {
            name: "replicas",
            reason: format!("need ≥ 2 temperatures, got {k}"),
        });
    }
    if !(beta_min > 0.0 && beta_min < 1.0) {
        return Err(Error::InvalidParam {
            name: "beta_min",
            reason: format!("must be in (0, 1), got {beta_min}"),
        });
    }
    let lb = (beta_min as f64).ln();
    Ok((0..k)
        .map(|r| if r + 1 == k { 1.0 } else { (lb * (k - 1 - r) as f64 / (k - 1) as f64).exp() as f32 })
        .collect())
}

/// Checks a ladder: at least two values, strictly increasing, in (0, 1],
/// ending at exactly 1.
///
/// # Errors
/// [`Error::InvalidParam`] saying what is wrong.
pub fn check_ladder(betas: &[f32]) -> Result<()> {
    let bad = |reason: String| Error::InvalidParam { name: "ladder", reason };
    if betas.len() < 2 {
        return Err(bad(format!("needs ≥ 2 inverse temperatures, got {}", betas.len())));
    }
    if let Some(b) = betas.iter().find(|&&b| !(b > 0.0 && b <= 1.0)) {
        return Err(bad(format!("every β must be in (0, 1], got {b}")));
    }
    if let Some(w) = betas.windows(2).find(|w| w[1] <= w[0]) {
        return Err(bad(format!("must increase strictly, got {} then {}", w[0], w[1])));
    }
    if betas[betas.len() - 1] != 1.0 {
        return Err(bad(format!("must end at β = 1, got {}", betas[betas.len() - 1])));
    }
    Ok(())
}

/// `n` chains of an RBM, each with a replica at every temperature of a
/// ladder; see the [module documentation](self). It owns the rows of all
/// replicas (a [`Chains`] of `K·n` chains) and the [`Tempering`] state that
/// sweeps and swaps them.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, sampler::TemperedChains, sampler::tempering::geometric_ladder};
/// let rbm = Rbm::random(20, 10, 0.5, 0.0, 1).unwrap();
/// let mut pt = TemperedChains::new(&rbm, 8, geometric_ladder(4, 0.2).unwrap(), 7).unwrap();
/// pt.sweep(&rbm, 100).unwrap();
/// assert_eq!(pt.visible().len(), 8 * 20);             // the β = 1 replicas
/// let rates = pt.tempering().swap_rates();
/// assert_eq!(rates.len(), 3);                          // one per neighbouring pair
/// assert!(rates.iter().all(|&a| (0.0..=1.0).contains(&a)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TemperedChains {
    rows: Chains,
    t: Tempering,
}

impl TemperedChains {
    /// `n` chains at the temperatures `betas` (checked by [`check_ladder`]),
    /// every replica's visible state uniform at random; row `(r, c)`'s
    /// stream is stream `r·n + c` of [`crate::rng::chain_streams`]`(seed, ·)`.
    ///
    /// # Errors
    /// A bad ladder, `n = 0`, or sizes that do not fit in memory.
    pub fn new(rbm: &Rbm, n: usize, betas: Vec<f32>, seed: u64) -> Result<TemperedChains> {
        check_ladder(&betas)?;
        let total = n.checked_mul(betas.len()).ok_or_else(|| Error::InvalidParam {
            name: "chains",
            reason: "too many chains × replicas".into(),
        })?;
        let rows = Chains::new(rbm, total, seed)?;
        let t = Tempering::new(&rows, n, betas)?;
        Ok(TemperedChains { rows, t })
    }

    /// Sets the base model's visible biases ([`Tempering::set_base`]).
    ///
    /// # Errors
    /// As [`Tempering::set_base`].
    pub fn set_base(&mut self, base_bias: &[f32]) -> Result<()> {
        self.t.set_base(base_bias)
    }
    /// Uses SIMD path `isa` (see [`Chains::set_isa`]).
    ///
    /// # Errors
    /// If this CPU lacks it.
    pub fn set_isa(&mut self, isa: Isa) -> Result<()> {
        self.rows.set_isa(isa)
    }
    /// Starts every replica of chain `c` at row `c` of `visible` (`n × D`,
    /// binary).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NotBinary`].
    pub fn set_visible(&mut self, visible: &[f32]) -> Result<()> {
        let d = self.rows.n_visible();
        crate::kernels::check_len("visible states (chains × n_visible)", visible.len(), self.t.x.n * d)?;
        let all: Vec<f32> = (0..self.t.x.betas.len()).flat_map(|_| visible.iter().copied()).collect();
        self.rows.set_visible(&all)?;
        self.t.pre_valid = false;
        Ok(())
    }
    /// `k` sweeps, each one Gibbs sweep of every replica then one swap round.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `rbm` does not have the chains' sizes.
    pub fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        self.t.sweep(&mut self.rows, rbm, k)
    }
    /// Visible states of the β = 1 replicas (`n × D`).
    pub fn visible(&self) -> &[f32] {
        self.t.replica_visible(&self.rows, self.t.x.betas.len() - 1)
    }
    /// Visible states of replica `r` (0: the hottest).
    ///
    /// # Panics
    /// If `r` is not below the number of temperatures.
    pub fn replica_visible(&self, r: usize) -> &[f32] {
        self.t.replica_visible(&self.rows, r)
    }
    /// The β = 1 replicas' visible states and hidden probabilities (see
    /// [`Tempering::statistics`]).
    ///
    /// # Errors
    /// As [`Tempering::statistics`].
    pub fn statistics(&self, rbm: &Rbm, v: &mut [f32], p: &mut [f32]) -> Result<()> {
        self.t.statistics(&self.rows, rbm, v, p)
    }
    /// All rows (every replica), replica-major, with their streams.
    pub fn rows(&self) -> &Chains {
        &self.rows
    }
    /// The ladder, swap statistics and round trips.
    pub fn tempering(&self) -> &Tempering {
        &self.t
    }
    /// [`Tempering::adapt_ladder`] on this ensemble's counts.
    ///
    /// # Errors
    /// As [`Tempering::adapt_ladder`].
    pub fn adapt_ladder(&mut self, step: f64) -> Result<bool> {
        self.t.adapt_ladder(step)
    }

    /// Clears the swap and round-trip counters.
    pub fn reset_statistics(&mut self) {
        self.t.reset_statistics()
    }
    /// Sweeps done.
    pub fn sweeps_done(&self) -> u64 {
        self.rows.sweeps_done()
    }
}

/// The state of parallel tempering apart from the chain rows themselves:
/// the ladder, the base model, the cached products and energies, and the
/// swap and round-trip statistics. It sweeps a [`Chains`] of `K·n` rows
/// (replica-major) that the caller owns — as the trainer does with the
/// persistent chains of its checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Tempering {
    x: Exchange,
    /// `Wᵀv` (no bias, unscaled) of every row's current `v`; valid when
    /// `pre_valid`.
    pre_h: Vec<f32>,
    pre_valid: bool,
}

impl Tempering {
    /// Tempering of the rows `rows` (`n·K` chains, replica-major: rows
    /// `r·n .. (r+1)·n` are replica `r`) over the ladder `betas`. The swap
    /// statistics start at 0.
    ///
    /// # Errors
    /// A bad ladder ([`check_ladder`]), or a row count that is not `n·K` with
    /// `n ≥ 1`.
    pub fn new(rows: &Chains, n: usize, betas: Vec<f32>) -> Result<Tempering> {
        check_ladder(&betas)?;
        if n == 0 || rows.batch() != n * betas.len() {
            return Err(Error::ShapeMismatch {
                what: "tempered chain rows (chains × replicas)",
                expected: n.max(1) * betas.len(),
                got: rows.batch(),
            });
        }
        let (d, h, total) = (rows.n_visible(), rows.n_hidden(), rows.batch());
        Ok(Tempering {
            x: Exchange::new(n, betas, d)?,
            pre_h: crate::alloc::try_vec(total * h, 0.0f32, "tempering scratch")?,
            pre_valid: false,
        })
    }

    /// Sets the visible biases `b_A` of the base model at β = 0 (default 0:
    /// plain `exp(−βE)`); e.g. [`crate::eval::base_rate_biases`] of the data,
    /// so that hot replicas sample the data's marginals rather than noise.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a wrong length, [`Error::InvalidParam`]
    /// for non-finite values.
    pub fn set_base(&mut self, base_bias: &[f32]) -> Result<()> {
        self.x.set_base(base_bias)?;
        self.pre_valid = false;
        Ok(())
    }

    /// The ladder.
    pub fn betas(&self) -> &[f32] {
        &self.x.betas
    }
    /// Chains per temperature.
    pub fn n_chains(&self) -> usize {
        self.x.n
    }
    /// The base model's visible biases (see [`Self::set_base`]).
    pub fn base(&self) -> &[f32] {
        &self.x.base
    }

    /// Visible states of replica `r` of `rows`.
    ///
    /// # Panics
    /// If `r` is not below the number of temperatures or `rows` is not the
    /// chains this state was made for.
    pub fn replica_visible<'c>(&self, rows: &'c Chains, r: usize) -> &'c [f32] {
        assert!(r < self.x.betas.len(), "replica {r} of {}", self.x.betas.len());
        let (d, n) = (rows.n_visible(), self.x.n);
        &rows.visible()[r * n * d..(r + 1) * n * d]
    }

    /// Acceptance rate of the swaps between `β_r` and `β_{r+1}`, for each
    /// `r` (NaN before the first attempt).
    pub fn swap_rates(&self) -> Vec<f64> {
        self.x.swap_rates()
    }

    /// Completed round trips (a walker going from the lowest β up to β = 1
    /// and back down) and their mean length in sweeps (NaN if none).
    pub fn round_trips(&self) -> (u64, f64) {
        self.x.round_trips()
    }

    /// Moves the inner inverse temperatures toward equal swap acceptance
    /// between neighbours, from the swap counts since the last
    /// [`reset_statistics`](Self::reset_statistics), keeping both ends
    /// (`β_min` and 1). Model: the rejection "resistance" of a pair,
    /// `ρ_r = −ln Â_r` with `Â_r = (accepted + ½)/(attempted + 1)`, grows as
    /// the square of its gap `g_r = ln β_{r+1} − ln β_r` (Gaussian energy
    /// fluctuations), so the gaps that equalize it are `g_r/√ρ_r`; each gap
    /// moves the fraction `step` of the way there in log scale,
    /// `g_r ← g_r · ρ_r^(−step/2)`, and the gaps are rescaled to span the
    /// same range. This is the feedback of Vousden, Farr & Mandel (MNRAS
    /// 2016) with fixed ends and a closed-form step. Deterministic: the same
    /// counts give the same ladder. Returns `false`, changing nothing, when a
    /// pair has fewer than 20 attempts.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `step` outside (0, 1].
    pub fn adapt_ladder(&mut self, step: f64) -> Result<bool> {
        // The cached `Wᵀv` is unscaled by β, so it stays valid for the new
        // ladder.
        self.x.adapt_ladder(step)
    }

    /// Clears the swap and round-trip counters.
    pub fn reset_statistics(&mut self) {
        self.x.reset_statistics()
    }

    /// `k` sweeps of `rows`, each one Gibbs sweep of every replica then one
    /// swap round.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `rbm` or `rows` do not have this state's
    /// sizes.
    pub fn sweep(&mut self, rows: &mut Chains, rbm: &Rbm, k: usize) -> Result<()> {
        self.check(rows, rbm)?;
        // W (and Wᵀ) packed for binary products once for the k sweeps, when
        // they cover enough chain-sweeps to pay for it (as in Chains::sweep).
        let mut products = HalfStepProducts::new(rows.isa(), rbm.weights(), rbm.n_visible(), rbm.n_hidden());
        if k.saturating_mul(rows.batch()) >= gibbs::BINARY_MIN_CHAIN_SWEEPS {
            products = products.with_packed();
        }
        for _ in 0..k {
            self.sweep_once(rows, rbm, &products);
        }
        Ok(())
    }

    /// The negative statistics of training: the β = 1 replicas' visible
    /// states into `v` (`n × D`) and their hidden probabilities
    /// `p(h|v) = σ(c + Wᵀv)` into `p` (`n × H`). Call after [`Self::sweep`]
    /// with the same `rbm`.
    ///
    /// # Errors
    /// Wrong sizes, or no sweep done yet.
    pub fn statistics(&self, rows: &Chains, rbm: &Rbm, v: &mut [f32], p: &mut [f32]) -> Result<()> {
        self.check(rows, rbm)?;
        let (d, h, n) = (rows.n_visible(), rows.n_hidden(), self.x.n);
        crate::kernels::check_len("statistics visible", v.len(), n * d)?;
        crate::kernels::check_len("statistics probabilities", p.len(), n * h)?;
        if !self.pre_valid {
            return Err(Error::InvalidParam { name: "statistics", reason: "no sweep done yet".into() });
        }
        let top = (self.x.betas.len() - 1) * n;
        v.copy_from_slice(&rows.visible()[top * d..]);
        activation::sigmoid_rows_bias(rows.isa(), &self.pre_h[top * h..], rbm.hidden_bias(), p);
        Ok(())
    }

    fn check(&self, rows: &Chains, rbm: &Rbm) -> Result<()> {
        let total = self.x.n * self.x.betas.len();
        if rows.batch() != total || rows.n_visible() != self.x.base.len() {
            return Err(Error::ShapeMismatch {
                what: "tempered chain rows (chains × replicas)",
                expected: total,
                got: rows.batch(),
            });
        }
        if rbm.n_visible() != rows.n_visible() || rbm.n_hidden() != rows.n_hidden() {
            return Err(Error::ShapeMismatch {
                what: "model sizes (chains' n_visible + n_hidden)",
                expected: rows.n_visible() + rows.n_hidden(),
                got: rbm.n_visible() + rbm.n_hidden(),
            });
        }
        Ok(())
    }

    /// One Gibbs sweep of every replica, then one swap round. Row blocks as
    /// in [`Chains::sweep`]; each block does both half-steps and its rows'
    /// energies while its states are in cache ([`exchange::sweep_rows`]).
    fn sweep_once(&mut self, rows: &mut Chains, rbm: &Rbm, products: &HalfStepProducts<'_>) {
        let (d, h) = (rbm.n_visible(), rbm.n_hidden());
        let isa = rows.isa();
        let terms = self.x.terms(rbm);
        let (v, hs, streams) = rows.parts_mut();
        let br = gibbs::block_rows(streams.len(), d, h, rayon::current_num_threads());
        v.par_chunks_mut(br * d)
            .zip(hs.par_chunks_mut(br * h))
            .zip(streams.par_chunks_mut(br))
            .zip(self.pre_h.par_chunks_mut(br * h))
            .zip(self.x.diff.par_chunks_mut(br))
            .enumerate()
            .for_each_init(BlockScratch::default, |ws, (blk, ((((v, hs), s), pre_h), diff))| {
                exchange::sweep_rows(isa, products, &terms, blk * br, v, hs, s, pre_h, diff, ws)
            });
        self.pre_valid = true;
        rows.add_sweeps(1);
        let sweep = rows.sweeps_done();
        let (v, hs, streams) = rows.parts_mut();
        let bufs = [RowBytes::of(v, d), RowBytes::of(hs, h), RowBytes::of(&mut self.pre_h, h)];
        self.x.swap_round(streams, &bufs, (sweep - 1) % 2 == 1, sweep);
    }
}
