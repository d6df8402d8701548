//! Maximum-likelihood training of a continuous energy model with Langevin
//! negatives and a replay buffer (Du & Mordatch 2019, "Implicit Generation
//! and Generalization in Energy-Based Models", Algorithm 1).
//!
//! Each iteration: a batch `x⁺` of data; `B` negative chains, each started
//! from a random entry of the replay buffer with probability
//! `1 − reinit` (0.95) and from uniform noise otherwise; `K` Langevin steps
//! `x ← clamp(x − (λ/2)·clip(∇E(x)) + ω·ξ)`; the loss
//! `mean E(x⁺) − mean E(x⁻) + α (mean E(x⁺)² + mean E(x⁻)²)` (the
//! regulariser keeps energies near 0); one Adam step on `θ`; the
//! negatives go into the buffer (a ring of bounded capacity). Positive
//! batches, buffer draws and restarts come from one generator and each
//! iteration's chains from their own streams, so training gives the same
//! parameters for any thread count.

use crate::data::Dataset;
use crate::energy::{TrainableEnergy, Workspace};
use crate::error::{Error, Result};
use crate::rng;
use crate::sampler::langevin::{LangevinChains, LangevinConfig};
use rand_core::Rng;
use std::time::Instant;

/// Settings of [`train_ebm`] (defaults: Du & Mordatch's, except the step
/// sizes, which suit data of unit scale such as the 2-D toy sets).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct EbmConfig {
    /// Data rows and negative chains per iteration (default 128).
    pub batch_size: usize,
    /// Langevin steps per iteration `K` (default 60).
    pub langevin_steps: usize,
    /// Langevin settings: drift step `λ`, noise `ω`, gradient clipping,
    /// clamping (default: step 0.02, noise 0.02·… see [`Default`]).
    pub langevin: LangevinConfig,
    /// Replay-buffer capacity in samples (default 10,000).
    pub buffer_capacity: usize,
    /// Probability that a chain starts from noise instead of the buffer
    /// (default 0.05).
    pub reinit: f32,
    /// Range of the uniform noise that chains start from (default
    /// `(−1, 1)`; set it to the data range).
    pub init_range: (f32, f32),
    /// Weight `α` of the energy-magnitude regulariser (default 1.0).
    pub alpha: f32,
    /// Adam learning rate (default 1e-3).
    pub learning_rate: f32,
    /// Adam `β₁`, `β₂` (default 0.0, 0.999 as in Du & Mordatch).
    pub betas: (f32, f32),
    /// Iterations (parameter updates, default 1,000).
    pub iterations: usize,
    /// Seed.
    pub seed: u64,
}

setters!(EbmConfig {
    batch_size: usize,
    langevin_steps: usize,
    langevin: LangevinConfig,
    buffer_capacity: usize,
    reinit: f32,
    init_range: (f32, f32),
    alpha: f32,
    learning_rate: f32,
    betas: (f32, f32),
    iterations: usize,
    seed: u64,
});

impl Default for EbmConfig {
    fn default() -> Self {
        EbmConfig {
            batch_size: 128,
            langevin_steps: 60,
            langevin: LangevinConfig { step: 0.02, noise: 0.02, grad_clip: Some(1.0), clamp: None },
            buffer_capacity: 10_000,
            reinit: 0.05,
            init_range: (-1.0, 1.0),
            alpha: 1.0,
            learning_rate: 1e-3,
            betas: (0.0, 0.999),
            iterations: 1000,
            seed: 0,
        }
    }
}

/// One iteration's numbers, passed to the callback.
#[derive(Debug, Clone, PartialEq)]
pub struct EbmReport {
    /// Iteration (from 1).
    pub iteration: usize,
    /// The loss (with the regulariser).
    pub loss: f64,
    /// Mean energy of the data batch.
    pub energy_data: f64,
    /// Mean energy of the negatives.
    pub energy_model: f64,
    /// Samples in the replay buffer.
    pub buffer_len: usize,
    /// Seconds since training started.
    pub seconds: f64,
}

