//! CD-k and PCD training of convolutional RBMs with probabilistic
//! max-pooling ([`ConvRbm`]), and greedy training of their stacks
//! ([`ConvDbn`], [`train_conv_dbn`]), with the sparsity regularisation of Lee,
//! Ekanadham & Ng (NIPS 2008) used by Lee et al. (ICML 2009), L2 weight
//! decay and momentum.
//!
//! With `m` data images `v⁺`, `n` negative images `v⁻` (the batch after k
//! Gibbs sweeps for CD, the persistent chains for PCD), `P = Hh·Wh`
//! detection positions per map and `p(h|v)` the max-pooling conditionals,
//! each update ascends
//!
//! * filters: `[Σ colsᵀ(v⁺)·p(h|v⁺)/m − Σ colsᵀ(v⁻)·p(h|v⁻)/n] / P − l2·W`;
//! * hidden biases: `[Σ p(h_k|v⁺)/m − Σ p(h_k|v⁻)/n] / P + λ·(ρ − ρ̂ₖ)`,
//!   with `ρ̂ₖ` the batch's mean `p(h_k = 1 | v⁺)` over positions and images
//!   and `ρ` the sparsity target (`λ = sparsity_cost`);
//! * visible biases: `[Σ v⁺_c/m − Σ v⁻_c/n] / (Hv·Wv)`;
//!
//! by momentum SGD (`vel ← μ·vel + lr·g`, `θ ← θ + vel`). Dividing by the
//! positions makes the rates comparable with a dense RBM's. Sums over
//! images are taken in fixed groups of images, then over groups in order,
//! so training is the same bits for any thread count.

use crate::data::{Dataset, shuffle_indices};
use crate::error::{Error, Result};
use crate::kernels::conv::{self, ConvShape};
use crate::model::conv_rbm::ImageScratch;
use crate::model::{ConvDbn, ConvRbm, ConvVisible};
use crate::rng::{self, StreamState};
use crate::sampler::ConvChains;
use crate::train::{Optim, Schedule};
use rayon::prelude::*;
use std::time::Instant;

/// Settings of [`train_conv_rbm`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTrainConfig {
    /// Filters `K` (default 24).
    pub filters: usize,
    /// Filter side `r` (default 9: 20 × 20 detection maps on 28 × 28 digits).
    pub filter_size: usize,
    /// Pooling block side `P` (default 2).
    pub pool: usize,
    /// Visible units (default Bernoulli; Gaussian with unit variance for
    /// standardized real-valued images).
    pub visible: ConvVisible,
    /// Gibbs sweeps per update (default 1).
    pub k: usize,
    /// Persistent chains (PCD) instead of CD-k from the batch (default true).
    pub persistent: bool,
    /// Persistent chains (default 100; PCD only).
    pub chains: usize,
    /// Learning rate, schedule, L2 weight decay on the filters, images per
    /// update, epochs (default: 0.2 decaying linearly to 0.02, L2 1e-4,
    /// batches of 50, 5 epochs).
    pub optim: Optim,
    /// Momentum (default 0.5).
    pub momentum: f32,
    /// Target mean activation `ρ` of the detection units (default 0.02).
    pub sparsity_target: f32,
    /// Strength `λ` of the sparsity term on the hidden biases (default 0.1;
    /// 0 turns it off). On MNIST, λ = 1 with the L2 default made every
    /// filter a blob; 0.1 keeps stroke-like filters.
    pub sparsity_cost: f32,
    /// Standard deviation of the initial filters (default 0.01).
    pub weight_init_std: f32,
    /// Initial hidden biases (default −2: sparse detection maps from the
    /// start).
    pub initial_hidden_bias: f32,
    /// Center the visible units (Montavon & Müller 2012; Melchior, Fischer &
    /// Wiskott 2016) on the training data's mean per channel `μ`: the
    /// gradient is taken in the parameterisation `E = −Σ(v−μ)c −
    /// Σₖ,ₚ hₖₚ(bₖ′ + (Wₖ ⋆ (v−μ))ₚ)`, and the model keeps its plain
    /// parameters (`bₖ = bₖ′ − Σ_taps Wₖ μ`: every detection unit sees every
    /// tap), so the result is an ordinary `ConvRbm` (default false).
    /// Hidden offsets are not offered: `λₖ Σₚ (Wₖ ⋆ v)ₚ` weights a border
    /// pixel by fewer taps than an inner one, which a visible bias shared
    /// by all pixels of a channel cannot absorb.
    pub center_visible: bool,
    /// Seed.
    pub seed: u64,
}

setters!(ConvTrainConfig {
    filters: usize,
    filter_size: usize,
    pool: usize,
    visible: ConvVisible,
    k: usize,
    persistent: bool,
    chains: usize,
    momentum: f32,
    sparsity_target: f32,
    sparsity_cost: f32,
    weight_init_std: f32,
    initial_hidden_bias: f32,
    center_visible: bool,
    seed: u64,
});

