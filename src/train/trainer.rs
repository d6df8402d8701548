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
//! Every reduction runs in a fixed order (products accumulate over the batch
//! in matrixmultiply's or the binary kernel's fixed order, column sums
//! sequentially), so training is bit-identical for any thread count, and
//! [`Trainer::state`] / [`Trainer::from_state`] resume exactly.

use super::config::{Algorithm, Optimizer, TrainConfig};
use crate::data::{Dataset, shuffle_indices};
use crate::error::{Error, Result};
use crate::kernels::binary::{self, BinaryRows, PackedWeights};
use crate::kernels::gemm::HalfStepProducts;
use crate::kernels::{activation, gemm};
use crate::model::{Rbm, centering};
use crate::rng::{self, StreamState};
use crate::sampler::Tempering;
use crate::sampler::{Chains, gibbs};
use crate::simd::{self, Isa};
use rayon::prelude::*;
use std::time::Instant;

/// Optimizer state: first moments (momentum velocity or Adam's `m`) and
/// Adam's second moments, for weights, visible and hidden biases.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState {
    /// Velocity / first moment of the weights (`D × H`).
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
    /// Parallel tempering of the chains (PT only; then `chains` holds every
    /// replica, replica-major).
    pub tempering: Option<Tempering>,
    /// Name of the SIMD path the run started on (results are reproducible
    /// bit for bit on the same path).
    pub isa: String,
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