/// A ring buffer of past negative samples, `capacity × d` floats at most.
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    d: usize,
    capacity: usize,
    data: Vec<f32>,
    next: usize,
}

impl ReplayBuffer {
    /// An empty buffer of `capacity` rows of `d`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a zero size, [`Error::TooLarge`].
    pub fn new(d: usize, capacity: usize) -> Result<Self> {
        if d == 0 || capacity == 0 {
            return Err(Error::InvalidParam {
                name: "buffer",
                reason: "capacity and dimension must be ≥ 1".into(),
            });
        }
        crate::alloc::check_bytes("replay buffer", capacity as u128 * d as u128, 4)?;
        Ok(ReplayBuffer { d, capacity, data: Vec::new(), next: 0 })
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.data.len() / self.d
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// Adds rows, overwriting the oldest once full.
    pub fn push(&mut self, rows: &[f32]) {
        for r in rows.chunks_exact(self.d) {
            if self.len() < self.capacity {
                self.data.extend_from_slice(r);
            } else {
                self.data[self.next * self.d..(self.next + 1) * self.d].copy_from_slice(r);
                self.next = (self.next + 1) % self.capacity;
            }
        }
    }
}

fn bad(name: &'static str, reason: String) -> Error {
    Error::InvalidParam { name, reason }
}

fn check(c: &EbmConfig) -> Result<()> {
    if c.batch_size == 0 || c.langevin_steps == 0 || c.iterations == 0 {
        return Err(bad("batch_size / langevin_steps / iterations", "must be ≥ 1".into()));
    }
    if !(0.0..=1.0).contains(&c.reinit) {
        return Err(bad("reinit", format!("{} is not a probability", c.reinit)));
    }
    let (lo, hi) = c.init_range;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(bad("init_range", format!("[{lo}, {hi}]")));
    }
    if !(c.alpha.is_finite() && c.alpha >= 0.0) {
        return Err(bad("alpha", format!("{} must be finite and ≥ 0", c.alpha)));
    }
    if !(c.learning_rate.is_finite() && c.learning_rate > 0.0) {
        return Err(bad("learning_rate", format!("{} must be finite and > 0", c.learning_rate)));
    }
    if !((0.0..1.0).contains(&c.betas.0) && (0.0..1.0).contains(&c.betas.1)) {
        return Err(bad("betas", format!("{:?} must both be in [0, 1)", c.betas)));
    }
    Ok(())
}