optim_setters!(ConvTrainConfig);

impl Default for ConvTrainConfig {
    fn default() -> Self {
        ConvTrainConfig {
            filters: 24,
            filter_size: 9,
            pool: 2,
            visible: ConvVisible::Bernoulli,
            k: 1,
            persistent: true,
            chains: 100,
            optim: Optim::new(0.2, Schedule::Linear { final_lr: 0.02 }, 1e-4, 50, 5),
            momentum: 0.5,
            sparsity_target: 0.02,
            sparsity_cost: 0.1,
            weight_init_std: 0.01,
            initial_hidden_bias: -2.0,
            center_visible: false,
            seed: 0,
        }
    }
}

/// The geometry of an image, `(height, width, channels)`.
pub type ImageShape = (usize, usize, usize);

impl ConvTrainConfig {
    /// The model geometry for images of `image` shape.
    pub fn shape(&self, image: ImageShape) -> ConvShape {
        let (height, width, channels) = image;
        ConvShape {
            height,
            width,
            channels,
            filters: self.filters,
            filter_size: self.filter_size,
            pool: self.pool,
        }
    }

    /// Checks every setting, naming the bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParam`].
    pub fn check(&self, image: ImageShape) -> Result<()> {
        let c = self;
        let bad = |name: &'static str, reason: String| Err(Error::InvalidParam { name, reason });
        self.shape(image).check()?;
        if c.k == 0 || (c.persistent && c.chains == 0) {
            return bad("k / chains", "must be ≥ 1".into());
        }
        super::check_sgd(&c.optim, c.momentum, c.weight_init_std)?;
        if !(c.sparsity_target > 0.0 && c.sparsity_target < 1.0) {
            return bad("sparsity_target", format!("{} must be in (0, 1)", c.sparsity_target));
        }
        if !(c.sparsity_cost.is_finite() && c.sparsity_cost >= 0.0) {
            return bad("sparsity_cost", format!("{} must be finite and ≥ 0", c.sparsity_cost));
        }
        if !c.initial_hidden_bias.is_finite() {
            return bad("initial_hidden_bias", format!("{} is not finite", c.initial_hidden_bias));
        }
        Ok(())
    }
}

/// After each epoch, measured on the first (up to) 500 training images.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvEpochReport {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Learning rate of the epoch.
    pub learning_rate: f32,
    /// Mean squared reconstruction error per image (data → detection
    /// probabilities → visible probabilities, or means for Gaussian units),
    /// summed over pixels.
    pub reconstruction_error: f64,
    /// Mean `p(h = 1 | v)` of the detection units.
    pub detection_mean: f64,
    /// Mean `p(pool = 1 | v)` of the pooling units.
    pub pooling_mean: f64,
    /// Mean free energy of those images.
    pub free_energy: f64,
    /// Seconds of training in the epoch (monitors excluded).
    pub seconds: f64,
}

/// Images per group of the fixed-order sums.
const GROUP: usize = 8;

/// Sufficient statistics of a set of images: filters (`taps × K`), hidden
/// sums per filter, visible sums per channel.
struct Stats {
    w: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
}

fn stats(m: &ConvRbm, images: &[f32]) -> Result<Stats> {
    let s = m.shape();
    let d = s.n_visible();
    let (nw, kk, ch) = (s.n_weights(), s.filters, s.channels);
    let groups: Vec<(Vec<f32>, Vec<f64>, Vec<f64>)> = images
        .par_chunks(GROUP * d)
        .map_init(
            || (ImageScratch::new(&s), vec![0.0f32; s.n_hidden()]),
            |(scratch, probs), group| {
                let mut w = vec![0.0f32; nw];
                let (mut b, mut c) = (vec![0.0f64; kk], vec![0.0f64; ch]);
                for img in group.chunks_exact(d) {
                    m.logits_into(img, scratch);
                    conv::max_pool_probs(&s, &scratch.logits, probs, &mut [])?;
                    conv::add_filter_stats(&s, &scratch.cols, probs, &mut w)?;
                    for (i, &p) in probs.iter().enumerate() {
                        b[i % kk] += p as f64;
                    }
                    for (i, &x) in img.iter().enumerate() {
                        c[i % ch] += x as f64;
                    }
                }
                Ok((w, b, c))
            },
        )
        .collect::<Result<_>>()?;
    let mut out = Stats { w: vec![0.0; nw], b: vec![0.0; kk], c: vec![0.0; ch] };
    for (w, b, c) in groups {
        out.w.iter_mut().zip(&w).for_each(|(o, &x)| *o += x as f64);
        out.b.iter_mut().zip(&b).for_each(|(o, &x)| *o += x);
        out.c.iter_mut().zip(&c).for_each(|(o, &x)| *o += x);
    }
    Ok(out)
}

