//! Langevin-type samplers over many chains of `x ∈ ℝᵈ`, for any
//! [`Energy`] (or, for annealed Langevin, any [`NoiseConditionalScore`]).
//!
//! * **Unadjusted Langevin** (ULA): `x ← x − (ε/2)∇E(x) + √ε·ξ`,
//!   [`LangevinConfig::ula`]. Its stationary law differs from `exp(−E)` by
//!   `O(ε)` (for `E = x²/(2s²)` the variance is `s²/(1 − ε/(4s²))`).
//! * **Du & Mordatch (2019)**: the same update with the drift step and the
//!   noise scale chosen separately (`x ← x − (λ/2)∇E + ω·ξ`), each gradient
//!   element clipped to `[−c, c]` and the states clamped to the data range
//!   ([`LangevinConfig`]'s `grad_clip`, `clamp`).
//! * **MALA** (Roberts & Tweedie 1996): the ULA move as a proposal `y`,
//!   accepted with probability
//!   `min(1, exp(E(x) − E(y)) · q(x | y) / q(y | x))`,
//!   `q(y | x) = N(y; x − (ε/2)∇E(x), ε I)`; exact for any `ε`
//!   ([`LangevinChains::run_mala`] reports the acceptance rate).
//! * **Annealed Langevin** (Song & Ermon 2019, Algorithm 1): for a noise
//!   schedule `σ₁ > … > σ_L` and step `αᵢ = ε·σᵢ²/σ_L²`, `T` steps
//!   `x ← x + (αᵢ/2)·s(x, σᵢ) + √αᵢ·ξ` at each level, `s` a
//!   noise-conditional score ([`LangevinChains::run_annealed`]).
//!
//! Each chain owns a random stream (as the Gibbs chains do), normals come
//! from [`rng::fill_normal`], and each chain's update depends only on its
//! own row, so results are the same for any thread count.
//!
//! **Non-finite values**: a chain whose energy, gradient or new state is not
//! finite is stopped at its last finite state and recorded
//! ([`LangevinChains::failures`]: chain, step, what); the other chains go
//! on untouched. Callers decide whether a failure is an error
//! ([`LangevinChains::check_failures`]).

use crate::energy::{Energy, Workspace};
pub use crate::energy::{EnergyScore, NoiseConditionalScore};
use crate::error::{Error, Result};
use crate::kernels::{check_len, mul_dims};
use crate::rng::{self, StreamState};
use rayon::prelude::*;

/// Settings of the (unadjusted) Langevin update
/// `x ← clamp(x − (step/2)·clip(∇E(x)) + noise·ξ)`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LangevinConfig {
    /// `ε` (or Du & Mordatch's `λ`): the drift is `−(step/2)∇E`.
    pub step: f32,
    /// Standard deviation of the added noise (`√ε` for ULA).
    pub noise: f32,
    /// Clip each gradient element to `[−c, c]` (Du & Mordatch use 0.01).
    pub grad_clip: Option<f32>,
    /// Clamp the states to `[lo, hi]` after each step (e.g. the data range).
    pub clamp: Option<(f32, f32)>,
}

setters!(LangevinConfig {
    step: f32,
    noise: f32,
    grad_clip: Option<f32>,
    clamp: Option<(f32, f32)>,
});

impl LangevinConfig {
    /// Plain unadjusted Langevin with step `ε`: noise `√ε`, no clipping or
    /// clamping.
    pub fn ula(step: f32) -> Self {
        LangevinConfig { step, noise: step.max(0.0).sqrt(), grad_clip: None, clamp: None }
    }

    /// Checks the settings: `step > 0`, `noise ≥ 0`, a positive clip, a
    /// finite clamp range with `lo < hi`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the bad setting.
    pub fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidParam { name: "langevin settings", reason });
        if !(self.step.is_finite() && self.step > 0.0) {
            return bad(format!("step {} must be > 0", self.step));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return bad(format!("noise {} must be ≥ 0", self.noise));
        }
        if let Some(c) = self.grad_clip.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return bad(format!("grad_clip {c} must be > 0"));
        }
        if let Some((lo, hi)) = self.clamp.filter(|(lo, hi)| !(lo.is_finite() && hi.is_finite() && lo < hi)) {
            return bad(format!("clamp [{lo}, {hi}] must be finite with lo < hi"));
        }
        Ok(())
    }
}