/// Per-batch scratch.
#[derive(Debug)]
struct Scratch {
    /// `[V⁺; V⁻]`, `(batch + n) × D`.
    a: Vec<f32>,
    /// `[P⁺/m; −P⁻/n]`, `(batch + n) × H`.
    b: Vec<f32>,
    /// Visible pre-activations of the PCD chains.
    pre_v: Vec<f32>,
    /// Hidden pre-activations of `[V⁺; V⁻]`.
    pre_h: Vec<f32>,
    grad_w: Vec<f32>,
    grad_b: Vec<f64>,
    grad_c: Vec<f64>,
    /// Set positions of `[V⁺; V⁻]` (or of `V⁺` before the negative phase of
    /// CD) for the binary products, and their transpose for the weight
    /// gradient as sums of rows of `b`.
    vrows: BinaryRows,
    vt: BinaryRows,
    /// Set positions of the PCD chains' hidden states.
    hrows: BinaryRows,
    /// The model the persistent chains sample with fast weights, `θ + θ_f`.
    fast_rbm: Option<Rbm>,
    /// Centered biases `b′ = b + Wλ`, `c′ = c + Wᵀμ` during an update.
    cb: Vec<f32>,
    cc: Vec<f32>,
    /// Mean `p(h|v⁺)` of the batch (centering).
    mean_hpos: Vec<f64>,
    /// `W` and `Wᵀ` packed for the binary products, repacked before each
    /// use (the weights change with every update).
    pw: Option<PackedWeights>,
    pwt: Option<PackedWeights>,
    /// `[P⁺/m; −P⁻/n]` packed for the weight gradient.
    pp: Option<PackedWeights>,
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
/// let config = TrainConfig {
///     n_hidden: 4,
///     algorithm: Algorithm::Cd { k: 1 },
///     batch_size: 10,
///     epochs: 3,
///     ..TrainConfig::default()
/// };
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
    scratch: Option<Scratch>,
    /// Free energies of the persistent chains, one row of `n` per update of
    /// the current epoch.
    trace: Vec<f64>,
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
        let streams_seed = config.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
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
        let order_stream = rng::chain_streams(config.seed ^ 0x0DDE_5EED, 1)?[0];
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
                tempering,
                isa: isa.name().to_string(),
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
        for (what, got, want) in [
            ("visible offsets", mu.len(), want_mu),
            ("hidden offsets", lambda.len(), want_l),
            ("fast weights", s.fast.len(), want_fast),
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

    /// The state to save in a checkpoint.
    pub fn state(&self) -> &TrainState {
        &self.s
    }
    /// The model as trained so far.
    pub fn rbm(&self) -> &Rbm {
        &self.s.rbm
    }
    /// Consumes the trainer, returning the model.
    pub fn into_rbm(self) -> Rbm {
        self.s.rbm
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
        self.s.epoch >= self.s.config.epochs
    }
    /// Changes the number of epochs (to train longer after a resume).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for 0.
    pub fn set_epochs(&mut self, epochs: usize) -> Result<()> {
        if epochs == 0 {
            return Err(Error::InvalidParam { name: "epochs", reason: "must be ≥ 1".into() });
        }
        self.s.config.epochs = epochs;
        Ok(())
    }

    /// Runs one epoch over `data` (shuffled if configured), calling
    /// `on_batch(done, total)` after each update.
    ///
    /// # Errors
    /// Data that does not match the model or is not binary, and
    /// [`Error::Diverged`] — after which the trainer must not be used further
    /// (its parameters are not valid); resume from the last checkpoint.
    pub fn run_epoch(
        &mut self,
        data: &Dataset,
        mut on_batch: impl FnMut(usize, usize),
    ) -> Result<EpochReport> {
        check_data(&self.s.config, data)?;
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
        let bs = self.s.config.batch_size;
        let batches = n.div_ceil(bs);
        let lr = self.s.config.learning_rate_at(self.s.epoch);
        self.trace.clear();
        if let Some(t) = &mut self.s.tempering {
            t.reset_statistics();
        }
        for (bi, idx) in order.chunks(bs).enumerate() {
            self.update(data, idx, lr)?;
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
        self.s.epoch += 1;
        Ok(report)
    }

    /// One update on the examples `idx`.
    fn update(&mut self, data: &Dataset, idx: &[u32], lr: f32) -> Result<()> {
        let s = &mut self.s;
        let (d, h) = (s.rbm.n_visible(), s.rbm.n_hidden());
        let m = idx.len();
        let n_neg = match s.config.algorithm {
            Algorithm::Cd { .. } => m,
            _ => s.config.n_chains(),
        };
        let rows = m + n_neg;
        let cap = s.config.batch_size + s.config.n_chains();
        let n_chains = s.chains.batch();
        let sc = self.scratch.get_or_insert_with(|| Scratch {
            a: vec![0.0; cap * d],
            b: vec![0.0; cap * h],
            pre_v: vec![0.0; n_chains * d],
            pre_h: vec![0.0; cap.max(n_chains) * h],
            // ∇W of the dense product (see the update for why it is not
            // accumulated into the velocity by the product itself).
            grad_w: vec![0.0; d * h],
            grad_b: vec![0.0; d],
            grad_c: vec![0.0; h],
            vrows: BinaryRows::new(d),
            vt: BinaryRows::new(1),
            hrows: BinaryRows::new(h),
            fast_rbm: None,
            cb: Vec::new(),
            cc: Vec::new(),
            mean_hpos: Vec::new(),
            pw: None,
            pwt: None,
            pp: None,
        });
        let threads = rayon::current_num_threads();
        let isa = self.isa;
        let products = HalfStepProducts::new(isa, s.rbm.weights(), d, h);
        // Binary × dense products where the states are sparse enough
        // (decided from the batch's overall density: the same choice for
        // any thread count); not for the small models of the no-packing
        // dense kernel.
        let binary_ok = binary::enabled() && !products.is_nopack() && !s.config.probability_data;
        let br = gibbs::block_rows(rows, d, h, threads);
        for (dst, &i) in sc.a[..m * d].chunks_exact_mut(d).zip(idx) {
            dst.copy_from_slice(data.row(i as usize));
        }
        let k = s.config.k();
        let sampled_negatives = !s.fast.is_empty() || s.tempering.is_some();
        match s.config.algorithm {
            Algorithm::Cd { .. } => {
                // 1. Positive phase (output columns split over threads: few rows).
                let (vpos, vneg) = sc.a[..rows * d].split_at_mut(m * d);
                let (ppos, pneg) = sc.b[..rows * h].split_at_mut(m * h);
                sc.vrows.reset(d);
                sc.vrows.fill_from(vpos);
                let w = s.rbm.weights();
                if !binary_product(isa, binary_ok, &sc.vrows, &mut sc.pw, w, d, h, false, ppos, threads) {
                    products.visible_to_hidden_cols(m, vpos, ppos, threads);
                }
                ppos.par_chunks_mut(br * h)
                    .for_each(|p| activation::sigmoid_rows_bias_in_place(isa, p, s.rbm.hidden_bias()));
                // 2. Negative phase: chains start at the data with h ~ P⁺.
                let (cv, ch, cs) = s.chains.parts_mut();
                let (cv, ch, cs) = (&mut cv[..m * d], &mut ch[..m * h], &mut cs[..m]);
                cv.copy_from_slice(vpos);
                gibbs::sample_from_probs(isa, ppos, h, ch, cs);
                gibbs::sweep_vh(isa, &s.rbm, cv, ch, cs, pneg, k);
                vneg.copy_from_slice(cv);
            }
            _ if sampled_negatives => {
                // 2. The negative samples from the persistent chains of the
                // sampling model (θ + θ_f with fast weights), tempered or
                // not; then 1 + 2b as below, with the regular θ.
                let neg_rbm = match s.config.fast_weights {
                    Some(_) => {
                        let f = sc.fast_rbm.get_or_insert_with(|| s.rbm.clone());
                        fast_model(&s.rbm, &s.fast, f);
                        &*f
                    }
                    None => &s.rbm,
                };
                match &mut s.tempering {
                    Some(t) => {
                        t.sweep(&mut s.chains, neg_rbm, k)?;
                        let vneg = &mut sc.a[m * d..rows * d];
                        vneg.copy_from_slice(&s.chains.visible()[s.chains.batch() * d - n_neg * d..]);
                    }
                    None => {
                        s.chains.sweep_vh(neg_rbm, k, &mut sc.pre_h[..n_neg * h])?;
                        sc.a[m * d..rows * d].copy_from_slice(s.chains.visible());
                    }
                }
                let pre = &mut sc.pre_h[..rows * h];
                sc.vrows.reset(d);
                sc.vrows.fill_from(&sc.a[..rows * d]);
                let w = s.rbm.weights();
                if !binary_product(isa, binary_ok, &sc.vrows, &mut sc.pw, w, d, h, false, pre, threads) {
                    products.visible_to_hidden_cols(rows, &sc.a[..rows * d], pre, threads);
                }
                activation::sigmoid_rows_bias(isa, pre, s.rbm.hidden_bias(), &mut sc.b[..rows * h]);
            }
            _ => {
                // 2a. The first k − 1 sweeps, then the visible half-step of
                // the last one.
                if k > 1 {
                    s.chains.sweep_vh(&s.rbm, k - 1, &mut sc.pre_h[..n_neg * h])?;
                }
                let (cv, ch, cs) = s.chains.parts_mut();
                sc.hrows.reset(h);
                sc.hrows.fill_from(&ch[..n_neg * h]);
                let w = s.rbm.weights();
                let pre_v = &mut sc.pre_v[..n_neg * d];
                if !binary_product(isa, binary_ok, &sc.hrows, &mut sc.pwt, w, h, d, true, pre_v, threads) {
                    products.hidden_to_visible_cols(n_neg, ch, pre_v, threads);
                }
                gibbs::sample_rows(isa, &sc.pre_v, s.rbm.visible_bias(), cv, cs, None, threads);
                sc.a[m * d..rows * d].copy_from_slice(cv);
                // 1 + 2b. One product for both phases, [V⁺; V⁻]·W: W is
                // packed once for both, and the product has twice the rows.
                let pre = &mut sc.pre_h[..rows * h];
                sc.vrows.reset(d);
                sc.vrows.fill_from(&sc.a[..rows * d]);
                if !binary_product(isa, binary_ok, &sc.vrows, &mut sc.pw, w, d, h, false, pre, threads) {
                    products.visible_to_hidden_cols(rows, &sc.a[..rows * d], pre, threads);
                }
                let (ppos, pneg) = sc.b[..rows * h].split_at_mut(m * h);
                let (pre_pos, pre_neg) = pre.split_at(m * h);
                // P⁺, and the chains' hidden states ~ P⁻ (the statistics), side
                // by side.
                let hb = s.rbm.hidden_bias();
                rayon::join(
                    || activation::sigmoid_rows_bias(isa, pre_pos, hb, ppos),
                    || gibbs::sample_rows(isa, pre_neg, hb, ch, cs, Some(pneg), 1),
                );
                s.chains.add_sweeps(1);
            }
        }
        if !matches!(s.config.algorithm, Algorithm::Cd { .. }) {
            record_free_energies(
                isa,
                &s.rbm,
                &sc.a[m * d..rows * d],
                &sc.pre_h[m * h..rows * h],
                &mut self.trace,
            );
        }
        if matches!(s.config.algorithm, Algorithm::Cd { .. }) || sampled_negatives {
            sc.vrows.reset(d);
            sc.vrows.fill_from(&sc.a[..rows * d]);
        }
        // Where V = [V⁺; V⁻] is sparse enough, the weight gradient is taken
        // as sums of the rows of [P⁺/m; −P⁻/n] (packed) selected by each
        // column of V (the rows of Vᵀ), fused with the update below.
        let sparse_grad = binary_ok && binary::sparse_wins(isa, sc.vrows.density());
        if sparse_grad {
            sc.vrows.transpose_into(&mut sc.vt);
        }
        let (vpos, vneg) = sc.a[..rows * d].split_at(m * d);
        let (ppos, pneg) = sc.b[..rows * h].split_at_mut(m * h);
        let vt = &sc.vt;
        // 3. Gradient statistics, fixed-order sums.
        let (inv_m, inv_n) = (1.0 / m as f64, 1.0 / n_neg as f64);
        let gb = &mut sc.grad_b;
        let gc = &mut sc.grad_c;
        gb.fill(0.0);
        gc.fill(0.0);
        // Visible and hidden sums side by side; the hidden side then scales
        // P so that one product gives ∇W = V⁺ᵀP⁺/m − V⁻ᵀP⁻/n. Scaled terms
        // below TINY are dropped: they change nothing measurable, and
        // subnormal numbers would slow the product severalfold.
        let sparsity = s.config.sparsity;
        let q = &mut s.sparsity_q;
        let (mut mean_v, mut sparse_pull) = (Vec::new(), Vec::new());
        let centered = s.config.centering.is_some();
        let mean_hpos = &mut sc.mean_hpos;
        rayon::join(
            || {
                if sparse_grad {
                    // Binary V: the column sums are counts, read off the
                    // rows of Vᵀ (positions < m are the data rows).
                    for (i, g) in gb.iter_mut().enumerate() {
                        let col = vt.row(i);
                        let pos = col.partition_point(|&r| (r as usize) < m);
                        *g = pos as f64 * inv_m - (col.len() - pos) as f64 * inv_n;
                    }
                } else {
                    add_column_sums(vpos, d, inv_m, gb);
                    add_column_sums(vneg, d, -inv_n, gb);
                }
                if sparsity.is_some() {
                    mean_v = vec![0.0f64; d];
                    add_column_sums(vpos, d, inv_m, &mut mean_v);
                }
            },
            || {
                add_column_sums(ppos, h, inv_m, gc);
                add_column_sums(pneg, h, -inv_n, gc);
                if centered {
                    mean_hpos.clear();
                    mean_hpos.resize(h, 0.0);
                    add_column_sums(ppos, h, inv_m, mean_hpos);
                }
                if let Some(sp) = sparsity {
                    let mut mean_p = vec![0.0f64; h];
                    add_column_sums(ppos, h, inv_m, &mut mean_p);
                    sparse_pull = vec![0.0f32; h];
                    for j in 0..h {
                        q[j] = sp.decay * q[j] + (1.0 - sp.decay) * mean_p[j] as f32;
                        sparse_pull[j] = sp.cost * (sp.target - q[j]);
                        gc[j] += sparse_pull[j] as f64;
                    }
                }
                let (sm, sn) = (inv_m as f32, -(inv_n as f32));
                ppos.iter_mut().for_each(|x| *x = flush(*x * sm));
                pneg.iter_mut().for_each(|x| *x = flush(*x * sn));
            },
        );
        // 4. Update. The weight gradient is one product, with one block of
        // visible units per thread (each block packs [P⁺; P⁻] once). For SGD
        // the product accumulates straight into the velocity:
        // Δ ← μΔ + lr·∇W, then Δ −= lr·(λ₂W + λ₁ sign W − sparsity pull).
        // With centering the weight gradient is the centered one,
        // ∇W − μ∇cᵀ − ∇b λᵀ, and the optimizer moves the centered biases
        // b′ = b + Wλ, c′ = c + Wᵀμ, converted back after the step.
        s.step += 1;
        let epoch = s.epoch;
        if centered {
            let (mu, lambda) = &s.offsets;
            centering::centered_biases(&s.rbm, mu, lambda, &mut sc.cb, &mut sc.cc);
        }
        let (w, vb, hb) = s.rbm.params_mut();
        let (vb, hb) = if centered { (&mut sc.cb[..], &mut sc.cc[..]) } else { (vb, hb) };
        let o = &mut s.optimizer;
        let (l1, l2) = (s.config.l1, s.config.l2);
        let maxw = s.config.max_weight;
        let (ab, bb) = (&sc.a[..rows * d], &sc.b[..rows * h]);
        let block = d.div_ceil(threads);
        let (mu_off, lambda_off) = (&s.offsets.0, &s.offsets.1);
        let gbf: Vec<f32> = if centered { gb.iter().map(|&g| g as f32).collect() } else { Vec::new() };
        let gcf: Vec<f32> = if centered { gc.iter().map(|&g| g as f32).collect() } else { Vec::new() };
        // Per visible unit i and hidden unit j, the extra gradient term of
        // the sparsity penalty, pull_j · mean_v_i, and of centering,
        // −μ_i ∇c_j − ∇b_i λ_j.
        let extra = |i: usize, j: usize| {
            let sp = if sparse_pull.is_empty() { 0.0 } else { sparse_pull[j] * mean_v[i] as f32 };
            let ce = if centered { -(mu_off[i] * gcf[j] + gbf[i] * lambda_off[j]) } else { 0.0 };
            sp + ce
        };
        // Rows of W per parallel piece (whole rows, so `extra` knows i).
        let rows_per = d.div_ceil(threads).max(1);
        // FPCD needs ∇W itself for the fast weights: no fused product then.
        let fast = s.config.fast_weights;
        let weights_bad = match s.config.optimizer {
            Optimizer::Sgd { initial, final_, switch_epoch } => {
                let mu = if epoch < switch_epoch { initial } else { final_ };
                // With sparse V the gradient rows come from the packed P in
                // the loop below, 16 at a time; otherwise from one dense
                // product with alpha = 1, beta = 0. (Letting matrixmultiply
                // fold `μΔ + lr·∇W` in with alpha = lr, beta = μ gave bits
                // that depended on the row blocks, i.e. on the thread count,
                // once V was not binary.)
                let pp = if sparse_grad && fast.is_none() {
                    Some(pack_into(&mut sc.pp, bb, rows, h)?)
                } else {
                    full_gradient(
                        isa,
                        sparse_grad,
                        &sc.vt,
                        &mut sc.pp,
                        ab,
                        bb,
                        d,
                        rows,
                        h,
                        &mut sc.grad_w,
                        block,
                        threads,
                    )?;
                    None
                };
                let gw = &sc.grad_w;
                let decay = l1 != 0.0 || l2 != 0.0 || !sparse_pull.is_empty() || centered;
                let bad = w
                    .par_chunks_mut(rows_per * h)
                    .zip(o.m_w.par_chunks_mut(rows_per * h))
                    .enumerate()
                    .map(|(blk, (w, m))| {
                        let mut bad = false;
                        const GB: usize = 16;
                        let block_rows = w.len() / h;
                        let mut g = vec![0.0f32; if pp.is_some() { GB * h } else { 0 }];
                        for (r, (wr, mr)) in w.chunks_exact_mut(h).zip(m.chunks_exact_mut(h)).enumerate() {
                            let i = blk * rows_per + r;
                            if let Some(pp) = pp {
                                // Rows of Vᵀ·[P⁺/m; −P⁻/n], GB at a time,
                                // then Δ ← μΔ + lr·∇W.
                                if r % GB == 0 {
                                    let i1 = (i + GB).min(blk * rows_per + block_rows);
                                    binary::packed_rows_unchecked(isa, vt, i, i1, pp, &mut g[..(i1 - i) * h]);
                                }
                                for (m, &g) in mr.iter_mut().zip(&g[(r % GB) * h..(r % GB + 1) * h]) {
                                    *m = mu * *m + lr * g;
                                }
                            } else {
                                for (m, &g) in mr.iter_mut().zip(&gw[i * h..(i + 1) * h]) {
                                    *m = mu * *m + lr * g;
                                }
                            }
                            // Branch-free loops over the row (they vectorize).
                            if decay && sparse_pull.is_empty() && !centered {
                                for (m, &w) in mr.iter_mut().zip(wr.iter()) {
                                    *m -= lr * (l2 * w + l1 * sign(w));
                                }
                            } else if decay && !centered {
                                let mv = mean_v[i] as f32;
                                for ((m, &w), &sp) in mr.iter_mut().zip(wr.iter()).zip(&sparse_pull) {
                                    *m -= lr * (l2 * w + l1 * sign(w) - sp * mv);
                                }
                            } else if decay {
                                // Centering: −μ_i ∇c_j − ∇b_i λ_j (and the
                                // sparsity pull, if any, through `extra`).
                                let (mi, gi) = (mu_off[i], gbf[i]);
                                if sparse_pull.is_empty() {
                                    for ((m, &w), (&gc, &l)) in
                                        mr.iter_mut().zip(wr.iter()).zip(gcf.iter().zip(lambda_off))
                                    {
                                        *m -= lr * (l2 * w + l1 * sign(w) + mi * gc + gi * l);
                                    }
                                } else {
                                    for (j, (m, &w)) in mr.iter_mut().zip(wr.iter()).enumerate() {
                                        *m -= lr * (l2 * w + l1 * sign(w) - extra(i, j));
                                    }
                                }
                            }
                            for (w, m) in wr.iter_mut().zip(mr.iter_mut()) {
                                *m = flush(*m);
                                *w += *m;
                            }
                            bad |= wr.iter().fold(false, |b, &w| b | out_of_bounds(w, maxw));
                        }
                        bad
                    })
                    .reduce(|| false, |a, b| a || b);
                for ((b, m), &g) in vb.iter_mut().zip(&mut o.m_b).zip(gb.iter()) {
                    *m = flush(mu * *m + lr * g as f32);
                    *b += *m;
                }
                for ((b, m), &g) in hb.iter_mut().zip(&mut o.m_c).zip(gc.iter()) {
                    *m = flush(mu * *m + lr * g as f32);
                    *b += *m;
                }
                bad
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                full_gradient(
                    isa,
                    sparse_grad,
                    &sc.vt,
                    &mut sc.pp,
                    ab,
                    bb,
                    d,
                    rows,
                    h,
                    &mut sc.grad_w,
                    block,
                    threads,
                )?;
                o.t += 1;
                let c1 = 1.0 - beta1.powi(o.t.min(i32::MAX as u64) as i32);
                let c2 = 1.0 - beta2.powi(o.t.min(i32::MAX as u64) as i32);
                let step = move |x: &mut f32, m: &mut f32, v: &mut f32, g: f32| {
                    *m = flush(beta1 * *m + (1.0 - beta1) * g);
                    *v = flush(beta2 * *v + (1.0 - beta2) * g * g);
                    *x += lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                };
                let bad = w
                    .par_chunks_mut(rows_per * h)
                    .zip(o.m_w.par_chunks_mut(rows_per * h))
                    .zip(o.v_w.par_chunks_mut(rows_per * h))
                    .zip(sc.grad_w.par_chunks(rows_per * h))
                    .enumerate()
                    .map(|(blk, (((w, m), v), g))| {
                        let mut bad = false;
                        let rows =
                            w.chunks_exact_mut(h).zip(m.chunks_exact_mut(h)).zip(v.chunks_exact_mut(h));
                        for (r, (((wr, mr), vr), g)) in rows.zip(g.chunks_exact(h)).enumerate() {
                            let i = blk * rows_per + r;
                            // Row by row, without index arithmetic per weight.
                            for (j, (((w, m), v), &g)) in
                                wr.iter_mut().zip(mr.iter_mut()).zip(vr.iter_mut()).zip(g).enumerate()
                            {
                                let g = g - l2 * *w - l1 * sign(*w) + extra(i, j);
                                step(w, m, v, g);
                            }
                            bad |= wr.iter().fold(false, |b, &w| b | out_of_bounds(w, maxw));
                        }
                        bad
                    })
                    .reduce(|| false, |a, b| a || b);
                for (((b, m), v), &g) in vb.iter_mut().zip(&mut o.m_b).zip(&mut o.v_b).zip(gb.iter()) {
                    step(b, m, v, g as f32);
                }
                for (((b, m), v), &g) in hb.iter_mut().zip(&mut o.m_c).zip(&mut o.v_c).zip(gc.iter()) {
                    step(b, m, v, g as f32);
                }
                bad
            }
        };
        if centered {
            // Back to the plain biases with the new W, then move the hidden
            // offsets (a reparameterisation: the model does not change).
            let (mu, lambda) = &mut s.offsets;
            centering::plain_biases(&mut s.rbm, mu, lambda, &sc.cb, &sc.cc);
            let nu = s.config.centering.map_or(0.0, |c| c.hidden_rate);
            for (l, &p) in lambda.iter_mut().zip(sc.mean_hpos.iter()) {
                *l = (1.0 - nu) * *l + nu * p as f32;
            }
        }
        if let Some(f) = fast {
            // θ_f ← decay·θ_f + lr_f·∇ (the plain likelihood gradient).
            let (fw, rest) = s.fast.split_at_mut(d * h);
            let (fb, fc) = rest.split_at_mut(d);
            fw.par_chunks_mut(4096).zip(sc.grad_w.par_chunks(4096)).for_each(|(x, g)| {
                x.iter_mut().zip(g).for_each(|(x, &g)| *x = flush(f.decay * *x + f.learning_rate * g))
            });
            for (x, &g) in fb.iter_mut().zip(gb.iter()).chain(fc.iter_mut().zip(gc.iter())) {
                *x = flush(f.decay * *x + f.learning_rate * g as f32);
            }
        }
        // 5. Divergence check: the weight loops flagged any weight that is
        // not finite or beyond the bound; biases are few.
        let (w, vb, hb) = (s.rbm.weights(), s.rbm.visible_bias(), s.rbm.hidden_bias());
        let bad = |x: &[f32], what: &str| -> Option<String> {
            x.iter().position(|&v| out_of_bounds(v, maxw)).map(|i| format!("{what}[{i}] = {}", x[i]))
        };
        let found = if weights_bad { bad(w, "weight") } else { None };
        let found = found.or_else(|| bad(vb, "visible bias")).or_else(|| bad(hb, "hidden bias"));
        let found = found.or_else(|| bad(&s.fast, "fast parameter"));
        if let Some(reason) = found {
            return Err(Error::Diverged { epoch, step: s.step, reason: format!("{reason} (bound {maxw})") });
        }
        Ok(())
    }
}

/// Appends `F(v) = −bᵀv − Σⱼ softplus(cⱼ + (vᵀW)ⱼ)` of each row of `v`
/// (`pre` = `VW` without bias) to `trace`, in f64, row by row.
fn record_free_energies(isa: Isa, rbm: &Rbm, v: &[f32], pre: &[f32], trace: &mut Vec<f64>) {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let mut sp = pre.to_vec();
    activation::softplus_rows_bias_in_place(isa, &mut sp, rbm.hidden_bias());
    let b = rbm.visible_bias();
    trace.extend(v.chunks_exact(d).zip(sp.chunks_exact(h)).map(|(vr, sr)| {
        let vb: f64 = vr.iter().zip(b).filter(|(x, _)| **x != 0.0).map(|(_, &b)| b as f64).sum();
        -vb - sr.iter().map(|&x| x as f64).sum::<f64>()
    }));
}

/// The model the persistent chains sample under fast weights: `θ + θ_f`
/// (`fast` = `[W_f, b_f, c_f]` flat) written into `out`.
fn fast_model(rbm: &Rbm, fast: &[f32], out: &mut Rbm) {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let (fw, rest) = fast.split_at(d * h);
    let (fb, fc) = rest.split_at(d);
    let (w, b, c) = out.params_mut();
    w.par_chunks_mut(4096)
        .zip(rbm.weights().par_chunks(4096))
        .zip(fw.par_chunks(4096))
        .for_each(|((o, x), f)| o.iter_mut().zip(x).zip(f).for_each(|((o, &x), &f)| *o = x + f));
    for ((o, &x), &f) in
        b.iter_mut().zip(rbm.visible_bias()).zip(fb).chain(c.iter_mut().zip(rbm.hidden_bias()).zip(fc))
    {
        *o = x + f;
    }
}

/// `grad_w = Vᵀ·[P⁺/m; −P⁻/n]` in full: by the binary kernel over the rows
/// of `Vᵀ` where `sparse`, otherwise one dense product.
#[allow(clippy::too_many_arguments)]
fn full_gradient(
    isa: Isa,
    sparse: bool,
    vt: &BinaryRows,
    pp: &mut Option<PackedWeights>,
    ab: &[f32],
    bb: &[f32],
    d: usize,
    rows: usize,
    h: usize,
    grad_w: &mut [f32],
    block: usize,
    threads: usize,
) -> Result<()> {
    if sparse {
        let pp = pack_into(pp, bb, rows, h)?;
        binary::packed_unchecked(isa, vt, pp, grad_w, threads);
    } else {
        gemm::par_gemm_tn(d, rows, h, ab, bb, grad_w, block)?;
    }
    Ok(())
}

/// `out = A·W` (or `A·Wᵀ` if `transposed`, with `w` stored `n × k`) for
/// the binary `a` (`rows × k`) by the binary kernel, packing `w` into `slot`
/// first, if `allowed` and `a` is sparse enough for it to win; returns
/// whether it did (otherwise the caller takes the dense product). The output
/// columns are split over `parts` tasks (the same bits for any split).
#[allow(clippy::too_many_arguments)]
fn binary_product(
    isa: Isa,
    allowed: bool,
    a: &BinaryRows,
    slot: &mut Option<PackedWeights>,
    w: &[f32],
    k: usize,
    n: usize,
    transposed: bool,
    out: &mut [f32],
    parts: usize,
) -> bool {
    if !allowed || !binary::sparse_wins(isa, a.density()) {
        return false;
    }
    let packed = match slot {
        Some(p) => if transposed { p.repack_transposed(w) } else { p.repack(w) }.is_ok(),
        None => {
            let p = if transposed { PackedWeights::transposed(w, n, k) } else { PackedWeights::new(w, k, n) };
            // Packing fails only on allocation; then the dense product runs.
            p.map(|p| *slot = Some(p)).is_ok()
        }
    };
    match slot {
        Some(p) if packed => {
            binary::packed_unchecked(isa, a, p, out, parts);
            true
        }
        _ => false,
    }
}

/// Packs row-major `x` (`k × n`) into `slot`, reusing its allocation when
/// the shape matches (the last batch of an epoch may be smaller).
fn pack_into<'p>(
    slot: &'p mut Option<PackedWeights>,
    x: &[f32],
    k: usize,
    n: usize,
) -> Result<&'p PackedWeights> {
    match slot {
        Some(p) if p.k() == k && p.n() == n => p.repack(x)?,
        _ => *slot = Some(PackedWeights::new(x, k, n)?),
    }
    Ok(slot.as_ref().expect("packed above"))
}

