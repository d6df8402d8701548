//! Training configuration with documented defaults.

use super::optim::Optim;
use crate::error::{Error, Result};

/// How the negative (model) statistics are estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Algorithm {
    /// Contrastive divergence CD-k (Hinton 2002): chains restart at the
    /// mini-batch every update and run `k` full sweeps.
    Cd {
        /// Gibbs sweeps per update (≥ 1).
        k: usize,
    },
    /// Persistent contrastive divergence (Tieleman 2008): `chains` chains
    /// persist across updates (their number independent of the batch size)
    /// and advance `k` sweeps per update.
    Pcd {
        /// Gibbs sweeps per update (≥ 1).
        k: usize,
        /// Number of persistent chains (≥ 1).
        chains: usize,
    },
    /// PCD with parallel tempering in the negative phase (Desjardins et al.
    /// 2010; Cho, Raiko & Ilin 2010): each of the `chains` persistent chains
    /// has `replicas` copies on a geometric inverse-temperature ladder from
    /// `beta_min` to 1; every sweep is followed by neighbour swaps, and the
    /// statistics come from the β = 1 copies. See
    /// [`crate::sampler::TemperedChains`].
    Pt {
        /// Gibbs sweeps (each followed by a swap round) per update (≥ 1).
        k: usize,
        /// Number of persistent chains at β = 1 (≥ 1).
        chains: usize,
        /// Temperatures per chain, including β = 1 (≥ 2).
        replicas: usize,
        /// The lowest inverse temperature, in (0, 1).
        beta_min: f32,
    },
}

/// Centering (Montavon & Müller 2012; Melchior, Fischer & Wiskott 2016): the
/// gradient is taken in the parameterisation
/// `E(v,h) = −(v−μ)ᵀb′ − c′ᵀ(h−λ) − (v−μ)ᵀW(h−λ)` with the visible offsets
/// `μ` = the data mean and the hidden offsets `λ` a sliding average of the
/// data's hidden probabilities, `λ ← (1−ν)λ + ν·mean p(h|v⁺)`. The model
/// keeps its plain parameters (`b = b′ − Wλ`, `c = c′ − Wᵀμ`), so a centered
/// model is an ordinary RBM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Centering {
    /// The sliding-average rate `ν` of the hidden offsets, in (0, 1]
    /// (default 0.01, as in Melchior et al.).
    pub hidden_rate: f32,
}

impl Default for Centering {
    fn default() -> Self {
        Centering { hidden_rate: 0.01 }
    }
}

/// Fast weights (Tieleman & Hinton, ICML 2009, "FPCD"): a second set of
/// parameters `θ_f`, updated with the same gradient at their own learning
/// rate and shrunk by `decay` after every update, `θ_f ← decay·θ_f +
/// lr_f·∇`; the persistent chains sample from `θ + θ_f`, everything else
/// uses `θ`. They push the chains away from the modes they have just
/// visited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastWeights {
    /// Learning rate of the fast parameters (> 0; the paper: e.g. the
    /// regular rate at the start, held constant).
    pub learning_rate: f32,
    /// Shrink factor per update, in [0, 1) (the paper: 19/20).
    pub decay: f32,
}

/// Parameter averaging: an exponential moving average of the parameters,
/// `θ̄ ← decay·θ̄ + (1 − decay)·θ` after every update from epoch
/// `from_epoch` on (`θ̄ = θ` at the first), kept beside the parameters the
/// chains and gradients use. The averaged model is what training returns
/// ([`crate::train::Trainer::into_rbm`]) and what `boltzmann train` saves.
/// Iterate averaging (Polyak & Juditsky 1992) smooths the noise of the
/// stochastic gradient; for RBMs it was studied by Swersky, Chen, Marlin &
/// de Freitas ("A tutorial on stochastic approximation algorithms for
/// training restricted Boltzmann machines and deep belief nets", ITA 2010).
/// Measured on MNIST in docs/results.md.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Averaging {
    /// Weight of the old average per update, in (0, 1) (e.g. 0.999: an
    /// average over ≈ 1,000 updates).
    pub decay: f32,
    /// The epoch (from 0) whose first update starts the average.
    pub from_epoch: usize,
}

/// The parameter update rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// SGD with momentum `initial` for the first `switch_epoch` epochs, then
    /// `final_` (Hinton's guide §9: 0.5 then 0.9).
    Sgd {
        /// Momentum before `switch_epoch`.
        initial: f32,
        /// Momentum from `switch_epoch` on.
        final_: f32,
        /// Epoch at which the momentum switches.
        switch_epoch: usize,
    },
    /// Adam (Kingma & Ba 2015) on the log-likelihood gradient.
    Adam {
        /// First-moment decay (0.9).
        beta1: f32,
        /// Second-moment decay (0.999).
        beta2: f32,
        /// Denominator offset (1e-8).
        eps: f32,
    },
}