/// Monitors on `images` (module docs of [`ConvEpochReport`]).
fn monitors(m: &ConvRbm, images: &[f32]) -> Result<(f64, f64, f64, f64)> {
    let s = m.shape();
    let d = s.n_visible();
    let n = images.len() / d;
    let per: Vec<(f64, f64, f64)> = images
        .par_chunks(d)
        .map_init(
            || {
                (
                    ImageScratch::new(&s),
                    vec![0.0f32; s.n_hidden()],
                    vec![0.0f32; s.n_pooled()],
                    vec![0.0f32; d],
                )
            },
            |(scratch, probs, pooled, recon), img| {
                m.logits_into(img, scratch);
                conv::max_pool_probs(&s, &scratch.logits, probs, pooled)?;
                conv::convolve_dense(&s, probs, m.weights(), &mut scratch.cols, recon)?;
                let mut err = 0.0f64;
                let gaussian = m.visible_units() == ConvVisible::Gaussian;
                for ((r, &x), &c) in recon.iter().zip(img).zip(m.visible_bias().iter().cycle()) {
                    let a = (*r + c) as f64;
                    let p = if gaussian { a } else { 1.0 / (1.0 + (-a).exp()) };
                    err += (p - x as f64).powi(2);
                }
                let hm = probs.iter().map(|&p| p as f64).sum::<f64>() / probs.len() as f64;
                let pm = pooled.iter().map(|&p| p as f64).sum::<f64>() / pooled.len() as f64;
                Ok((err, hm, pm))
            },
        )
        .collect::<Result<_>>()?;
    let mut fe = vec![0.0f64; n];
    m.free_energy_batch(images, &mut fe)?;
    let nf = n.max(1) as f64;
    let sum = |f: fn(&(f64, f64, f64)) -> f64| per.iter().map(f).sum::<f64>() / nf;
    Ok((sum(|x| x.0), sum(|x| x.1), sum(|x| x.2), fe.iter().sum::<f64>() / nf))
}

/// Trains a convolutional RBM on images (rows of `data`, each
/// `height × width × channels`, channel last; binary for Bernoulli visible
/// units, standardized real values for Gaussian ones), calling `on_epoch`
/// after each epoch.
///
/// # Errors
/// [`Error::InvalidParam`] for bad settings, non-binary or no data;
/// [`Error::ShapeMismatch`] when the rows are not images of `image` shape;
/// [`Error::Diverged`] when a parameter stops being finite (lower the
/// learning rate).
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::train::conv::{ConvTrainConfig, train_conv_rbm};
/// // 40 binary 8 × 8 images: vertical bars.
/// let x: Vec<f32> = (0..40 * 64).map(|i| (((i % 8) + i / 64) % 4 == 0) as u8 as f32).collect();
/// let data = Dataset::new(x, 64)?;
/// let cfg = ConvTrainConfig::default().filters(4).filter_size(3).pool(2).epochs(2).batch_size(10).chains(10);
/// let m = train_conv_rbm(&data, (8, 8, 1), &cfg, |r| assert!(r.reconstruction_error.is_finite()))?;
/// assert_eq!(m.shape().n_hidden(), 6 * 6 * 4);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_conv_rbm(
    data: &Dataset,
    image: ImageShape,
    config: &ConvTrainConfig,
    mut on_epoch: impl FnMut(&ConvEpochReport),
) -> Result<ConvRbm> {
    let mut t = ConvTrainer::new(data, image, config)?;
    while !t.is_done() {
        on_epoch(&t.run_epoch(data)?);
    }
    Ok(t.into_model())
}

/// Everything a convolutional-RBM training run needs to continue exactly
/// where it stopped (saved by `io::save_conv_checkpoint`): settings, model,
/// velocities, chains and every random stream, the order of the examples,
/// and the count of epochs and updates done.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTrainState {
    /// The settings.
    pub config: ConvTrainConfig,
    /// `(height, width, channels)` of the images.
    pub image: ImageShape,
    /// The model after `epoch` epochs.
    pub model: ConvRbm,
    /// Momentum velocities of the filters, hidden and visible biases.
    pub velocity: [Vec<f32>; 3],
    /// Persistent chains (PCD), or `None` for CD.
    pub chains: Option<ConvChains>,
    /// Streams of the CD chains (one per batch row).
    pub cd_streams: Vec<StreamState>,
    /// The current order of the examples (shuffled again each epoch).
    pub order: Vec<u32>,
    /// The shuffle's generator state.
    pub shuffle: StreamState,
    /// Epochs done.
    pub epoch: usize,
    /// Updates done.
    pub step: u64,
    /// Fingerprint of the training data (rows, size, checksum).
    pub data: crate::data::Fingerprint,
}