/// `out[j] += scale · Σ_r x[r][j]` over the rows of a row-major matrix of
/// `width` columns, rows summed in order (fixed, thread-independent).
fn add_column_sums(x: &[f32], width: usize, scale: f64, out: &mut [f64]) {
    for r in x.chunks_exact(width) {
        for (acc, &v) in out.iter_mut().zip(r) {
            *acc += v as f64 * scale;
        }
    }
}

/// Values this small are set to 0 in the gradient terms and optimizer
/// moments, so that they never decay into subnormal numbers.
const TINY: f32 = 1e-30;

#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.abs() < TINY { 0.0 } else { x }
}

/// True for NaN, ±inf and values beyond `±max`.
#[inline(always)]
fn out_of_bounds(x: f32, max: f32) -> bool {
    x.is_nan() | (x.abs() > max)
}

/// −1, 0 or 1, without branches.
#[inline(always)]
fn sign(x: f32) -> f32 {
    ((x > 0.0) as u8 as f32) - ((x < 0.0) as u8 as f32)
}

fn check_data(config: &TrainConfig, data: &Dataset) -> Result<()> {
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    if config.batch_size > data.len() {
        return Err(Error::InvalidParam {
            name: "batch_size",
            reason: format!("{} is larger than the data set ({} examples)", config.batch_size, data.len()),
        });
    }
    if config.probability_data {
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