/// Learning-rate schedule over epochs (`e` counts from 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// `lr` throughout.
    Constant,
    /// `lr · decay^e`.
    Exponential {
        /// Factor per epoch, in (0, 1].
        decay: f32,
    },
    /// Linear from `lr` at epoch 0 to `final_lr` at the last epoch.
    Linear {
        /// Learning rate of the last epoch.
        final_lr: f32,
    },
    /// `lr / (1 + e / scale)`: halved after `scale` epochs (the softmax
    /// read-out's schedule, with `scale` 10).
    InverseTime {
        /// Epochs until the rate is halved; finite, > 0.
        scale: f32,
    },
}

impl Schedule {
    /// The rate of epoch `e` (from 0) of `epochs`, starting from `lr`.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::train::Schedule;
    /// let s = Schedule::Linear { final_lr: 0.01 };
    /// assert_eq!(s.at(0.1, 0, 10), 0.1);
    /// assert!((s.at(0.1, 9, 10) - 0.01).abs() < 1e-7);
    /// assert_eq!(Schedule::Constant.at(0.1, 5, 10), 0.1);
    /// assert_eq!(Schedule::InverseTime { scale: 10.0 }.at(0.1, 10, 30), 0.05);
    /// ```
    pub fn at(&self, lr: f32, e: usize, epochs: usize) -> f32 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Exponential { decay } => lr * decay.powi(e as i32),
            Schedule::Linear { final_lr } => {
                if epochs <= 1 {
                    lr
                } else {
                    let t = (e.min(epochs - 1)) as f32 / (epochs - 1) as f32;
                    lr + t * (final_lr - lr)
                }
            }
            Schedule::InverseTime { scale } => lr / (1.0 + e as f32 / scale),
        }
    }

    /// Checks the schedule's own setting: an exponential decay in (0, 1],
    /// a final rate finite and ≥ 0, an inverse-time scale finite and > 0.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming it.
    pub fn check(&self) -> Result<()> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Exponential { decay } if decay > 0.0 && decay <= 1.0 => Ok(()),
            Schedule::Exponential { decay } => {
                Err(bad("lr decay", format!("must be in (0, 1], got {decay}")))
            }
            Schedule::Linear { final_lr } if final_lr.is_finite() && final_lr >= 0.0 => Ok(()),
            Schedule::Linear { final_lr } => {
                Err(bad("final learning rate", format!("must be finite and ≥ 0, got {final_lr}")))
            }
            Schedule::InverseTime { scale } if scale.is_finite() && scale > 0.0 => Ok(()),
            Schedule::InverseTime { scale } => {
                Err(bad("lr schedule scale", format!("must be finite and > 0, got {scale}")))
            }
        }
    }
}

/// Hidden-unit sparsity target (Hinton's guide §11): a running average `q`
/// of each hidden unit's activation (`q ← decay·q + (1−decay)·mean p(h|v)`)
/// is pulled toward `target` by adding `cost·(target − q)` to the hidden
/// bias gradient and `cost·(target − q)·mean(v)` to its weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sparsity {
    /// Desired mean activation (e.g. 0.05).
    pub target: f32,
    /// Penalty weight (e.g. 0.01).
    pub cost: f32,
    /// Decay of the running average (e.g. 0.95).
    pub decay: f32,
}