/// Settings of the Metropolis-adjusted Langevin algorithm
/// ([`LangevinChains::run_mala`]): the step `ε` of the proposal
/// `y = x − (ε/2)∇E(x) + √ε·ξ`. No clipping or clamping — either would break
/// the exactness of the Metropolis–Hastings correction.
///
/// # Examples
/// ```
/// use boltzmann::sampler::langevin::MalaConfig;
/// assert_eq!(MalaConfig::new(0.1).step, 0.1);
/// assert!(MalaConfig::new(0.0).check().is_err());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MalaConfig {
    /// `ε`: the proposal's drift is `−(ε/2)∇E`, its noise `√ε`.
    pub step: f32,
}

setters!(MalaConfig { step: f32 });

impl MalaConfig {
    /// MALA with step `ε`.
    pub fn new(step: f32) -> Self {
        MalaConfig { step }
    }

    /// Checks that `ε` is finite and positive.
    ///
    /// # Errors
    /// [`Error::InvalidParam`].
    pub fn check(&self) -> Result<()> {
        LangevinConfig::ula(self.step).check()
    }
}

/// The geometric schedule `σ₁ = first > … > σ_L = last` of `levels` levels
/// (Song & Ermon use 1 → 0.01 over 10 levels).
///
/// # Errors
/// [`Error::InvalidParam`] unless `first > last > 0` and `levels ≥ 2`.
pub fn geometric_schedule(first: f32, last: f32, levels: usize) -> Result<Vec<f32>> {
    if !(first.is_finite() && last > 0.0 && first > last && levels >= 2) {
        return Err(Error::InvalidParam {
            name: "noise schedule",
            reason: format!("need σ₁ = {first} > σ_L = {last} > 0 and ≥ 2 levels (got {levels})"),
        });
    }
    let r = (last as f64 / first as f64).ln() / (levels - 1) as f64;
    Ok((0..levels).map(|i| (first as f64 * (r * i as f64).exp()) as f32).collect())
}

/// Settings of annealed Langevin dynamics.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct AnnealedConfig {
    /// Noise levels, strictly decreasing and positive.
    pub sigmas: Vec<f32>,
    /// `ε`: the step at level `i` is `ε·σᵢ²/σ_L²`.
    pub step: f32,
    /// Steps per level `T`.
    pub steps_per_level: usize,
    /// Clamp the states to `[lo, hi]` after each step.
    pub clamp: Option<(f32, f32)>,
}

impl AnnealedConfig {
    /// `steps_per_level` steps at each of the noise levels `sigmas` with
    /// base step `step`, no clamping.
    pub fn new(sigmas: Vec<f32>, step: f32, steps_per_level: usize) -> AnnealedConfig {
        AnnealedConfig { sigmas, step, steps_per_level, clamp: None }
    }
}

setters!(AnnealedConfig {
    sigmas: Vec<f32>,
    step: f32,
    steps_per_level: usize,
    clamp: Option<(f32, f32)>,
});

/// Why a chain was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFailure {
    /// The chain.
    pub chain: usize,
    /// The step (counted over the chains' lifetime, from 0) at which it
    /// happened.
    pub step: u64,
    /// What was not finite: `"energy"`, `"gradient"`, `"score"` or `"state"`.
    pub what: &'static str,
}

/// MALA acceptance statistics of one [`LangevinChains::run_mala`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct MalaReport {
    /// Accepted proposals over all live chains and steps.
    pub accepted: u64,
    /// Proposals made.
    pub proposed: u64,
    /// Accepted proposals per chain.
    pub accepted_per_chain: Vec<u32>,
}

impl MalaReport {
    /// `accepted / proposed` (0 when nothing was proposed).
    pub fn rate(&self) -> f64 {
        if self.proposed == 0 { 0.0 } else { self.accepted as f64 / self.proposed as f64 }
    }
}