/// A convolutional-RBM training run that advances an epoch at a time
/// ([`ConvTrainer::run_epoch`]) and can be saved and resumed bit-exactly
/// ([`ConvTrainer::state`], [`ConvTrainer::resume`]).
#[derive(Debug, Clone)]
pub struct ConvTrainer {
    st: ConvTrainState,
    shuffle: rand_xoshiro::Xoshiro256PlusPlus,
    /// The visible offsets `μ` per channel with `center_visible`.
    offsets: Option<Vec<f64>>,
}

/// The data's mean per channel (the visible offsets of centering).
fn channel_means(data: &Dataset, channels: usize) -> Vec<f64> {
    let means = data.marginals();
    let per = (data.dim() / channels) as f64;
    (0..channels).map(|ch| means.iter().skip(ch).step_by(channels).sum::<f64>() / per).collect()
}

fn check_data(data: &Dataset, image: ImageShape, c: &ConvTrainConfig) -> Result<()> {
    let d = c.shape(image).n_visible();
    if data.dim() != d {
        return Err(Error::ShapeMismatch {
            what: "image size (height × width × channels)",
            expected: d,
            got: data.dim(),
        });
    }
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no images".into() });
    }
    if c.visible == ConvVisible::Bernoulli {
        data.check_binary()?;
    }
    Ok(())
}

impl ConvTrainer {
    /// A new run on `data` (see [`train_conv_rbm`] for the checks).
    ///
    /// # Errors
    /// As [`train_conv_rbm`].
    pub fn new(data: &Dataset, image: ImageShape, config: &ConvTrainConfig) -> Result<ConvTrainer> {
        let c = config;
        c.check(image)?;
        check_data(data, image, c)?;
        let s = c.shape(image);
        let d = s.n_visible();
        let model = ConvRbm::random(s, c.weight_init_std, c.initial_hidden_bias, c.seed)?;
        // Visible biases from the data: per channel, log(p / (1 − p)) clamped
        // (Bernoulli) or the mean (Gaussian).
        let means = data.marginals();
        let vb: Vec<f32> = (0..s.channels)
            .map(|ch| {
                let p = means.iter().skip(ch).step_by(s.channels).sum::<f64>() / (d / s.channels) as f64;
                match c.visible {
                    ConvVisible::Bernoulli => {
                        let p = p.clamp(1e-3, 1.0 - 1e-3);
                        (p / (1.0 - p)).ln() as f32
                    }
                    ConvVisible::Gaussian => p as f32,
                }
            })
            .collect();
        let (w0, b0, _) = model.into_parts();
        let model = ConvRbm::new(s, w0, b0, vb)?.with_visible(c.visible);
        let bs = c.optim.batch_size.min(data.len());
        let n_neg = if c.persistent { c.chains } else { bs };
        crate::alloc::check_bytes("batch and chains (images)", (bs + n_neg) as u128 * d as u128, 4)?;
        let chain_seed = rng::derive(c.seed, rng::Purpose::ConvChains);
        let chains = if c.persistent { Some(ConvChains::new(&model, c.chains, chain_seed)?) } else { None };
        let shuffle = rng::chain_streams(rng::derive(c.seed, rng::Purpose::ConvOrder), 1)?[0];
        let st = ConvTrainState {
            config: c.clone(),
            image,
            velocity: [vec![0.0; s.n_weights()], vec![0.0; s.filters], vec![0.0; s.channels]],
            model,
            chains,
            cd_streams: rng::chain_streams(chain_seed, bs)?,
            order: (0..data.len() as u32).collect(),
            shuffle,
            epoch: 0,
            step: 0,
            data: data.fingerprint(),
        };
        let offsets = c.center_visible.then(|| channel_means(data, s.channels));
        Ok(ConvTrainer { shuffle: rng::to_generator(st.shuffle), st, offsets })
    }

