//! The CD-k / PCD trainer.
//!
//! One update on a mini-batch `V⁺` of `m` examples (Hinton's guide;
//! Tieleman 2008 for PCD):
//!
//! 1. positive phase: `P⁺ = p(h|V⁺) = σ(V⁺W + c)` (probabilities, no sampling);
//! 2. negative phase: CD-k starts `m` chains at `V⁺` with `h ~ P⁺` and runs
//!    `k` sweeps; PCD advances its persistent chains `k` sweeps. Each sweep
//!    is `v ~ p(v|h)` then `h ~ p(h|v)`; the statistics are the final binary
//!    `V⁻` and `P⁻ = p(h|V⁻)` (`n` rows: `m` for CD, the chain count for PCD);
//! 3. gradient of the average log-likelihood:
//!    `∇W = V⁺ᵀP⁺/m − V⁻ᵀP⁻/n`, `∇b = mean V⁺ − mean V⁻`,
//!    `∇c = mean P⁺ − mean P⁻` (plus sparsity), computed as one product
//!    `[V⁺; V⁻]ᵀ [P⁺/m; −P⁻/n]`;
//! 4. update: SGD with momentum, `Δ ← μΔ + lr·(∇ − λ₂W − λ₁ sign W)`,
//!    `θ ← θ + Δ`, or Adam; weight decay on weights only;
//! 5. divergence check: every parameter finite and `|w| ≤ max_weight`.
//!
//! The binary states make most products sums of selected rows: on models
//! above the no-packing size, wherever a batch's states are sparse enough
//! ([`crate::kernels::binary::sparse_wins`] on the batch's overall density),
//! `V·W`, the chains' `H·Wᵀ` and the gradient `Vᵀ[P⁺/m; −P⁻/n]` use the
//! binary kernels (the weights are repacked every batch; the gradient is
//! summed 16 rows of `W` at a time and applied at once), and the visible
//! statistics are counts. `BOLTZMANN_DENSE_PRODUCTS=1` keeps every product
//! dense (perf-notes.md compares the two: 1.9× on MNIST digits).
//!
//! The update itself lives in `src/train/update.rs` (one function per step);
//! this file holds the trainer's state, epochs and resume.
//!
//! Every reduction runs in a fixed order (products accumulate over the batch
//! in matrixmultiply's or the binary kernel's fixed order, column sums
//! sequentially), so training is bit-identical for any thread count, and
//! [`Trainer::state`] / [`Trainer::from_state`] resume exactly.

use super::config::{Algorithm, Optimizer, TrainConfig};
use crate::data::{Dataset, Fingerprint, shuffle_indices};
use crate::error::{Error, Result};
use crate::model::Rbm;
use crate::rng::{self, StreamState};
use crate::sampler::Chains;
use crate::sampler::Tempering;
use crate::simd::{self, Isa};
use std::time::Instant;

/// Optimizer state: first moments (momentum velocity or Adam's `m`) and
/// Adam's second moments, for weights, visible and hidden biases.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState {
    /// Velocity / first moment of the weights (`D × H`). At momentum 0 the
    /// SGD step writes it on the last update of each epoch only (no step
    /// reads it then): between epochs it always holds the last step.
    pub m_w: Vec<f32>,
    /// Of the visible biases.
    pub m_b: Vec<f32>,
    /// Of the hidden biases.
    pub m_c: Vec<f32>,
    /// Adam second moments (empty for SGD).
    pub v_w: Vec<f32>,
    /// Adam second moments of the visible biases.
    pub v_b: Vec<f32>,
    /// Adam second moments of the hidden biases.
    pub v_c: Vec<f32>,
    /// Adam step counter.
    pub t: u64,
}