/// `n` chains in `ℝᵈ` with their random streams.
///
/// # Examples
/// ```
/// use boltzmann::energy::Gaussian;
/// use boltzmann::sampler::langevin::{LangevinChains, MalaConfig};
/// let target = Gaussian::isotropic(vec![2.0, -1.0], 1.0)?;
/// let mut chains = LangevinChains::uniform(500, 2, -3.0, 3.0, 7)?;
/// let report = chains.run_mala(&target, &MalaConfig::new(0.5), 200)?;
/// assert!(report.rate() > 0.5);
/// let mean0 = chains.states().chunks(2).map(|x| x[0] as f64).sum::<f64>() / 500.0;
/// assert!((mean0 - 2.0).abs() < 0.2);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LangevinChains {
    d: usize,
    x: Vec<f32>,
    streams: Vec<StreamState>,
    alive: Vec<bool>,
    failures: Vec<ChainFailure>,
    step: u64,
    grad: Vec<f32>,
    noise: Vec<f32>,
    ws: Workspace,
}

/// Chains per parallel block of the element-wise updates.
const BLOCK: usize = 32;

impl LangevinChains {
    /// Chains started at the rows of `init` (`n × d`), streams from `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `d = 0` or no rows,
    /// [`Error::ShapeMismatch`], [`Error::NonFinite`] start values.
    pub fn new(d: usize, init: Vec<f32>, seed: u64) -> Result<Self> {
        Self::with_streams(d, init, |n| rng::chain_streams(seed, n))
    }