/// Trains `energy` on the rows of `data` (module docs), calling
/// `on_iteration` after every update.
///
/// # Errors
/// [`Error::InvalidParam`] for bad settings or an empty data set,
/// [`Error::ShapeMismatch`] for data of another dimension,
/// [`Error::NonFinite`] for non-finite data, [`Error::Diverged`] when the
/// loss or the parameters stop being finite.
///
/// # Examples
/// ```
/// use boltzmann::data::Toy2d;
/// use boltzmann::energy::{Activation, MlpEnergy};
/// use boltzmann::train::ebm::{EbmConfig, train_ebm};
/// let data = Toy2d::Mixture8.sample(512, 1)?;
/// let mut e = MlpEnergy::new(2, &[32, 32], Activation::Swish, 2)?;
/// let cfg = EbmConfig::default().iterations(5).langevin_steps(10).batch_size(32).init_range((-6.0, 6.0));
/// train_ebm(&mut e, &data, &cfg, |r| assert!(r.loss.is_finite()))?;
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_ebm<E: TrainableEnergy>(
    energy: &mut E,
    data: &Dataset,
    config: &EbmConfig,
    mut on_iteration: impl FnMut(&EbmReport),
) -> Result<ReplayBuffer> {
    check(config)?;
    let d = energy.dim();
    if data.dim() != d {
        return Err(Error::ShapeMismatch {
            what: "data features (energy dimension)",
            expected: d,
            got: data.dim(),
        });
    }
    if data.is_empty() {
        return Err(bad("data", "no examples".into()));
    }
    if let Some(i) = data.features().iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "data", index: i });
    }
    config.langevin.check()?;
    let c = config;
    let b = c.batch_size;
    // Positives and negatives, chain starts: 3 · b · d floats per iteration.
    crate::alloc::check_bytes("EBM batch (3 × batch × features)", 3 * b as u128 * d as u128, 4)?;
    let mut buffer = ReplayBuffer::new(d, c.buffer_capacity)?;
    let mut g = rng::to_generator(rng::chain_streams(rng::derive(c.seed, rng::Purpose::EbmTraining), 1)?[0]);
    let uniform =
        |g: &mut rand_xoshiro::Xoshiro256PlusPlus| (g.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
    let np = energy.n_params();
    let (mut m1, mut m2) = (vec![0.0f64; np], vec![0.0f64; np]);
    let adam = super::optim::Adam64::new(c.betas.0 as f64, c.betas.1 as f64, c.learning_rate as f64);
    let mut grad = vec![0.0f64; np];
    let mut ws = Workspace::default();
    let mut both = vec![0.0f32; 2 * b * d];
    let mut e = vec![0.0f64; 2 * b];
    let mut coef = vec![0.0f32; 2 * b];
    let t0 = Instant::now();
    let (lo, hi) = c.init_range;
    for it in 0..c.iterations {
        // Positives, and chain starts: buffer or noise.
        for r in 0..b {
            let i = (g.next_u64() % data.len() as u64) as usize;
            both[r * d..(r + 1) * d].copy_from_slice(data.row(i));
        }
        let mut init = vec![0.0f32; b * d];
        for row in init.chunks_exact_mut(d) {
            if !buffer.is_empty() && uniform(&mut g) >= c.reinit {
                let j = (g.next_u64() % buffer.len() as u64) as usize;
                row.copy_from_slice(buffer.row(j));
            } else {
                row.iter_mut().for_each(|v| *v = lo + (hi - lo) * uniform(&mut g));
            }
        }
        let mut chains = LangevinChains::new(d, init, c.seed.wrapping_add(1 + it as u64))?;
        chains.run(energy, &c.langevin, c.langevin_steps)?;
        both[b * d..].copy_from_slice(chains.states());
        energy.energy(&both, &mut e, &mut ws)?;
        let (ep, en) = e.split_at(b);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mp, mn) = (mean(ep), mean(en));
        let sq = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        let alpha = c.alpha as f64;
        let loss = mp - mn + alpha * (sq(ep) + sq(en));
        if !loss.is_finite() {
            return Err(Error::Diverged {
                epoch: 0,
                step: it as u64,
                reason: format!("loss {loss} (lower the learning rate or the Langevin step)"),
            });
        }
        // ∂loss/∂E(x⁺ᵣ) = (1 + 2αE)/B, ∂loss/∂E(x⁻ᵣ) = (−1 + 2αE)/B.
        for (k, (cf, &ev)) in coef.iter_mut().zip(e.iter()).enumerate() {
            let sign = if k < b { 1.0 } else { -1.0 };
            *cf = ((sign + 2.0 * alpha * ev) / b as f64) as f32;
        }
        grad.iter_mut().for_each(|v| *v = 0.0);
        energy.add_param_grad(&both, &coef, &mut grad, &mut ws)?;
        // Adam.
        let mut p = energy.params();
        adam.step((it + 1) as i32, &mut p, &grad, &mut m1, &mut m2);
        if let Some(i) = p.iter().position(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                epoch: 0,
                step: it as u64,
                reason: format!("parameter {i} is not finite"),
            });
        }
        energy.set_params(&p)?;
        buffer.push(chains.states());
        on_iteration(&EbmReport {
            iteration: it + 1,
            loss,
            energy_data: mp,
            energy_model: mn,
            buffer_len: buffer.len(),
            seconds: t0.elapsed().as_secs_f64(),
        });
    }
    Ok(buffer)
}