/// Everything needed to continue training exactly (what a checkpoint holds).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    /// The configuration.
    pub config: TrainConfig,
    /// Current parameters.
    pub rbm: Rbm,
    /// Optimizer state.
    pub optimizer: OptimizerState,
    /// Chains: persistent ones for PCD; for CD only their streams matter.
    pub chains: Chains,
    /// Stream that shuffles the examples.
    pub order_stream: StreamState,
    /// Epochs completed.
    pub epoch: usize,
    /// Updates completed.
    pub step: u64,
    /// Running mean activation per hidden unit (sparsity; empty if unused).
    pub sparsity_q: Vec<f32>,
    /// Centering offsets: the visible offsets `μ` (the data mean) and the
    /// hidden offsets `λ` (a sliding average); both empty without centering.
    pub offsets: (Vec<f32>, Vec<f32>),
    /// Fast parameters of FPCD, `[W_f (D×H), b_f (D), c_f (H)]` flat (empty
    /// without fast weights).
    pub fast: Vec<f32>,
    /// Parameter averaging: the averaged parameters `[W̄ (D×H), b̄ (D), c̄
    /// (H)]` flat (empty without averaging; meaningless until
    /// `averaged_updates` > 0).
    pub average: Vec<f32>,
    /// Updates folded into `average` so far.
    pub averaged_updates: u64,
    /// Parallel tempering of the chains (PT only; then `chains` holds every
    /// replica, replica-major).
    pub tempering: Option<Tempering>,
    /// Name of the SIMD path the run started on (results are reproducible
    /// bit for bit on the same path).
    pub isa: String,
    /// The training data the run started on ([`Trainer::resume`] refuses
    /// other data); `None` in checkpoints written before it was recorded.
    pub data: Option<Fingerprint>,
}

/// What an epoch did.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// The epoch just finished (from 0).
    pub epoch: usize,
    /// Updates in it.
    pub updates: usize,
    /// Learning rate used.
    pub learning_rate: f32,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Diagnostics of the persistent chains over the epoch (PCD and PT with
    /// at least 2 chains and 4 updates): each chain's free-energy trace
    /// `F(v⁻)` under the current model, one value per update, gives its
    /// autocorrelation time in updates, effective sample size and the split
    /// R-hat across chains.
    pub chains: Option<crate::eval::ChainDiagnostics>,
    /// Parallel tempering: the swap acceptance of each neighbouring pair of
    /// temperatures over the epoch (empty otherwise).
    pub swap_rates: Vec<f64>,
    /// Parallel tempering: round trips completed over the epoch and their
    /// mean length in sweeps (`(0, NaN)` otherwise).
    pub round_trips: (u64, f64),
}

/// Trains a Bernoulli–Bernoulli RBM by CD-k or PCD.
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::train::{Algorithm, TrainConfig, Trainer};
/// // 40 binary examples of 6 features.
/// let x: Vec<f32> = (0..240).map(|i| ((i * 7 + i / 6) % 3 == 0) as u8 as f32).collect();
/// let data = Dataset::new(x, 6)?;
/// let config = TrainConfig::default()
///     .n_hidden(4)
///     .algorithm(Algorithm::Cd { k: 1 })
///     .batch_size(10)
///     .epochs(3);
/// let mut trainer = Trainer::new(config, &data)?;
/// while !trainer.is_done() {
///     let report = trainer.run_epoch(&data, |_, _| {})?;
///     assert_eq!(report.updates, 4);
/// }
/// let rbm = trainer.into_rbm();
/// assert_eq!(rbm.n_hidden(), 4);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug)]
pub struct Trainer {
    s: TrainState,
    isa: Isa,
    scratch: Option<super::update::Scratch>,
    /// Free energies of the persistent chains, one row of `n` per update of
    /// the current epoch.
    trace: Vec<f64>,
}

/// The model of flat parameters `[W (D×H), b (D), c (H)]` (the layout of
/// [`TrainState::average`] and [`TrainState::fast`]).
///
/// # Errors
/// As [`Rbm::new`]; the caller guarantees the length `D·H + D + H`.
pub(crate) fn flat_rbm(d: usize, h: usize, flat: &[f32]) -> Result<Rbm> {
    let (w, rest) = flat.split_at(d * h);
    let (b, c) = rest.split_at(d);
    Rbm::new(d, h, w.to_vec(), b.to_vec(), c.to_vec())
}

fn logit_clamped(p: f64) -> f32 {
    let p = p.clamp(1e-3, 1.0 - 1e-3);
    (p / (1.0 - p)).ln() as f32
}

