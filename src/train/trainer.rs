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
use crate::model::Rbm;
use crate::rng::{self, StreamState};
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
        Self::start(config, rbm)
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
        Self::start(config, rbm)
    }

    fn start(config: TrainConfig, rbm: Rbm) -> Result<Trainer> {
        let d = rbm.n_visible();
        let streams_seed = config.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let n_chains = match config.algorithm {
            Algorithm::Cd { .. } => config.batch_size,
            Algorithm::Pcd { chains, .. } => chains,
        };
        let chains = Chains::new(&rbm, n_chains, streams_seed)?;
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
        let mut chains = chains;
        // PCD chains: give them hidden states consistent with their visible
        // ones (the negative phase starts with a visible half-step).
        if matches!(config.algorithm, Algorithm::Pcd { .. }) {
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
                isa: isa.name().to_string(),
            },
            isa,
            scratch: None,
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
            Algorithm::Cd { .. } => s.config.batch_size,
            Algorithm::Pcd { chains, .. } => chains,
        };
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
        Ok(Trainer { s, isa, scratch: None })
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
        for (bi, idx) in order.chunks(bs).enumerate() {
            self.update(data, idx, lr)?;
            on_batch(bi + 1, batches);
        }
        let report = EpochReport {
            epoch: self.s.epoch,
            updates: batches,
            learning_rate: lr,
            seconds: t0.elapsed().as_secs_f64(),
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
            Algorithm::Pcd { chains, .. } => chains,
        };
        let rows = m + n_neg;
        let cap = s.config.batch_size + s.chains.batch();
        let n_chains = s.chains.batch();
        let sc = self.scratch.get_or_insert_with(|| Scratch {
            a: vec![0.0; cap * d],
            b: vec![0.0; cap * h],
            pre_v: vec![0.0; n_chains * d],
            pre_h: vec![0.0; cap * h],
            // ∇W of the dense product (see the update for why it is not
            // accumulated into the velocity by the product itself).
            grad_w: vec![0.0; d * h],
            grad_b: vec![0.0; d],
            grad_c: vec![0.0; h],
            vrows: BinaryRows::new(d),
            vt: BinaryRows::new(1),
            hrows: BinaryRows::new(h),
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
            Algorithm::Pcd { .. } => {
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
        if matches!(s.config.algorithm, Algorithm::Cd { .. }) {
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
        s.step += 1;
        let epoch = s.epoch;
        let (w, vb, hb) = s.rbm.params_mut();
        let o = &mut s.optimizer;
        let (l1, l2) = (s.config.l1, s.config.l2);
        let maxw = s.config.max_weight;
        let (ab, bb) = (&sc.a[..rows * d], &sc.b[..rows * h]);
        let block = d.div_ceil(threads);
        // Per visible unit i and hidden unit j, the extra gradient term of
        // the sparsity penalty: pull_j · mean_v_i.
        let extra =
            |i: usize, j: usize| if sparse_pull.is_empty() { 0.0 } else { sparse_pull[j] * mean_v[i] as f32 };
        // Rows of W per parallel piece (whole rows, so `extra` knows i).
        let rows_per = d.div_ceil(threads).max(1);
        let weights_bad = match s.config.optimizer {
            Optimizer::Sgd { initial, final_, switch_epoch } => {
                let mu = if epoch < switch_epoch { initial } else { final_ };
                // With sparse V the gradient rows come from the packed P in
                // the loop below; otherwise one dense product adds them.
                // With sparse V the gradient rows come from the packed P in
                // the loop below, 16 at a time; otherwise from one dense
                // product with alpha = 1, beta = 0. (Letting matrixmultiply
                // fold `μΔ + lr·∇W` in with alpha = lr, beta = μ gave bits
                // that depended on the row blocks, i.e. on the thread count,
                // once V was not binary.)
                let pp = if sparse_grad {
                    Some(pack_into(&mut sc.pp, bb, rows, h)?)
                } else {
                    gemm::par_gemm_tn(d, rows, h, ab, bb, &mut sc.grad_w, block)?;
                    None
                };
                let gw = &sc.grad_w;
                let decay = l1 != 0.0 || l2 != 0.0 || !sparse_pull.is_empty();
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
                            if decay && sparse_pull.is_empty() {
                                for (m, &w) in mr.iter_mut().zip(wr.iter()) {
                                    *m -= lr * (l2 * w + l1 * sign(w));
                                }
                            } else if decay {
                                let mv = mean_v[i] as f32;
                                for ((m, &w), &sp) in mr.iter_mut().zip(wr.iter()).zip(&sparse_pull) {
                                    *m -= lr * (l2 * w + l1 * sign(w) - sp * mv);
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
                if sparse_grad {
                    let pp = pack_into(&mut sc.pp, bb, rows, h)?;
                    binary::packed_unchecked(isa, &sc.vt, pp, &mut sc.grad_w, threads);
                } else {
                    gemm::par_gemm_tn(d, rows, h, ab, bb, &mut sc.grad_w, block)?;
                }
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
        // 5. Divergence check: the weight loops flagged any weight that is
        // not finite or beyond the bound; biases are few.
        let bad = |x: &[f32], what: &str| -> Option<String> {
            x.iter().position(|&v| out_of_bounds(v, maxw)).map(|i| format!("{what}[{i}] = {}", x[i]))
        };
        let found = if weights_bad { bad(w, "weight") } else { None };
        if let Some(reason) = found.or_else(|| bad(vb, "visible bias")).or_else(|| bad(hb, "hidden bias")) {
            return Err(Error::Diverged { epoch, step: s.step, reason: format!("{reason} (bound {maxw})") });
        }
        Ok(())
    }
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