    /// [`LangevinChains::new`] with the streams `streams(n)` for `n` chains.
    fn with_streams(
        d: usize,
        init: Vec<f32>,
        streams: impl FnOnce(usize) -> Result<Vec<StreamState>>,
    ) -> Result<Self> {
        if d == 0 || init.is_empty() {
            return Err(Error::InvalidParam {
                name: "chains",
                reason: "need d ≥ 1 and at least one chain".into(),
            });
        }
        let n = init.len() / d;
        check_len("start states (chains × d)", mul_dims("start states", n, d)?, init.len())?;
        if let Some(i) = init.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "start states", index: i });
        }
        Ok(LangevinChains {
            d,
            x: init,
            streams: streams(n)?,
            alive: vec![true; n],
            failures: Vec::new(),
            step: 0,
            grad: Vec::new(),
            noise: Vec::new(),
            ws: Workspace::default(),
        })
    }

    /// Chains from parts you keep: states (`n × d`, finite), one stream per
    /// chain (from [`rng::chain_streams`], or your own generator), and the
    /// steps done so far — what [`LangevinChains::into_parts`] gives back.
    /// Every chain starts alive.
    ///
    /// # Errors
    /// As [`LangevinChains::new`]; [`Error::ShapeMismatch`] unless there is
    /// one stream per chain; [`Error::InvalidParam`] for an all-zero stream
    /// state.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::{rng, sampler::langevin::LangevinChains};
    /// let mut a = LangevinChains::from_parts(2, vec![0.0; 2 * 4], rng::chain_streams(7, 4)?, 0)?;
    /// assert_eq!(a.len(), 4);
    /// let (x, streams, steps) = a.into_parts();
    /// assert_eq!((x.len(), streams.len(), steps), (8, 4, 0));
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn from_parts(d: usize, states: Vec<f32>, streams: Vec<StreamState>, steps: u64) -> Result<Self> {
        let mut c = Self::with_streams(d, states, |n| {
            check_len("streams (one per chain)", n, streams.len())?;
            rng::check_streams(&streams)?;
            Ok(streams)
        })?;
        c.step = steps;
        Ok(c)
    }

    /// The parts [`LangevinChains::from_parts`] takes: states (`n × d`),
    /// streams and the steps done. Which chains failed is not kept.
    pub fn into_parts(self) -> (Vec<f32>, Vec<StreamState>, u64) {
        (self.x, self.streams, self.step)
    }

    /// `n` chains started uniformly in `[lo, hi]ᵈ` (from their own streams).
    ///
    /// # Errors
    /// As [`LangevinChains::new`], and for `lo ≥ hi`.
    pub fn uniform(n: usize, d: usize, lo: f32, hi: f32, seed: u64) -> Result<Self> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::InvalidParam { name: "start range", reason: format!("[{lo}, {hi}]") });
        }
        let mut x = crate::alloc::try_vec(mul_dims("chains", n, d)?, 0.0f32, "chains")?;
        let mut st = rng::chain_streams(rng::derive(seed, rng::Purpose::LangevinStarts), n)?;
        rng::fill_uniform(&mut st, d, &mut x)?;
        x.iter_mut().for_each(|u| *u = lo + (hi - lo) * *u);
        Self::new(d, x, seed)
    }

    /// Number of chains.
    pub fn len(&self) -> usize {
        self.alive.len()
    }

    /// Whether there are no chains (never true: construction needs one).
    pub fn is_empty(&self) -> bool {
        self.alive.is_empty()
    }

    /// The dimension `d`.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// The states, `n × d`.
    pub fn states(&self) -> &[f32] {
        &self.x
    }

    /// Steps run so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Chains stopped for non-finite values, in the order they failed.
    pub fn failures(&self) -> &[ChainFailure] {
        &self.failures
    }

    /// Which chains are still running.
    pub fn alive(&self) -> &[bool] {
        &self.alive
    }

    /// An error naming the first failed chain, if any.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first failed chain, its step and
    /// what was not finite, and the number of failures.
    pub fn check_failures(&self) -> Result<()> {
        match self.failures.first() {
            None => Ok(()),
            Some(f) => Err(Error::InvalidParam {
                name: "chains",
                reason: format!(
                    "{} chain(s) stopped on non-finite values; first: chain {} at step {} ({})",
                    self.failures.len(),
                    f.chain,
                    f.step,
                    f.what
                ),
            }),
        }
    }

    fn check_dim(&self, d: usize) -> Result<()> {
        if d != self.d {
            return Err(Error::ShapeMismatch {
                what: "energy dimension (chain dimension)",
                expected: self.d,
                got: d,
            });
        }
        Ok(())
    }

    fn buffers(&mut self) -> Result<()> {
        let len = self.x.len();
        if self.grad.len() != len {
            self.grad = crate::alloc::try_vec(len, 0.0f32, "gradients")?;
            self.noise = crate::alloc::try_vec(len, 0.0f32, "noise")?;
        }
        Ok(())
    }

    /// Marks chains whose row of `v` has a non-finite value as failed.
    fn stop_non_finite(&mut self, v: &[f32], what: &'static str) {
        let d = self.d;
        let bad: Vec<usize> = v
            .par_chunks(d)
            .enumerate()
            .filter(|(c, row)| self.alive[*c] && row.iter().any(|x| !x.is_finite()))
            .map(|(c, _)| c)
            .collect();
        for c in bad {
            self.alive[c] = false;
            self.failures.push(ChainFailure { chain: c, step: self.step, what });
        }
    }

    /// `steps` Langevin steps with `config` on `energy`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad settings, [`Error::ShapeMismatch`] if
    /// the energy's dimension is not the chains'.
    pub fn run(&mut self, energy: &impl Energy, config: &LangevinConfig, steps: usize) -> Result<()> {
        config.check()?;
        self.check_dim(energy.dim())?;
        self.buffers()?;
        for _ in 0..steps {
            energy.grad(&self.x, &mut self.grad, &mut self.ws)?;
            let grad = std::mem::take(&mut self.grad);
            self.stop_non_finite(&grad, "gradient");
            self.grad = grad;
            self.update(-0.5 * config.step, config.noise, config.grad_clip, config.clamp)?;
        }
        Ok(())
    }

    /// `x ← clamp(x + a·clip(g) + noise·ξ)` on live chains (`g` = the
    /// gradient buffer); a chain whose new state would not be finite keeps
    /// its old one and is stopped.
    fn update(&mut self, a: f32, noise: f32, clip: Option<f32>, clamp: Option<(f32, f32)>) -> Result<()> {
        let d = self.d;
        let (x, g, z, st, alive) = (&mut self.x, &self.grad, &mut self.noise, &mut self.streams, &self.alive);
        let failed: Vec<Vec<usize>> = x
            .par_chunks_mut(BLOCK * d)
            .zip(g.par_chunks(BLOCK * d))
            .zip(z.par_chunks_mut(BLOCK * d))
            .zip(st.par_chunks_mut(BLOCK))
            .zip(alive.par_chunks(BLOCK))
            .enumerate()
            .map(|(blk, ((((x, g), z), st), alive))| -> Result<Vec<usize>> {
                rng::fill_normal(st, d, z)?;
                let mut failed = Vec::new();
                for (k, (((x, g), z), &live)) in x
                    .chunks_exact_mut(d)
                    .zip(g.chunks_exact(d))
                    .zip(z.chunks_exact_mut(d))
                    .zip(alive)
                    .enumerate()
                {
                    if !live {
                        continue;
                    }
                    // The new state is built in the noise row, then kept
                    // only if finite.
                    match clip {
                        None => {
                            for ((z, &x), &g) in z.iter_mut().zip(x.iter()).zip(g) {
                                *z = x + a * g + noise * *z;
                            }
                        }
                        Some(c) => {
                            for ((z, &x), &g) in z.iter_mut().zip(x.iter()).zip(g) {
                                *z = x + a * g.clamp(-c, c) + noise * *z;
                            }
                        }
                    }
                    if let Some((lo, hi)) = clamp {
                        z.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
                    }
                    if z.iter().all(|v| v.is_finite()) {
                        x.copy_from_slice(z);
                    } else {
                        failed.push(blk * BLOCK + k);
                    }
                }
                Ok(failed)
            })
            .collect::<Result<_>>()?;
        for c in failed.into_iter().flatten() {
            self.alive[c] = false;
            self.failures.push(ChainFailure { chain: c, step: self.step, what: "state" });
        }
        self.step += 1;
        Ok(())
    }

    /// `steps` MALA steps with `config` on `energy` (the same shape as
    /// [`Self::run`]).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `ε ≤ 0`, [`Error::ShapeMismatch`] if the
    /// energy's dimension is not the chains'.
    pub fn run_mala(
        &mut self,
        energy: &impl Energy,
        config: &MalaConfig,
        steps: usize,
    ) -> Result<MalaReport> {
        config.check()?;
        let step = config.step;
        self.check_dim(energy.dim())?;
        self.buffers()?;
        let (n, d) = (self.len(), self.d);
        let mut e_x = vec![0.0f64; n];
        energy.energy_grad(&self.x, &mut e_x, &mut self.grad, &mut self.ws)?;
        self.stop_energy_grad(&e_x);
        let mut y = crate::alloc::try_vec(self.x.len(), 0.0f32, "proposals")?;
        let mut g_y = crate::alloc::try_vec(self.x.len(), 0.0f32, "proposal gradients")?;
        let mut e_y = vec![0.0f64; n];
        let mut u = vec![0.0f32; n];
        let mut acc = vec![0u32; n];
        let (half, sd) = (0.5 * step, step.sqrt());
        let mut report = MalaReport { accepted: 0, proposed: 0, accepted_per_chain: Vec::new() };
        for _ in 0..steps {
            // Proposals y = x − (ε/2)∇E(x) + √ε ξ.
            {
                let (x, g, z, st) = (&self.x, &self.grad, &mut self.noise, &mut self.streams);
                y.par_chunks_mut(BLOCK * d)
                    .zip(x.par_chunks(BLOCK * d))
                    .zip(g.par_chunks(BLOCK * d))
                    .zip(z.par_chunks_mut(BLOCK * d))
                    .zip(st.par_chunks_mut(BLOCK))
                    .try_for_each(|((((y, x), g), z), st)| -> Result<()> {
                        rng::fill_normal(st, d, z)?;
                        for (((y, &x), &g), &z) in y.iter_mut().zip(x).zip(g).zip(z.iter()) {
                            *y = x - half * g + sd * z;
                        }
                        Ok(())
                    })?;
            }
            energy.energy_grad(&y, &mut e_y, &mut g_y, &mut self.ws)?;
            rng::fill_uniform(&mut self.streams, 1, &mut u)?;
            let inv = 1.0 / (2.0 * step as f64);
            let alive = &self.alive;
            let decisions: Vec<u8> = (0..n)
                .into_par_iter()
                .map(|c| {
                    if !alive[c] {
                        return 0;
                    }
                    let (xr, yr) = (&self.x[c * d..(c + 1) * d], &y[c * d..(c + 1) * d]);
                    let (gx, gy) = (&self.grad[c * d..(c + 1) * d], &g_y[c * d..(c + 1) * d]);
                    if !e_y[c].is_finite() || gy.iter().any(|v| !v.is_finite()) {
                        return 2;
                    }
                    // log q(x | y) − log q(y | x).
                    let mut fwd = 0.0f64;
                    let mut back = 0.0f64;
                    for i in 0..d {
                        let a = yr[i] as f64 - xr[i] as f64 + half as f64 * gx[i] as f64;
                        let b = xr[i] as f64 - yr[i] as f64 + half as f64 * gy[i] as f64;
                        fwd += a * a;
                        back += b * b;
                    }
                    let log_alpha = e_x[c] - e_y[c] + (fwd - back) * inv;
                    u8::from((u[c] as f64).ln() < log_alpha)
                })
                .collect();
            for (c, &dec) in decisions.iter().enumerate() {
                match dec {
                    1 => {
                        self.x[c * d..(c + 1) * d].copy_from_slice(&y[c * d..(c + 1) * d]);
                        self.grad[c * d..(c + 1) * d].copy_from_slice(&g_y[c * d..(c + 1) * d]);
                        e_x[c] = e_y[c];
                        acc[c] += 1;
                        report.accepted += 1;
                        report.proposed += 1;
                    }
                    2 => {
                        self.alive[c] = false;
                        let what = if e_y[c].is_finite() { "gradient" } else { "energy" };
                        self.failures.push(ChainFailure { chain: c, step: self.step, what });
                    }
                    _ if self.alive[c] => report.proposed += 1,
                    _ => {}
                }
            }
            self.step += 1;
        }
        report.accepted_per_chain = acc;
        Ok(report)
    }

    fn stop_energy_grad(&mut self, e: &[f64]) {
        for (c, &v) in e.iter().enumerate() {
            if self.alive[c] && !v.is_finite() {
                self.alive[c] = false;
                self.failures.push(ChainFailure { chain: c, step: self.step, what: "energy" });
            }
        }
        let g = std::mem::take(&mut self.grad);
        self.stop_non_finite(&g, "gradient");
        self.grad = g;
    }

    /// Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1) with the
    /// noise-conditional score `score`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a schedule that is not strictly
    /// decreasing and positive, `ε ≤ 0`, no steps;
    /// [`Error::ShapeMismatch`] for a score of another dimension.
    pub fn run_annealed(
        &mut self,
        score: &impl NoiseConditionalScore,
        config: &AnnealedConfig,
    ) -> Result<()> {
        let s = &config.sigmas;
        let ok =
            !s.is_empty() && s.iter().all(|v| v.is_finite() && *v > 0.0) && s.windows(2).all(|w| w[0] > w[1]);
        if !ok {
            return Err(Error::InvalidParam {
                name: "noise schedule",
                reason: format!("{s:?} must be positive and strictly decreasing"),
            });
        }
        if config.steps_per_level == 0 {
            return Err(Error::InvalidParam { name: "steps_per_level", reason: "must be ≥ 1".into() });
        }
        LangevinConfig { clamp: config.clamp, ..LangevinConfig::ula(config.step) }.check()?;
        self.check_dim(score.dim())?;
        self.buffers()?;
        let last = *s.last().expect("non-empty");
        for &sigma in s {
            let alpha = config.step * (sigma / last).powi(2);
            for _ in 0..config.steps_per_level {
                score.score(&self.x, sigma, &mut self.grad, &mut self.ws)?;
                let g = std::mem::take(&mut self.grad);
                self.stop_non_finite(&g, "score");
                self.grad = g;
                self.update(0.5 * alpha, alpha.sqrt(), None, config.clamp)?;
            }
        }
        Ok(())
    }
}
