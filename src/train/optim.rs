//! Optimizer settings and steps shared by the trainers.
//!
//! [`Optim`] holds what every mini-batch trainer of this crate is told the
//! same way — learning rate, its schedule over the epochs, L2 weight decay,
//! batch size, epochs — and is embedded as `optim` in each trainer's
//! configuration ([`TrainConfig`](super::TrainConfig),
//! [`GaussianTrainConfig`](super::gaussian::GaussianTrainConfig),
//! [`LabelledConfig`](super::labelled::LabelledConfig),
//! [`SoftmaxConfig`](super::softmax::SoftmaxConfig),
//! [`ConvTrainConfig`](super::conv::ConvTrainConfig)); the configurations'
//! own `learning_rate(..)`, `schedule(..)`, `l2(..)`, `batch_size(..)` and
//! `epochs(..)` setters write into it. Momentum stays with each trainer:
//! the RBM trainer's [`Optimizer`](super::Optimizer) also offers Adam and a
//! momentum switch.
//!
//! The steps have one sign convention: every step *ascends* the
//! log-likelihood (or descends a loss through the negated gradient),
//! `v ← μv + lr·a`, `θ ← θ + v` for momentum SGD.
//!
//! The RBM trainer ([`super::Trainer`]) fuses its SGD and Adam steps into
//! per-row loops with the weight-decay, sparsity and centering terms, in
//! f32 with subnormals flushed (its optimizer state lives in checkpoints);
//! the smaller trainers use the helpers here.

use super::config::Schedule;
use crate::error::{Error, Result};

/// The optimisation settings every mini-batch trainer shares (see the
/// [module documentation](self)). Each configuration's `Default` chooses
/// its own values; built alone, [`Optim::default`] is a learning rate of
/// 0.05 held constant, L2 1e-4, batches of 100, 10 epochs.
///
/// # Examples
/// ```
/// use boltzmann::train::{Optim, Schedule, TrainConfig};
/// use boltzmann::train::labelled::LabelledConfig;
/// // One set of settings for two trainers.
/// let o = Optim::default().learning_rate(0.02).epochs(40).schedule(Schedule::Linear { final_lr: 2e-4 });
/// let rbm = TrainConfig::default().optim(o);
/// let top = LabelledConfig::default().optim(o);
/// assert_eq!(rbm.optim, top.optim);
/// assert!((rbm.optim.rate(39) - 2e-4).abs() < 1e-8);
/// // The configurations' own setters write into it.
/// assert_eq!(TrainConfig::default().batch_size(20).optim.batch_size, 20);
/// assert!(Optim::default().learning_rate(-1.0).check().is_err());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Optim {
    /// Learning rate of the first epoch (finite, > 0).
    pub learning_rate: f32,
    /// How the rate changes over the epochs (see [`Schedule::at`]).
    pub schedule: Schedule,
    /// L2 weight decay on the weights (finite, ≥ 0).
    pub l2: f32,
    /// Examples per update (≥ 1); the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// Passes over the data (≥ 1).
    pub epochs: usize,
}

setters!(Optim { learning_rate: f32, schedule: Schedule, l2: f32, batch_size: usize, epochs: usize });

impl Default for Optim {
    fn default() -> Self {
        Optim::new(0.05, Schedule::Constant, 1e-4, 100, 10)
    }
}

impl Optim {
    /// Every setting, in the order of the fields.
    pub const fn new(
        learning_rate: f32,
        schedule: Schedule,
        l2: f32,
        batch_size: usize,
        epochs: usize,
    ) -> Optim {
        Optim { learning_rate, schedule, l2, batch_size, epochs }
    }

    /// The learning rate of epoch `e` (from 0).
    pub fn rate(&self, e: usize) -> f32 {
        self.schedule.at(self.learning_rate, e, self.epochs)
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad one (`learning_rate`,
    /// the schedule's own setting, `l2`, `batch_size`, `epochs`).
    pub fn check(&self) -> Result<()> {
        let bad = |name: &'static str, reason: String| Err(Error::InvalidParam { name, reason });
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", format!("must be finite and > 0, got {}", self.learning_rate));
        }
        self.schedule.check()?;
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad("l2", format!("must be finite and ≥ 0, got {}", self.l2));
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be ≥ 1".into());
        }
        if self.epochs == 0 {
            return bad("epochs", "must be ≥ 1".into());
        }
        Ok(())
    }
}

/// One momentum-SGD step of a parameter `p` with velocity `v` along the
/// ascent direction `ascent`: `v ← μv + lr·ascent`, `p ← p + v`.
#[inline(always)]
pub(crate) fn momentum_step(p: &mut f32, v: &mut f32, mu: f32, lr: f32, ascent: f32) {
    *v = mu * *v + lr * ascent;
    *p += *v;
}

/// Adam (Kingma & Ba 2015) in f64 over flat parameters, descending the
/// gradient `g` of a loss: `m ← β₁m + a₁g`, `v ← β₂v + a₂g²`,
/// `θ ← θ − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Adam64 {
    b1: f64,
    a1: f64,
    b2: f64,
    a2: f64,
    eps: f64,
    lr: f64,
}

impl Adam64 {
    /// The usual coefficients `a₁ = 1 − β₁`, `a₂ = 1 − β₂`, ε = 1e-8.
    pub(crate) fn new(beta1: f64, beta2: f64, lr: f64) -> Adam64 {
        Adam64 { b1: beta1, a1: 1.0 - beta1, b2: beta2, a2: 1.0 - beta2, eps: 1e-8, lr }
    }

    /// β₁ = 0.9, β₂ = 0.999 with the coefficients written as the decimal
    /// literals 0.1 and 0.001 (not `1 − β`, which differ in the last bit),
    /// as the score-matching trainer has always used them.
    pub(crate) fn literal_defaults(lr: f64) -> Adam64 {
        Adam64 { b1: 0.9, a1: 0.1, b2: 0.999, a2: 0.001, eps: 1e-8, lr }
    }

    /// Step `t` (from 1) over every parameter.
    pub(crate) fn step(&self, t: i32, p: &mut [f32], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        let (c1, c2) = (1.0 - self.b1.powi(t), 1.0 - self.b2.powi(t));
        for ((p, &gv), (m, v)) in p.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut())) {
            *m = self.b1 * *m + self.a1 * gv;
            *v = self.b2 * *v + self.a2 * gv * gv;
            *p -= (self.lr * (*m / c1) / ((*v / c2).sqrt() + self.eps)) as f32;
        }
    }
}