    /// Continues a saved run on the same data.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `data` is not the data of the run (by
    /// fingerprint) or the state is inconsistent.
    pub fn resume(state: ConvTrainState, data: &Dataset) -> Result<ConvTrainer> {
        let c = &state.config;
        c.check(state.image)?;
        check_data(data, state.image, c)?;
        if data.fingerprint() != state.data {
            return Err(Error::InvalidParam {
                name: "data",
                reason: "not the data this run was trained on (rows, size or contents differ)".into(),
            });
        }
        let s = c.shape(state.image);
        let bs = c.optim.batch_size.min(data.len());
        let ok = state.model.shape() == s
            && state.model.visible_units() == c.visible
            && state.velocity[0].len() == s.n_weights()
            && state.velocity[1].len() == s.filters
            && state.velocity[2].len() == s.channels
            && state.cd_streams.len() == bs
            && state.order.len() == data.len()
            && state.chains.as_ref().map(|ch| ch.len()) == c.persistent.then_some(c.chains)
            && state.epoch <= c.optim.epochs;
        let mut seen = vec![false; data.len()];
        let perm = state
            .order
            .iter()
            .all(|&i| (i as usize) < seen.len() && !std::mem::replace(&mut seen[i as usize], true));
        if !ok || !perm {
            return Err(Error::InvalidParam {
                name: "checkpoint",
                reason: "inconsistent training state".into(),
            });
        }
        rng::check_streams(&state.cd_streams)?;
        rng::check_streams(std::slice::from_ref(&state.shuffle))?;
        let offsets = c.center_visible.then(|| channel_means(data, s.channels));
        Ok(ConvTrainer { shuffle: rng::to_generator(state.shuffle), st: state, offsets })
    }

    /// Whether every epoch of the settings has run.
    pub fn is_done(&self) -> bool {
        self.st.epoch >= self.st.config.optim.epochs
    }

    /// The model so far.
    pub fn model(&self) -> &ConvRbm {
        &self.st.model
    }

    /// The model, by value.
    pub fn into_model(self) -> ConvRbm {
        self.st.model
    }

    /// The complete state (to save a checkpoint).
    pub fn state(&self) -> ConvTrainState {
        let mut st = self.st.clone();
        st.shuffle = rng::from_generator(&self.shuffle);
        st
    }

    /// One epoch over `data` (the data the run started with).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when every epoch has run or `data` is not the
    /// run's data; [`Error::Diverged`] (the run is then unusable).
    pub fn run_epoch(&mut self, data: &Dataset) -> Result<ConvEpochReport> {
        if self.is_done() {
            return Err(Error::InvalidParam { name: "epochs", reason: "every epoch has run".into() });
        }
        if data.len() != self.st.order.len() || data.dim() != self.st.model.shape().n_visible() {
            return Err(Error::InvalidParam {
                name: "data",
                reason: "not the data this run was started on".into(),
            });
        }
        let t0 = Instant::now();
        let st = &mut self.st;
        let c = &st.config;
        let d = st.model.shape().n_visible();
        let epoch = st.epoch;
        let lr = c.optim.rate(epoch);
        let bs = c.optim.batch_size.min(data.len());
        shuffle_indices(&mut st.order, &mut self.shuffle);
        let mut batch = vec![0.0f32; bs * d];
        for idx in st.order.chunks(bs) {
            let pos = &mut batch[..idx.len() * d];
            for (row, &i) in pos.chunks_exact_mut(d).zip(idx) {
                row.copy_from_slice(data.row(i as usize));
            }
            let step = st.step;
            let diverged = |e: Error| Error::Diverged { epoch, step, reason: format!("{e}") };
            let neg_images: Vec<f32> = match st.chains.as_mut() {
                Some(ch) => {
                    ch.sweep(&st.model, c.k).map_err(diverged)?;
                    ch.visible().to_vec()
                }
                None => {
                    let streams = st.cd_streams[..idx.len()].to_vec();
                    let mut ch = ConvChains::with_images(&st.model, pos.to_vec(), streams)?;
                    ch.sweep(&st.model, c.k).map_err(diverged)?;
                    let (v, _, _, streams) = ch.into_parts();
                    st.cd_streams[..idx.len()].copy_from_slice(&streams);
                    v
                }
            };
            let plus = stats(&st.model, pos).map_err(diverged)?;
            let minus = stats(&st.model, &neg_images).map_err(diverged)?;
            let counts = (idx.len(), neg_images.len() / d);
            st.model =
                update(&st.model, c, lr, (&plus, &minus), counts, self.offsets.as_deref(), &mut st.velocity)
                    .map_err(|reason| Error::Diverged { epoch, step, reason })?;
            st.step += 1;
        }
        st.epoch += 1;
        let seconds = t0.elapsed().as_secs_f64();
        let monitor = &data.features()[..data.len().min(500) * d];
        let (reconstruction_error, detection_mean, pooling_mean, free_energy) = monitors(&st.model, monitor)?;
        Ok(ConvEpochReport {
            epoch: epoch + 1,
            learning_rate: lr,
            reconstruction_error,
            detection_mean,
            pooling_mean,
            free_energy,
            seconds,
        })
    }
}