impl Trainer {
    /// A fresh run: weights `N(0, σ²)`, visible biases from the data
    /// marginals (if configured), hidden biases 0, streams from the seed.
    ///
    /// # Errors
    /// Invalid configuration ([`Error::InvalidParam`]), non-binary data
    /// ([`Error::NotBinary`]), an empty data set or a batch larger than it
    /// ([`Error::InvalidParam`]), sizes that do not fit in memory.
    pub fn new(config: TrainConfig, data: &Dataset) -> Result<Trainer> {
        config.validate()?;
        check_data(&config, data)?;
        let d = data.dim();
        let mut rbm = Rbm::random(d, config.n_hidden, config.weight_init_std, 0.0, config.seed)?;
        if config.visible_bias_from_data {
            let m = data.marginals();
            let (_, b, _) = rbm.params_mut();
            for (bi, &p) in b.iter_mut().zip(&m) {
                *bi = logit_clamped(p);
            }
        }
        Self::start(config, rbm, data)
    }

    /// A fresh run from given initial parameters (for example a layer tied
    /// to the one below in a DBN); `weight_init_std` and
    /// `visible_bias_from_data` are not used.
    ///
    /// # Errors
    /// As [`Trainer::new`], and [`Error::ShapeMismatch`] if `rbm` does not
    /// have the data's width or `config.n_hidden` hidden units.
    pub fn starting_from(config: TrainConfig, data: &Dataset, rbm: Rbm) -> Result<Trainer> {
        config.validate()?;
        check_data(&config, data)?;
        if rbm.n_visible() != data.dim() {
            return Err(Error::ShapeMismatch {
                what: "initial model n_visible (data features)",
                expected: data.dim(),
                got: rbm.n_visible(),
            });
        }
        if rbm.n_hidden() != config.n_hidden {
            return Err(Error::ShapeMismatch {
                what: "initial model n_hidden (config n_hidden)",
                expected: config.n_hidden,
                got: rbm.n_hidden(),
            });
        }
        Self::start(config, rbm, data)
    }

    fn start(config: TrainConfig, rbm: Rbm, data: &Dataset) -> Result<Trainer> {
        let d = rbm.n_visible();
        let streams_seed = rng::derive(config.seed, rng::Purpose::TrainerChains);
        let replicas = match config.algorithm {
            Algorithm::Pt { replicas, .. } => replicas,
            _ => 1,
        };
        let n_rows = config.n_chains().checked_mul(replicas).ok_or_else(|| Error::InvalidParam {
            name: "chains",
            reason: "chains × replicas overflows".into(),
        })?;
        let mut chains = Chains::new(&rbm, n_rows, streams_seed)?;
        let tempering = match config.algorithm {
            Algorithm::Pt { chains: n, replicas, beta_min, .. } => {
                let mut t = Tempering::new(
                    &chains,
                    n,
                    crate::sampler::tempering::geometric_ladder(replicas, beta_min)?,
                )?;
                t.set_base(&crate::eval::base_rate_biases(data)?)?;
                Some(t)
            }
            _ => None,
        };
        let offsets = if config.centering.is_some() {
            (data.marginals().iter().map(|&p| p as f32).collect(), vec![0.5; config.n_hidden])
        } else {
            (Vec::new(), Vec::new())
        };
        let fast = if config.fast_weights.is_some() {
            crate::alloc::try_vec(d * config.n_hidden + d + config.n_hidden, 0.0f32, "fast weights")?
        } else {
            Vec::new()
        };
        let average = if config.averaging.is_some() {
            crate::alloc::try_vec(d * config.n_hidden + d + config.n_hidden, 0.0f32, "averaged parameters")?
        } else {
            Vec::new()
        };
        let (dh, h) = (d * config.n_hidden, config.n_hidden);
        let adam = matches!(config.optimizer, Optimizer::Adam { .. });
        let zeros = |n: usize| crate::alloc::try_vec(n, 0.0f32, "optimizer state");
        let optimizer = OptimizerState {
            m_w: zeros(dh)?,
            m_b: zeros(d)?,
            m_c: zeros(h)?,
            v_w: if adam { zeros(dh)? } else { Vec::new() },
            v_b: if adam { zeros(d)? } else { Vec::new() },
            v_c: if adam { zeros(h)? } else { Vec::new() },
            t: 0,
        };
        let order_stream = rng::chain_streams(rng::derive(config.seed, rng::Purpose::TrainerOrder), 1)?[0];
        let sparsity_q = if config.sparsity.is_some() { vec![0.0; h] } else { Vec::new() };
        let isa = chains.isa();
        // PCD chains: give them hidden states consistent with their visible
        // ones (the negative phase starts with a visible half-step).
        if matches!(config.algorithm, Algorithm::Pcd { .. } | Algorithm::Pt { .. }) {
            chains.sweep(&rbm, 1)?;
        }
        Ok(Trainer {
            s: TrainState {
                config,
                rbm,
                optimizer,
                chains,
                order_stream,
                epoch: 0,
                step: 0,
                sparsity_q,
                offsets,
                fast,
                average,
                averaged_updates: 0,
                tempering,
                isa: isa.name().to_string(),
                data: Some(data.fingerprint()),
            },
            isa,
            scratch: None,
            trace: Vec::new(),
        })
    }

