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
use crate::rng;
use crate::sampler::ConvChains;
use crate::train::Schedule;
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
    /// Learning rate (default 0.2).
    pub learning_rate: f32,
    /// Learning-rate schedule over the epochs (default: linear to 0.02).
    pub schedule: Schedule,
    /// Momentum (default 0.5).
    pub momentum: f32,
    /// L2 weight decay on the filters (default 1e-4).
    pub l2: f32,
    /// Target mean activation `ρ` of the detection units (default 0.02).
    pub sparsity_target: f32,
    /// Strength `λ` of the sparsity term on the hidden biases (default 0.1;
    /// 0 turns it off). On MNIST, λ = 1 with the L2 default made every
    /// filter a blob; 0.1 keeps stroke-like filters.
    pub sparsity_cost: f32,
    /// Images per update (default 50).
    pub batch_size: usize,
    /// Epochs (default 5).
    pub epochs: usize,
    /// Standard deviation of the initial filters (default 0.01).
    pub weight_init_std: f32,
    /// Initial hidden biases (default −2: sparse detection maps from the
    /// start).
    pub initial_hidden_bias: f32,
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
    learning_rate: f32,
    schedule: Schedule,
    momentum: f32,
    l2: f32,
    sparsity_target: f32,
    sparsity_cost: f32,
    batch_size: usize,
    epochs: usize,
    weight_init_std: f32,
    initial_hidden_bias: f32,
    seed: u64,
});

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
            learning_rate: 0.2,
            schedule: Schedule::Linear { final_lr: 0.02 },
            momentum: 0.5,
            l2: 1e-4,
            sparsity_target: 0.02,
            sparsity_cost: 0.1,
            batch_size: 50,
            epochs: 5,
            weight_init_std: 0.01,
            initial_hidden_bias: -2.0,
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
        if c.k == 0 || c.batch_size == 0 || c.epochs == 0 || (c.persistent && c.chains == 0) {
            return bad("k / batch_size / epochs / chains", "must be ≥ 1".into());
        }
        super::check_sgd(c.learning_rate, c.momentum, c.l2, c.weight_init_std)?;
        c.schedule.check()?;
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

/// Momentum-SGD state of the three parameter groups.
struct Velocity {
    w: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
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
    let c = config;
    c.check(image)?;
    let s = c.shape(image);
    let d = s.n_visible();
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
    let mut model = ConvRbm::random(s, c.weight_init_std, c.initial_hidden_bias, c.seed)?;
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
    model = ConvRbm::new(s, w0, b0, vb)?.with_visible(c.visible);
    let bs = c.batch_size.min(data.len());
    let n_neg = if c.persistent { c.chains } else { bs };
    crate::alloc::check_bytes("batch and chains (images)", (bs + n_neg) as u128 * d as u128, 4)?;
    let chain_seed = rng::derive(c.seed, rng::Purpose::ConvChains);
    let mut chains = if c.persistent { Some(ConvChains::new(&model, c.chains, chain_seed)?) } else { None };
    let mut cd_streams = rng::chain_streams(chain_seed, bs)?;
    let mut order: Vec<u32> = (0..data.len() as u32).collect();
    let mut shuffle =
        rng::to_generator(rng::chain_streams(rng::derive(c.seed, rng::Purpose::ConvOrder), 1)?[0]);
    let mut vel = Velocity { w: vec![0.0; s.n_weights()], b: vec![0.0; s.filters], c: vec![0.0; s.channels] };
    let monitor = &data.features()[..data.len().min(500) * d];
    let mut batch = vec![0.0f32; bs * d];
    let mut step = 0u64;
    for epoch in 0..c.epochs {
        let t0 = Instant::now();
        let lr = c.schedule.at(c.learning_rate, epoch, c.epochs);
        shuffle_indices(&mut order, &mut shuffle);
        for idx in order.chunks(bs) {
            let pos = &mut batch[..idx.len() * d];
            for (row, &i) in pos.chunks_exact_mut(d).zip(idx) {
                row.copy_from_slice(data.row(i as usize));
            }
            let diverged = |e: Error| Error::Diverged { epoch, step, reason: format!("{e}") };
            let neg_images: Vec<f32> = match chains.as_mut() {
                Some(ch) => {
                    ch.sweep(&model, c.k).map_err(diverged)?;
                    ch.visible().to_vec()
                }
                None => {
                    let streams = cd_streams[..idx.len()].to_vec();
                    let mut ch = ConvChains::with_images(&model, pos.to_vec(), streams)?;
                    ch.sweep(&model, c.k).map_err(diverged)?;
                    let (v, _, _, st) = ch.into_parts();
                    cd_streams[..idx.len()].copy_from_slice(&st);
                    v
                }
            };
            let plus = stats(&model, pos).map_err(diverged)?;
            let minus = stats(&model, &neg_images).map_err(diverged)?;
            model = update(&model, c, lr, &plus, idx.len(), &minus, neg_images.len() / d, &mut vel)
                .map_err(|reason| Error::Diverged { epoch, step, reason })?;
            step += 1;
        }
        let seconds = t0.elapsed().as_secs_f64();
        let (reconstruction_error, detection_mean, pooling_mean, free_energy) = monitors(&model, monitor)?;
        on_epoch(&ConvEpochReport {
            epoch: epoch + 1,
            learning_rate: lr,
            reconstruction_error,
            detection_mean,
            pooling_mean,
            free_energy,
            seconds,
        });
    }
    Ok(model)
}