/// One momentum-SGD step (module docs) from the data's and the chains'
/// statistics over `counts` images each; with visible `offsets` (centering,
/// [`ConvTrainConfig::center_visible`]) the filters move along the centered
/// gradient and the hidden biases take the change of `Σ_taps W μ`. `Err`
/// names a non-finite parameter.
fn update(
    model: &ConvRbm,
    c: &ConvTrainConfig,
    lr: f32,
    (plus, minus): (&Stats, &Stats),
    counts: (usize, usize),
    offsets: Option<&[f64]>,
    vel: &mut [Vec<f32>; 3],
) -> std::result::Result<ConvRbm, String> {
    let s = model.shape();
    let positions = s.positions() as f64;
    let pixels = (s.height * s.width) as f64;
    let (m, n) = (counts.0 as f64, counts.1 as f64);
    let (kk, ch) = (s.filters, s.channels);
    // Hidden-sum difference per filter (the centered filter gradient
    // subtracts μ times it from every tap).
    let dh: Vec<f64> = (0..kk).map(|k| plus.b[k] / m - minus.b[k] / n).collect();
    let mut w = model.weights().to_vec();
    // Σ over the taps of filter k of (velocity · μ): the hidden-bias
    // correction of centering.
    let mut shift = vec![0.0f64; kk];
    for (i, (wi, vi)) in w.iter_mut().zip(vel[0].iter_mut()).enumerate() {
        let mut stat = plus.w[i] / m - minus.w[i] / n;
        if let Some(mu) = offsets {
            stat -= mu[(i / kk) % ch] * dh[i % kk];
        }
        let g = (stat / positions) as f32 - c.optim.l2 * *wi;
        *vi = c.momentum * *vi + lr * g;
        *wi += *vi;
        if let Some(mu) = offsets {
            shift[i % kk] += *vi as f64 * mu[(i / kk) % ch];
        }
    }
    let mut b = model.hidden_bias().to_vec();
    for (k, (bk, vk)) in b.iter_mut().zip(vel[1].iter_mut()).enumerate() {
        let mean_plus = plus.b[k] / (m * positions);
        let g = dh[k] / positions + c.sparsity_cost as f64 * (c.sparsity_target as f64 - mean_plus);
        *vk = c.momentum * *vk + lr * g as f32;
        *bk += *vk - shift[k] as f32;
    }
    let mut vb = model.visible_bias().to_vec();
    for (ch, (cc, vc)) in vb.iter_mut().zip(vel[2].iter_mut()).enumerate() {
        let g = ((plus.c[ch] / m - minus.c[ch] / n) / pixels) as f32;
        *vc = c.momentum * *vc + lr * g;
        *cc += *vc;
    }
    ConvRbm::new(s, w, b, vb).map(|m| m.with_visible(model.visible_units())).map_err(|e| format!("{e}"))
}

/// The geometry of every layer of a stack of `configs` on images of
/// `image` shape (layer `l + 1`'s image is layer `l`'s pooling maps), with
/// every setting checked.
///
/// # Errors
/// [`Error::InvalidParam`] for no configs, a setting [`ConvTrainConfig::check`]
/// refuses, or Gaussian visible units above the first layer.
pub fn layer_shapes(image: ImageShape, configs: &[ConvTrainConfig]) -> Result<Vec<ConvShape>> {
    if configs.is_empty() {
        return Err(Error::InvalidParam { name: "layers", reason: "need at least one layer".into() });
    }
    if configs.iter().skip(1).any(|c| c.visible != ConvVisible::Bernoulli) {
        return Err(Error::InvalidParam {
            name: "visible",
            reason: "layers above the first see binary pooling units: only layer 1 may be Gaussian".into(),
        });
    }
    let mut below = image;
    let mut shapes = Vec::with_capacity(configs.len());
    for c in configs {
        c.check(below)?;
        let s = c.shape(below);
        below = (s.hidden_height() / s.pool, s.hidden_width() / s.pool, s.filters);
        shapes.push(s);
    }
    Ok(shapes)
}