    /// Continues a saved run. The SIMD path recorded in the state is used if
    /// this CPU has it (otherwise the default path, and results may differ
    /// in the last bits from an uninterrupted run).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] / [`Error::ShapeMismatch`] when the parts do
    /// not fit together.
    pub fn from_state(mut s: TrainState) -> Result<Trainer> {
        s.config.validate()?;
        let (d, h) = (s.rbm.n_visible(), s.rbm.n_hidden());
        if h != s.config.n_hidden {
            return Err(Error::ShapeMismatch {
                what: "n_hidden (model vs config)",
                expected: s.config.n_hidden,
                got: h,
            });
        }
        if s.chains.n_visible() != d || s.chains.n_hidden() != h {
            return Err(Error::ShapeMismatch {
                what: "chain sizes",
                expected: d + h,
                got: s.chains.n_visible() + s.chains.n_hidden(),
            });
        }
        let want_chains = match s.config.algorithm {
            Algorithm::Pt { chains, replicas, .. } => chains * replicas,
            _ => s.config.n_chains(),
        };
        match (&s.tempering, s.config.algorithm) {
            (Some(t), Algorithm::Pt { chains, replicas, .. })
                if t.n_chains() == chains && t.betas().len() == replicas => {}
            (None, Algorithm::Cd { .. } | Algorithm::Pcd { .. }) => {}
            _ => {
                return Err(Error::InvalidParam {
                    name: "tempering",
                    reason: "the tempering state does not match the algorithm".into(),
                });
            }
        }
        let (mu, lambda) = &s.offsets;
        let (want_mu, want_l) = if s.config.centering.is_some() { (d, h) } else { (0, 0) };
        let want_fast = if s.config.fast_weights.is_some() { d * h + d + h } else { 0 };
        let want_avg = if s.config.averaging.is_some() { d * h + d + h } else { 0 };
        for (what, got, want) in [
            ("visible offsets", mu.len(), want_mu),
            ("hidden offsets", lambda.len(), want_l),
            ("fast weights", s.fast.len(), want_fast),
            ("averaged parameters", s.average.len(), want_avg),
        ] {
            if got != want {
                return Err(Error::ShapeMismatch { what, expected: want, got });
            }
        }
        if s.chains.batch() != want_chains {
            return Err(Error::ShapeMismatch {
                what: "number of chains",
                expected: want_chains,
                got: s.chains.batch(),
            });
        }
        let o = &s.optimizer;
        let adam = matches!(s.config.optimizer, Optimizer::Adam { .. });
        let (ew, eb, ec) = if adam { (d * h, d, h) } else { (0, 0, 0) };
        for (what, got, want) in [
            ("optimizer m_w", o.m_w.len(), d * h),
            ("optimizer m_b", o.m_b.len(), d),
            ("optimizer m_c", o.m_c.len(), h),
            ("optimizer v_w", o.v_w.len(), ew),
            ("optimizer v_b", o.v_b.len(), eb),
            ("optimizer v_c", o.v_c.len(), ec),
            ("sparsity state", s.sparsity_q.len(), if s.config.sparsity.is_some() { h } else { 0 }),
        ] {
            if got != want {
                return Err(Error::ShapeMismatch { what, expected: want, got });
            }
        }
        let isa = match Isa::from_name(&s.isa) {
            Some(i) if i.is_available() => i,
            _ => simd::active_isa(),
        };
        s.chains.set_isa(isa)?;
        Ok(Trainer { s, isa, scratch: None, trace: Vec::new() })
    }