/// Everything that defines a training run; `TrainConfig::default()` gives
/// the defaults named on each field. They are short and quick; for a good
/// 784×500 model on MNIST, use what `boltzmann train` defaults to (measured
/// in docs/results.md, "Learning well"): `epochs: 100`,
/// `algorithm: Algorithm::Pcd { k: 1, chains: 200 }`,
/// `schedule: Schedule::Linear { final_lr: 5e-4 }`, `l2: 2e-4`, and
/// optionally `centering: Some(Centering::default())`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Hidden units (default: 500).
    pub n_hidden: usize,
    /// CD-k or PCD (default: PCD, k = 1, 100 chains).
    pub algorithm: Algorithm,
    /// Learning rate, its schedule, L2 weight decay (weights only), batch
    /// size and epochs (default: [`Optim::default`] — 0.05 constant, L2
    /// 1e-4, batches of 100, 10 epochs; use a rate of ≈ 1e-3 with Adam).
    /// The last batch of an epoch may be smaller.
    pub optim: Optim,
    /// Update rule (default: SGD, momentum 0.5 throughout; Hinton's 0.5 → 0.9
    /// suits CD, but made PCD unstable in our runs, see perf-notes.md).
    pub optimizer: Optimizer,
    /// L1 weight decay (weights only) (default: 0).
    pub l1: f32,
    /// Shuffle the examples every epoch (default: true).
    pub shuffle: bool,
    /// Initial visible biases `log(p/(1−p))` from the data marginals,
    /// `p` clamped to 1e-3 … 1 − 1e-3 (default: true); otherwise 0.
    pub visible_bias_from_data: bool,
    /// Standard deviation of the initial weights, N(0, σ²) (default: 0.01).
    pub weight_init_std: f32,
    /// Optional sparsity target (default: none).
    pub sparsity: Option<Sparsity>,
    /// Largest |weight| before training is declared diverged (default: 1e4).
    pub max_weight: f32,
    /// Accept data in [0, 1] — probabilities such as the posterior means of
    /// a DBN layer below — as mean-field values of the binary visible units
    /// in the positive statistics (the chains stay binary), instead of
    /// requiring binary states (default: false: other values are an error).
    /// Binary × dense products are not used then.
    pub probability_data: bool,
    /// With `probability_data`: accept any finite values, not only [0, 1],
    /// as mean-field values of the visible units (default: false). This is
    /// what scikit-learn's `BernoulliRBM` does and what its estimator checks
    /// feed; the units stay binary, so values outside [0, 1] are data the
    /// model cannot match — the Python binding warns about them.
    pub any_real_data: bool,
    /// Centering of the gradient (default: none; see [`Centering`]).
    pub centering: Option<Centering>,
    /// Fast weights for the persistent chains (PCD and PT only; default:
    /// none; see [`FastWeights`]).
    pub fast_weights: Option<FastWeights>,
    /// Parallel tempering only: after every epoch, move the inner
    /// temperatures of the ladder toward equal swap acceptance between
    /// neighbours with this step in (0, 1] (default: none, the geometric
    /// ladder stays; see [`crate::sampler::Tempering::adapt_ladder`]).
    pub ladder_step: Option<f32>,
    /// Parameter averaging (default: none; see [`Averaging`]).
    pub averaging: Option<Averaging>,
    /// Seed of the weights, the shuffles and every chain stream (default: 0).
    pub seed: u64,
}

setters!(TrainConfig {
    n_hidden: usize,
    algorithm: Algorithm,
    optimizer: Optimizer,
    l1: f32,
    shuffle: bool,
    visible_bias_from_data: bool,
    weight_init_std: f32,
    sparsity: Option<Sparsity>,
    max_weight: f32,
    probability_data: bool,
    any_real_data: bool,
    centering: Option<Centering>,
    fast_weights: Option<FastWeights>,
    ladder_step: Option<f32>,
    averaging: Option<Averaging>,
    seed: u64,
});

optim_setters!(TrainConfig);

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            n_hidden: 500,
            algorithm: Algorithm::Pcd { k: 1, chains: 100 },
            optim: Optim::default(),
            optimizer: Optimizer::Sgd { initial: 0.5, final_: 0.5, switch_epoch: 5 },
            l1: 0.0,
            shuffle: true,
            visible_bias_from_data: true,
            weight_init_std: 0.01,
            sparsity: None,
            max_weight: 1e4,
            probability_data: false,
            any_real_data: false,
            centering: None,
            fast_weights: None,
            ladder_step: None,
            averaging: None,
            seed: 0,
        }
    }
}

fn bad(name: &'static str, reason: String) -> Error {
    Error::InvalidParam { name, reason }
}