/// Trains a convolutional DBN greedily (Lee et al. 2009, §3.4): layer 1 on
/// `data`, each next layer on binary samples of the pooling units of the
/// layer below given the up-pass probabilities ([`ConvDbn::features`]); the
/// image of layer `l + 1` is layer `l`'s pooling maps, `Hp × Wp × K`.
/// `configs[l]` sets layer `l + 1` (its filters, filter size, pool, epochs,
/// …); `on_epoch(layer, report)` is called with the layer from 1.
///
/// # Errors
/// As [`train_conv_rbm`] for each layer; [`Error::InvalidParam`] for no
/// configs.
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::train::conv::{ConvTrainConfig, train_conv_dbn};
/// let x: Vec<f32> = (0..40 * 144).map(|i| (((i % 12) + i / 144) % 4 == 0) as u8 as f32).collect();
/// let data = Dataset::new(x, 144)?; // 40 images of 12 × 12
/// let one = ConvTrainConfig::default().filters(4).filter_size(5).pool(2).epochs(1).batch_size(10).chains(10);
/// let two = one.clone().filters(3).filter_size(3).pool(2);
/// let net = train_conv_dbn(&data, (12, 12, 1), &[one, two], |_, _| {})?;
/// assert_eq!(net.feature_len(2)?, 3);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_conv_dbn(
    data: &Dataset,
    image: ImageShape,
    configs: &[ConvTrainConfig],
    mut on_epoch: impl FnMut(usize, &ConvEpochReport),
) -> Result<ConvDbn> {
    let mut t = super::conv_dbn::ConvDbnTrainer::new(data, image, configs)?;
    while !t.is_done() {
        let (layer, r) = t.run_epoch(data)?;
        on_epoch(layer, &r);
    }
    t.into_model()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every binary image of `d` pixels.
    fn all_images(d: usize) -> Vec<Vec<f32>> {
        (0..1usize << d).map(|code| (0..d).map(|i| ((code >> i) & 1) as f32).collect()).collect()
    }

    /// The average exact log-likelihood of `data` (`log Z` by enumeration).
    fn exact_ll(m: &ConvRbm, data: &[f32], images: &[Vec<f32>]) -> f64 {
        let neg_f: Vec<f64> = images.iter().map(|v| -m.free_energy(v).unwrap()).collect();
        let top = neg_f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_z = top + neg_f.iter().map(|x| (x - top).exp()).sum::<f64>().ln();
        let d = m.shape().n_visible();
        let n = data.len() / d;
        data.chunks_exact(d).map(|v| -m.free_energy(v).unwrap()).sum::<f64>() / n as f64 - log_z
    }

    /// The model's expectations of the statistics, `Σ_v p(v) stats(v)`,
    /// exact over `images` (every image of a one-channel model).
    fn exact_model_stats(m: &ConvRbm, images: &[Vec<f32>]) -> Stats {
        let s = m.shape();
        let neg_f: Vec<f64> = images.iter().map(|v| -m.free_energy(v).unwrap()).collect();
        let top = neg_f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = neg_f.iter().map(|x| (x - top).exp()).sum();
        let mut model = Stats { w: vec![0.0; s.n_weights()], b: vec![0.0; s.filters], c: vec![0.0; 1] };
        for (v, nf) in images.iter().zip(&neg_f) {
            let p = (nf - top).exp() / z;
            let st = stats(m, v).unwrap();
            model.w.iter_mut().zip(&st.w).for_each(|(o, x)| *o += p * x);
            model.b.iter_mut().zip(&st.b).for_each(|(o, x)| *o += p * x);
            model.c[0] += p * st.c[0];
        }
        model
    }

    /// Central difference (ε = 0.01) of the exact average log-likelihood
    /// of `data` along the models `mk(ε)`.
    fn central_difference(mk: &dyn Fn(f32) -> ConvRbm, data: &[f32], images: &[Vec<f32>]) -> f64 {
        let eps = 1e-2f32;
        (exact_ll(&mk(eps), data, images) - exact_ll(&mk(-eps), data, images)) / (2.0 * eps as f64)
    }

    /// The statistics the trainer's gradient is made of (`stats` of the
    /// data minus their expectation under the model, here exact by
    /// enumeration) equal central finite differences of the exact average
    /// log-likelihood, for every filter tap, hidden bias and visible bias
    /// of a tiny model with max-pooling (4 × 4 image, 2 filters of 3 × 3,
    /// 2 × 2 pooling; 65,536 images). They agree to about 1e-5 here; the
    /// tolerance is 5e-4 relative.
    #[test]
    fn gradient_statistics_match_finite_differences_of_the_exact_likelihood() {
        let s = ConvShape { height: 4, width: 4, channels: 1, filters: 2, filter_size: 3, pool: 2 };
        let m = ConvRbm::random(s, 0.6, -0.3, 11).unwrap();
        let m = ConvRbm::new(s, m.weights().to_vec(), m.hidden_bias().to_vec(), vec![-0.2]).unwrap();
        let d = s.n_visible();
        let data: Vec<f32> =
            (0..6 * d).map(|i| ((i * 2654435761usize) >> 5).is_multiple_of(3) as u8 as f32).collect();
        let images = all_images(d);
        let model = exact_model_stats(&m, &images);
        let (nw, kk) = (s.n_weights(), s.filters);
        let plus = stats(&m, &data).unwrap();
        let n = (data.len() / d) as f64;
        let grad = |x: &[f64], e: &[f64], i: usize| x[i] / n - e[i];
        let fd = |mk: &dyn Fn(f32) -> ConvRbm| central_difference(mk, &data, &images);
        let (w0, b0, c0) = (m.weights().to_vec(), m.hidden_bias().to_vec(), m.visible_bias().to_vec());
        for i in 0..nw {
            let num = fd(&|e| {
                let mut w = w0.clone();
                w[i] += e;
                ConvRbm::new(s, w, b0.clone(), c0.clone()).unwrap()
            });
            let g = grad(&plus.w, &model.w, i);
            assert!((num - g).abs() < 5e-4 * (1.0 + g.abs()), "weight {i}: {g} vs finite difference {num}");
        }
        for k in 0..kk {
            let num = fd(&|e| {
                let mut b = b0.clone();
                b[k] += e;
                ConvRbm::new(s, w0.clone(), b, c0.clone()).unwrap()
            });
            let g = grad(&plus.b, &model.b, k);
            assert!((num - g).abs() < 5e-4 * (1.0 + g.abs()), "hidden bias {k}: {g} vs {num}");
        }
        let num = fd(&|e| ConvRbm::new(s, w0.clone(), b0.clone(), vec![c0[0] + e]).unwrap());
        let g = grad(&plus.c, &model.c, 0);
        assert!((num - g).abs() < 5e-4 * (1.0 + g.abs()), "visible bias: {g} vs {num}");
        assert!(model.w.iter().any(|&x| x.abs() > 0.05), "a model with something to learn");
    }

    /// Centering: one step of `update` with visible offsets μ (momentum,
    /// weight decay and sparsity off, rate 1, the model's statistics exact
    /// by enumeration) moves the filters by the gradient of the exact
    /// log-likelihood in the centered coordinates — finite differences of
    /// `L(W + ε, b − ε·μ)`, the plain hidden bias following the tap — and
    /// the hidden biases by the centered bias gradient minus the change of
    /// `Σ_taps W μ`, so that `b′ = b + Σ_taps W μ` moved by its own gradient.
    /// Without offsets the same step is the plain gradient.
    #[test]
    fn centered_step_is_the_gradient_in_centered_coordinates() {
        let s = ConvShape { height: 4, width: 4, channels: 1, filters: 2, filter_size: 3, pool: 2 };
        let m = ConvRbm::random(s, 0.6, -0.3, 5).unwrap();
        let m = ConvRbm::new(s, m.weights().to_vec(), m.hidden_bias().to_vec(), vec![-0.4]).unwrap();
        let d = s.n_visible();
        let data: Vec<f32> = (0..5 * d).map(|i| ((i * 40503) >> 4).is_multiple_of(3) as u8 as f32).collect();
        let images = all_images(d);
        let model = exact_model_stats(&m, &images);
        let (nw, kk) = (s.n_weights(), s.filters);
        let plus = stats(&m, &data).unwrap();
        let n = data.len() / d;
        let mu = data.iter().map(|&x| x as f64).sum::<f64>() / data.len() as f64;
        let c = ConvTrainConfig::default().learning_rate(1.0).momentum(0.0).l2(0.0).sparsity_cost(0.0);
        let step = |offsets: Option<&[f64]>| {
            let mut vel = [vec![0.0; nw], vec![0.0; kk], vec![0.0; 1]];
            update(&m, &c, 1.0, (&plus, &model), (n, 1), offsets, &mut vel).unwrap()
        };
        let (centered, plain) = (step(Some(&[mu])), step(None));
        let positions = s.positions() as f64;
        let (w0, b0, c0) = (m.weights().to_vec(), m.hidden_bias().to_vec(), m.visible_bias().to_vec());
        let fd = |mk: &dyn Fn(f32) -> ConvRbm| central_difference(mk, &data, &images);
        let mut dw_centered = vec![0.0f64; nw];
        for i in 0..nw {
            let k = i % kk;
            let num = fd(&|e| {
                let (mut w, mut b) = (w0.clone(), b0.clone());
                w[i] += e;
                b[k] -= e * mu as f32;
                ConvRbm::new(s, w, b, c0.clone()).unwrap()
            });
            let got = (centered.weights()[i] - w0[i]) as f64 * positions;
            assert!(
                (num - got).abs() < 1e-3 * (1.0 + num.abs()),
                "tap {i}: step {got} vs centered gradient {num}"
            );
            let plain_got = (plain.weights()[i] - w0[i]) as f64 * positions;
            assert!((got - plain_got).abs() > 1e-3, "tap {i}: centering changed nothing");
            dw_centered[i] = got / positions;
        }
        for k in 0..kk {
            let num = fd(&|e| {
                let mut b = b0.clone();
                b[k] += e;
                ConvRbm::new(s, w0.clone(), b, c0.clone()).unwrap()
            });
            let taps: f64 = (0..nw).filter(|i| i % kk == k).map(|i| dw_centered[i] * mu).sum();
            let want = num / positions - taps;
            let got = (centered.hidden_bias()[k] - b0[k]) as f64;
            assert!((want - got).abs() < 1e-4 * (1.0 + want.abs()), "hidden bias {k}: {got} vs {want}");
        }
        assert_eq!(centered.visible_bias(), plain.visible_bias());
    }
}