    /// Continues a saved run on `data` ([`Trainer::from_state`]), refusing
    /// data other than the run started on (when the state records it), since
    /// the run would then not be the one it continues.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming both data sets, and the errors of
    /// [`Trainer::from_state`].
    pub fn resume(state: TrainState, data: &Dataset) -> Result<Trainer> {
        if let Some(was) = state.data {
            let now = data.fingerprint();
            if now != was {
                return Err(Error::InvalidParam {
                    name: "data",
                    reason: format!("the checkpoint was trained on other data ({was}); this data: {now}"),
                });
            }
        }
        Self::from_state(state)
    }

    /// The state to save in a checkpoint.
    pub fn state(&self) -> &TrainState {
        &self.s
    }
    /// The current parameters (those the chains and gradients use).
    pub fn rbm(&self) -> &Rbm {
        &self.s.rbm
    }
    /// The averaged parameters ([`crate::train::Averaging`]) once the
    /// average has started; `None` without averaging or before its first
    /// epoch.
    pub fn averaged_rbm(&self) -> Option<Rbm> {
        if self.s.average.is_empty() || self.s.averaged_updates == 0 {
            return None;
        }
        let (d, h) = (self.s.rbm.n_visible(), self.s.rbm.n_hidden());
        // The average of valid parameters is valid: finite and bounded.
        flat_rbm(d, h, &self.s.average).ok()
    }
    /// The trained model: the averaged parameters when averaging is
    /// configured and has started ([`Trainer::averaged_rbm`]), otherwise
    /// the current ones.
    pub fn model(&self) -> std::borrow::Cow<'_, Rbm> {
        match self.averaged_rbm() {
            Some(r) => std::borrow::Cow::Owned(r),
            None => std::borrow::Cow::Borrowed(&self.s.rbm),
        }
    }
    /// Consumes the trainer, returning the trained model
    /// ([`Trainer::model`]).
    pub fn into_rbm(self) -> Rbm {
        match self.averaged_rbm() {
            Some(r) => r,
            None => self.s.rbm,
        }
    }
    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.s.config
    }
    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.s.epoch
    }
    /// Whether all configured epochs are done.
    pub fn is_done(&self) -> bool {
        self.s.epoch >= self.s.config.optim.epochs
    }
    /// Changes the number of epochs (to train longer after a resume).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for 0.
    pub fn set_epochs(&mut self, epochs: usize) -> Result<()> {
        if epochs == 0 {
            return Err(Error::InvalidParam { name: "epochs", reason: "must be ≥ 1".into() });
        }
        self.s.config.optim.epochs = epochs;
        Ok(())
    }

    /// Runs one epoch over `data` (shuffled if configured), calling
    /// `on_batch(done, total)` after each update. `data` may differ from the
    /// data of [`Trainer::new`] (for online training, one chunk per call) and
    /// may have fewer rows than a batch (one smaller batch).
    ///
    /// # Errors
    /// Data that does not match the model or is not binary, and
    /// [`Error::Diverged`] — after which the trainer must not be used further
    /// (its parameters are not valid); resume from the last checkpoint.
    pub fn run_epoch(&mut self, data: &Dataset, on_batch: impl FnMut(usize, usize)) -> Result<EpochReport> {
        self.run_epoch_split(data, &super::split::Whole, on_batch)
    }

    /// [`Trainer::run_epoch`] with each update's rows split as `split` says
    /// (one share of a data-parallel run, [`super::split`]).
    pub(super) fn run_epoch_split(
        &mut self,
        data: &Dataset,
        split: &dyn super::split::Split,
        mut on_batch: impl FnMut(usize, usize),
    ) -> Result<EpochReport> {
        check_values(&self.s.config, data)?;
        if data.dim() != self.s.rbm.n_visible() {
            return Err(Error::ShapeMismatch {
                what: "data features (model n_visible)",
                expected: self.s.rbm.n_visible(),
                got: data.dim(),
            });
        }
        let t0 = Instant::now();
        let n = data.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        if self.s.config.shuffle {
            let mut g = rng::to_generator(self.s.order_stream);
            shuffle_indices(&mut order, &mut g);
            self.s.order_stream = rng::from_generator(&g);
        }
        let bs = self.s.config.optim.batch_size;
        let batches = n.div_ceil(bs);
        let lr = self.s.config.learning_rate_at(self.s.epoch);
        self.trace.clear();
        if let Some(t) = &mut self.s.tempering {
            t.reset_statistics();
        }
        for (bi, idx) in order.chunks(bs).enumerate() {
            self.update(data, idx, (lr, bi + 1 == batches), split)?;
            on_batch(bi + 1, batches);
        }
        let n = self.s.config.n_chains();
        let chains = match self.s.config.algorithm {
            Algorithm::Cd { .. } => None,
            _ => {
                // Chain-major traces from the update-major record.
                let len = self.trace.len() / n;
                let mut t = vec![0.0f64; self.trace.len()];
                for (u, row) in self.trace.chunks_exact(n).enumerate() {
                    for (c, &x) in row.iter().enumerate() {
                        t[c * len + u] = x;
                    }
                }
                crate::eval::diagnose(&t, n, len).ok()
            }
        };
        let (swap_rates, round_trips) = match &self.s.tempering {
            Some(t) => (t.swap_rates(), t.round_trips()),
            None => (Vec::new(), (0, f64::NAN)),
        };
        let report = EpochReport {
            epoch: self.s.epoch,
            updates: batches,
            learning_rate: lr,
            seconds: t0.elapsed().as_secs_f64(),
            chains,
            swap_rates,
            round_trips,
        };
        if let (Some(step), Some(t)) = (self.s.config.ladder_step, &mut self.s.tempering) {
            t.adapt_ladder(step as f64)?;
        }
        self.s.epoch += 1;
        Ok(report)
    }

    /// One update on the examples `idx` (`last`: the epoch's last; see
    /// `update.rs`).
    fn update(
        &mut self,
        data: &Dataset,
        idx: &[u32],
        (lr, last): (f32, bool),
        split: &dyn super::split::Split,
    ) -> Result<()> {
        let (s, scratch, trace) = (&mut self.s, &mut self.scratch, &mut self.trace);
        super::update::update(s, scratch, trace, self.isa, data, idx, (lr, last), split)
    }

    /// The state, chains included, for a data-parallel share to replace its
    /// chains (`train::sharded`, with the `mpi` feature).
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(super) fn state_mut(&mut self) -> &mut TrainState {
        &mut self.s
    }
}