impl TrainConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        let finite_nonneg = |name: &'static str, x: f32| {
            if x.is_finite() && x >= 0.0 {
                Ok(())
            } else {
                Err(bad(name, format!("must be finite and ≥ 0, got {x}")))
            }
        };
        if self.n_hidden == 0 {
            return Err(bad("n_hidden", "must be ≥ 1".into()));
        }
        self.check_algorithm()?;
        self.check_methods()?;
        self.optim.check()?;
        match self.optimizer {
            Optimizer::Sgd { initial, final_, .. } => {
                for (n, m) in [("momentum", initial), ("final momentum", final_)] {
                    if !(0.0..1.0).contains(&m) {
                        return Err(bad(n, format!("must be in [0, 1), got {m}")));
                    }
                }
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                for (n, b) in [("beta1", beta1), ("beta2", beta2)] {
                    if !(0.0..1.0).contains(&b) {
                        return Err(bad(n, format!("must be in [0, 1), got {b}")));
                    }
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(bad("eps", format!("must be > 0, got {eps}")));
                }
            }
        }
        finite_nonneg("l1", self.l1)?;
        finite_nonneg("weight_init_std", self.weight_init_std)?;
        if let Some(s) = self.sparsity {
            if !(s.target > 0.0 && s.target < 1.0) {
                return Err(bad("sparsity target", format!("must be in (0, 1), got {}", s.target)));
            }
            finite_nonneg("sparsity cost", s.cost)?;
            if !(0.0..1.0).contains(&s.decay) {
                return Err(bad("sparsity decay", format!("must be in [0, 1), got {}", s.decay)));
            }
        }
        if !(self.max_weight.is_finite() && self.max_weight > 0.0) {
            return Err(bad("max_weight", format!("must be finite and > 0, got {}", self.max_weight)));
        }
        Ok(())
    }

    /// The algorithm's own settings (k, chains, the PT ladder).
    fn check_algorithm(&self) -> Result<()> {
        match self.algorithm {
            Algorithm::Cd { k: 0 } => return Err(bad("k", "CD needs k ≥ 1".into())),
            Algorithm::Pcd { k: 0, .. } => return Err(bad("k", "PCD needs k ≥ 1".into())),
            Algorithm::Pcd { chains: 0, .. } => return Err(bad("chains", "PCD needs ≥ 1 chain".into())),
            Algorithm::Pt { k: 0, .. } => return Err(bad("k", "PT needs k ≥ 1".into())),
            Algorithm::Pt { chains: 0, .. } => return Err(bad("chains", "PT needs ≥ 1 chain".into())),
            Algorithm::Pt { replicas, beta_min, .. } => {
                if replicas < 2 {
                    return Err(bad("replicas", format!("PT needs ≥ 2 temperatures, got {replicas}")));
                }
                if !(beta_min > 0.0 && beta_min < 1.0) {
                    return Err(bad("beta_min", format!("must be in (0, 1), got {beta_min}")));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The learning methods on top of the algorithm: centering, ladder
    /// adaptation, fast weights, the data mode, parameter averaging.
    fn check_methods(&self) -> Result<()> {
        if let Some(c) = self.centering
            && !(c.hidden_rate > 0.0 && c.hidden_rate <= 1.0)
        {
            return Err(bad("centering rate", format!("must be in (0, 1], got {}", c.hidden_rate)));
        }
        if let Some(step) = self.ladder_step {
            if !matches!(self.algorithm, Algorithm::Pt { .. }) {
                return Err(bad(
                    "ladder_step",
                    "adapts the ladder of parallel tempering (Algorithm::Pt)".into(),
                ));
            }
            if !(step > 0.0 && step <= 1.0) {
                return Err(bad("ladder_step", format!("must be in (0, 1], got {step}")));
            }
        }
        if let Some(f) = self.fast_weights {
            if matches!(self.algorithm, Algorithm::Cd { .. }) {
                return Err(bad("fast_weights", "need persistent chains (PCD or PT), not CD".into()));
            }
            if !(f.learning_rate.is_finite() && f.learning_rate > 0.0) {
                return Err(bad(
                    "fast learning rate",
                    format!("must be finite and > 0, got {}", f.learning_rate),
                ));
            }
            if !(0.0..1.0).contains(&f.decay) {
                return Err(bad("fast decay", format!("must be in [0, 1), got {}", f.decay)));
            }
        }
        if self.any_real_data && !self.probability_data {
            return Err(bad(
                "any_real_data",
                "applies to probability data (set probability_data too)".into(),
            ));
        }
        if let Some(a) = self.averaging {
            if !(a.decay > 0.0 && a.decay < 1.0) {
                return Err(bad("averaging decay", format!("must be in (0, 1), got {}", a.decay)));
            }
            if a.from_epoch >= self.optim.epochs {
                return Err(bad(
                    "averaging start",
                    format!(
                        "epoch {} is not before the last epoch ({} epochs, counted from 0): the average would never start",
                        a.from_epoch, self.optim.epochs
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Learning rate of epoch `e` (from 0).
    pub fn learning_rate_at(&self, e: usize) -> f32 {
        self.optim.rate(e)
    }

    /// The number of sweeps per update (`k`).
    pub fn k(&self) -> usize {
        match self.algorithm {
            Algorithm::Cd { k } | Algorithm::Pcd { k, .. } | Algorithm::Pt { k, .. } => k,
        }
    }

    /// The number of persistent chains (at β = 1), or the batch size for CD.
    pub fn n_chains(&self) -> usize {
        match self.algorithm {
            Algorithm::Cd { .. } => self.optim.batch_size,
            Algorithm::Pcd { chains, .. } | Algorithm::Pt { chains, .. } => chains,
        }
    }
}