/// One momentum-SGD step (module docs); `Err` names a non-finite parameter.
#[allow(clippy::too_many_arguments)]
fn update(
    model: &ConvRbm,
    c: &ConvTrainConfig,
    lr: f32,
    plus: &Stats,
    m: usize,
    minus: &Stats,
    n: usize,
    vel: &mut Velocity,
) -> std::result::Result<ConvRbm, String> {
    let s = model.shape();
    let positions = s.positions() as f64;
    let pixels = (s.height * s.width) as f64;
    let (m, n) = (m as f64, n as f64);
    let mut w = model.weights().to_vec();
    for (i, (wi, vi)) in w.iter_mut().zip(vel.w.iter_mut()).enumerate() {
        let g = ((plus.w[i] / m - minus.w[i] / n) / positions) as f32 - c.l2 * *wi;
        *vi = c.momentum * *vi + lr * g;
        *wi += *vi;
    }
    let mut b = model.hidden_bias().to_vec();
    for (k, (bk, vk)) in b.iter_mut().zip(vel.b.iter_mut()).enumerate() {
        let mean_plus = plus.b[k] / (m * positions);
        let g = (plus.b[k] / m - minus.b[k] / n) / positions
            + c.sparsity_cost as f64 * (c.sparsity_target as f64 - mean_plus);
        *vk = c.momentum * *vk + lr * g as f32;
        *bk += *vk;
    }
    let mut vb = model.visible_bias().to_vec();
    for (ch, (cc, vc)) in vb.iter_mut().zip(vel.c.iter_mut()).enumerate() {
        let g = ((plus.c[ch] / m - minus.c[ch] / n) / pixels) as f32;
        *vc = c.momentum * *vc + lr * g;
        *cc += *vc;
    }
    ConvRbm::new(s, w, b, vb).map(|m| m.with_visible(model.visible_units())).map_err(|e| format!("{e}"))
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
    if configs.is_empty() {
        return Err(Error::InvalidParam { name: "layers", reason: "need at least one layer".into() });
    }
    // Every layer's geometry is known before any training: check them all.
    if configs.iter().skip(1).any(|c| c.visible != ConvVisible::Bernoulli) {
        return Err(Error::InvalidParam {
            name: "visible",
            reason: "layers above the first see binary pooling units: only layer 1 may be Gaussian".into(),
        });
    }
    let mut shape = image;
    for c in configs {
        c.check(shape)?;
        let s = c.shape(shape);
        shape = (s.hidden_height() / s.pool, s.hidden_width() / s.pool, s.filters);
    }
    let mut layers: Vec<ConvRbm> = Vec::with_capacity(configs.len());
    let mut input = std::borrow::Cow::Borrowed(data);
    let mut shape = image;
    for (l, c) in configs.iter().enumerate() {
        let m = train_conv_rbm(&input, shape, c, |r| on_epoch(l + 1, r))?;
        let s = m.shape();
        shape = (s.hidden_height() / s.pool, s.hidden_width() / s.pool, s.filters);
        if l + 1 < configs.len() {
            let mut p = crate::alloc::try_vec(input.len() * s.n_pooled(), 0.0f32, "pooling probabilities")?;
            m.hidden_probs(input.features(), &mut [], &mut p)?;
            let np = s.n_pooled();
            let mut streams = rng::chain_streams(rng::derive(c.seed, rng::Purpose::ConvLayers), input.len())?;
            p.par_chunks_mut(np).zip(streams.par_iter_mut()).try_for_each(|(row, st)| -> Result<()> {
                let mut u = vec![0.0f32; np];
                rng::fill_uniform(std::slice::from_mut(st), np, &mut u)?;
                row.iter_mut().zip(&u).for_each(|(x, &u)| *x = if u < *x { 1.0 } else { 0.0 });
                Ok(())
            })?;
            input = std::borrow::Cow::Owned(Dataset::new(p, np)?);
        }
        layers.push(m);
    }
    ConvDbn::new(layers)
}