/// A fresh run's data: not empty, at least one batch, valid values.
fn check_data(config: &TrainConfig, data: &Dataset) -> Result<()> {
    if config.optim.batch_size > data.len() && !data.is_empty() {
        return Err(Error::InvalidParam {
            name: "batch_size",
            reason: format!(
                "{} is larger than the data set ({} examples)",
                config.optim.batch_size,
                data.len()
            ),
        });
    }
    check_values(config, data)
}

/// An epoch's data: not empty, valid values (fewer rows than a batch make
/// one smaller batch, as the last batch of any epoch may be).
fn check_values(config: &TrainConfig, data: &Dataset) -> Result<()> {
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    if config.probability_data && config.any_real_data {
        if let Some(i) = data.features().iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite { what: "data", index: i });
        }
        Ok(())
    } else if config.probability_data {
        if let Some(i) = data.features().iter().position(|&x| !(0.0..=1.0).contains(&x)) {
            return Err(Error::InvalidParam {
                name: "data",
                reason: format!("value {} at index {i} is not a probability in [0, 1]", data.features()[i]),
            });
        }
        Ok(())
    } else {
        data.check_binary()
    }
}

/// Trains a model on `data` with `config` (all epochs, no checkpoints).
///
/// # Errors
/// As [`Trainer::new`] and [`Trainer::run_epoch`].
pub fn fit(config: TrainConfig, data: &Dataset) -> Result<Rbm> {
    let mut t = Trainer::new(config, data)?;
    while !t.is_done() {
        t.run_epoch(data, |_, _| {})?;
    }
    Ok(t.into_rbm())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::{Algorithm, Optimizer, Sparsity};

    /// `n` rows of `d` binary values, about `percent` % of them set (a fixed
    /// multiplicative hash of the position).
    fn hashed_binary_data(n: usize, d: usize, percent: usize) -> Dataset {
        let x =
            (0..n * d).map(|i| ((i.wrapping_mul(2654435761) >> 9) % 100 < percent) as u8 as f32).collect();
        Dataset::new(x, d).unwrap()
    }

    /// At momentum 0 the updates that are not the last of their epoch skip
    /// the weights' velocities; the weights stay those of updates that keep
    /// them, bit for bit, and the last update leaves the same velocities.
    /// Then a momentum that switches on reads the right ones: an epoch at
    /// momentum 0.5 after it ends with the same weights both ways.
    #[test]
    fn velocity_skipped_at_momentum_zero_is_written_by_the_last_update() {
        let (n, d, h) = (100usize, 120usize, 40usize);
        let data = hashed_binary_data(n, d, 12);
        let cfg = TrainConfig::default()
            .n_hidden(h)
            .algorithm(Algorithm::Pcd { k: 1, chains: 20 })
            .optimizer(Optimizer::Sgd { initial: 0.0, final_: 0.5, switch_epoch: 1 })
            .learning_rate(0.05)
            .batch_size(20)
            .shuffle(false)
            .seed(3);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        // `last` for every update (always writes) and for the epoch's last only.
        let run = |all_last: bool| {
            let mut t = Trainer::new(cfg.clone(), &data).unwrap();
            let idx: Vec<u32> = (0..n as u32).collect();
            let batches: Vec<&[u32]> = idx.chunks(20).collect();
            let mut before_last = Vec::new();
            for (bi, b) in batches.iter().enumerate() {
                let last = bi + 1 == batches.len();
                if last {
                    before_last = t.s.optimizer.m_w.clone();
                }
                t.update(&data, b, (0.05, all_last || last), &crate::train::split::Whole).unwrap();
            }
            t.s.epoch += 1;
            (t, before_last)
        };
        let (mut keep, _) = run(true);
        let (mut skip, before_last) = run(false);
        assert_eq!(bits(keep.s.rbm.weights()), bits(skip.s.rbm.weights()));
        assert_eq!(bits(&keep.s.optimizer.m_w), bits(&skip.s.optimizer.m_w));
        assert!(skip.s.optimizer.m_w.iter().any(|&m| m != 0.0));
        // The step (`simd::momentum_step`, on every ISA) skipped them before
        // the last update.
        assert!(before_last.iter().all(|&m| m == 0.0), "velocities written before the last update");
        // The next epoch switches the momentum on (it reads the velocities).
        keep.run_epoch(&data, |_, _| {}).unwrap();
        skip.run_epoch(&data, |_, _| {}).unwrap();
        assert_eq!(bits(keep.s.rbm.weights()), bits(skip.s.rbm.weights()));
    }

    /// The SGD step writes the next update's packed `W` and `Wᵀ` (no
    /// repacking pass); wherever it did, they equal a fresh packing of the
    /// trainer's `W` (asserted by `packs_written_at`), for 1 and 3 threads
    /// (blocks of 16 rows). The sparsity target makes the hidden states
    /// sparse enough for the `Wᵀ` product too. With Adam nothing is written
    /// ahead (the products repack as before).
    #[test]
    fn step_writes_current_packed_weights() {
        let (n, d, h) = (120usize, 200usize, 60usize);
        let data = hashed_binary_data(n, d, 8);
        for (opt, sgd) in [
            (Optimizer::Sgd { initial: 0.5, final_: 0.5, switch_epoch: 0 }, true),
            (Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }, false),
        ] {
            for threads in [1, 3] {
                let cfg = TrainConfig::default()
                    .n_hidden(h)
                    .algorithm(Algorithm::Pcd { k: 1, chains: 30 })
                    .optimizer(opt)
                    .learning_rate(if sgd { 0.05 } else { 0.01 })
                    .sparsity(Some(Sparsity { target: 0.02, cost: 1.0, decay: 0.5 }))
                    .batch_size(20)
                    .epochs(6)
                    .seed(5);
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let written = pool.install(|| {
                    let mut t = Trainer::new(cfg, &data).unwrap();
                    let mut written = (false, false);
                    while !t.is_done() {
                        t.run_epoch(&data, |_, _| {}).unwrap();
                        let sc = t.scratch.as_ref().unwrap();
                        let (pw, pwt) = sc.packs_written_at(t.s.step, t.s.rbm.weights(), d, h);
                        written = (written.0 | pw, written.1 | pwt);
                    }
                    written
                });
                // Both binary products (and so both packings) are chosen on
                // AVX2 and AVX-512 at these densities; scalar code takes
                // them at lower densities only.
                if !sgd || simd::active_isa() != Isa::Scalar {
                    assert_eq!(written, (sgd, sgd), "{opt:?}, {threads} threads");
                }
            }
        }
    }
}
