//! Block Gibbs sampling of convolutional RBMs ([`ConvRbm`]) over many
//! chains (images) at once, and of whole convolutional DBNs taken as one
//! undirected model ([`ConvDbnChains`]).
//!
//! One sweep is `h ~ p(h | v)` (probabilistic max-pooling: one uniform per
//! pooling block) then `v ~ p(v | h)` (one uniform per pixel). Each chain
//! owns a xoshiro256++ stream and its products are computed by one thread,
//! so the states are the same bits for any number of threads.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::conv;
use crate::kernels::{check_len, mul_dims};
use crate::model::conv_rbm::ImageScratch;
use crate::model::{ConvDbn, ConvRbm, ConvVisible};
use crate::rng::{self, StreamState};
use crate::simd;
use rayon::prelude::*;

/// An ensemble of Gibbs chains of a convolutional RBM: visible images,
/// detection maps and pooling units, one random stream per chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvChains {
    visible: Vec<f32>,
    hidden: Vec<f32>,
    pooled: Vec<f32>,
    streams: Vec<StreamState>,
    sweeps: u64,
}

/// Per-thread scratch of one chain's sweep.
struct SweepScratch {
    image: ImageScratch,
    vis: Vec<f32>,
    bits: Vec<u64>,
    u: Vec<f32>,
}

impl SweepScratch {
    fn new(m: &ConvRbm) -> SweepScratch {
        let s = m.shape();
        let most = s.n_visible().max(s.n_pooled());
        SweepScratch {
            image: ImageScratch::new(&s),
            vis: vec![0.0; s.n_visible()],
            bits: vec![0; most.div_ceil(2)],
            u: vec![0.0; most],
        }
    }

    /// `n` uniforms from the chain's stream into `self.u[..n]`.
    fn uniforms(&mut self, stream: &mut StreamState, n: usize) {
        let words = n.div_ceil(2);
        simd::xoshiro_fill(simd::active_isa(), std::slice::from_mut(stream), words, &mut self.bits[..words]);
        let raw: &[u32] = bytemuck::cast_slice(&self.bits[..words]);
        for (u, &r) in self.u[..n].iter_mut().zip(raw) {
            *u = rng::uniform_from_bits(r);
        }
    }
}

/// `h ~ p(h | v)` for one chain.
fn hidden_step(
    m: &ConvRbm,
    v: &[f32],
    h: &mut [f32],
    p: &mut [f32],
    stream: &mut StreamState,
    sc: &mut SweepScratch,
) -> Result<()> {
    let s = m.shape();
    m.logits_into(v, &mut sc.image);
    sc.uniforms(stream, s.n_pooled());
    // Lengths are fixed by the shape; the logits of a Bernoulli model are
    // bounded (`MAX_PARAM`), those of a Gaussian one follow its images,
    // which a model with huge weights can drive to overflow: an error then.
    conv::sample_max_pool(&s, &sc.image.logits, &sc.u[..s.n_pooled()], h, p, &mut [])
}

/// `v ~ p(v | h)` for one chain.
fn visible_step(m: &ConvRbm, v: &mut [f32], h: &[f32], stream: &mut StreamState, sc: &mut SweepScratch) {
    let n = v.len();
    m.visible_logits_binary(h, &mut sc.vis);
    match m.visible_units() {
        ConvVisible::Bernoulli => {
            crate::kernels::activation::sigmoid_in_place(&mut sc.vis);
            sc.uniforms(stream, n);
            for ((x, &p), &u) in v.iter_mut().zip(&sc.vis).zip(&sc.u[..n]) {
                *x = if u < p { 1.0 } else { 0.0 };
            }
        }
        ConvVisible::Gaussian => {
            rng::fill_normal(std::slice::from_mut(stream), n, v).expect("one stream, n outputs");
            for (x, &mean) in v.iter_mut().zip(&sc.vis) {
                *x += mean;
            }
        }
    }
}

impl ConvChains {
    /// `n` chains started from uniformly random binary images (each pixel
    /// on with probability ½; standard normal pixels for Gaussian visible
    /// units), streams from `seed`; the detection and pooling states are
    /// drawn at the first sweep.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `n = 0`, allocation failures.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::model::{ConvRbm, ConvShape};
    /// use boltzmann::sampler::ConvChains;
    /// let s = ConvShape { height: 6, width: 6, channels: 1, filters: 3, filter_size: 3, pool: 2 };
    /// let m = ConvRbm::random(s, 0.5, -1.0, 1)?;
    /// let mut c = ConvChains::new(&m, 8, 7)?;
    /// c.sweep(&m, 5)?;
    /// assert_eq!(c.visible().len(), 8 * 36);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn new(m: &ConvRbm, n: usize, seed: u64) -> Result<ConvChains> {
        if n == 0 {
            return Err(Error::InvalidParam { name: "chains", reason: "need at least one chain".into() });
        }
        let s = m.shape();
        let d = s.n_visible();
        let mut streams = rng::chain_streams(seed, n)?;
        let mut visible =
            crate::alloc::try_vec(mul_dims("chains × visible units", n, d)?, 0.0f32, "chain images")?;
        match m.visible_units() {
            ConvVisible::Bernoulli => {
                rng::fill_uniform(&mut streams, d, &mut visible)?;
                visible.iter_mut().for_each(|x| *x = if *x < 0.5 { 1.0 } else { 0.0 });
            }
            ConvVisible::Gaussian => rng::fill_normal(&mut streams, d, &mut visible)?,
        }
        Self::with_images(m, visible, streams)
    }

    /// One chain per row of `data` (images of the model's shape, binary for
    /// Bernoulli visible units), streams from `seed`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for rows of another size, [`Error::InvalidParam`]
    /// for no rows, [`Error::NotBinary`] for non-binary pixels of a Bernoulli
    /// model.
    pub fn from_data(m: &ConvRbm, data: &Dataset, seed: u64) -> Result<ConvChains> {
        if m.visible_units() == ConvVisible::Bernoulli {
            super::check_start_rows(data, m.shape().n_visible())?;
        } else if data.is_empty() || data.dim() != m.shape().n_visible() {
            check_len("start images (model visible units)", m.shape().n_visible(), data.dim())?;
            return Err(Error::InvalidParam { name: "start data", reason: "no rows".into() });
        }
        let streams = rng::chain_streams(seed, data.len())?;
        Self::with_images(m, data.features().to_vec(), streams)
    }

    /// Chains from images you own and your streams (one per image); pixels
    /// must be 0 or 1 (Bernoulli visible units) or finite (Gaussian).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::InvalidParam`] for non-binary or
    /// non-finite pixels or an all-zero stream.
    pub fn with_images(m: &ConvRbm, visible: Vec<f32>, streams: Vec<StreamState>) -> Result<ConvChains> {
        let s = m.shape();
        let n = streams.len();
        check_len(
            "chain images (chains × visible units)",
            mul_dims("chains × visible units", n, s.n_visible())?,
            visible.len(),
        )?;
        let bad = match m.visible_units() {
            ConvVisible::Bernoulli => visible.iter().position(|&x| x != 0.0 && x != 1.0),
            ConvVisible::Gaussian => visible.iter().position(|x| !x.is_finite()),
        };
        if let Some(i) = bad {
            let need = if m.visible_units() == ConvVisible::Bernoulli { "0 or 1" } else { "finite" };
            return Err(Error::InvalidParam {
                name: "chain images",
                reason: format!("pixel {i} is {} (need {need})", visible[i]),
            });
        }
        rng::check_streams(&streams)?;
        let hidden = crate::alloc::try_vec(
            mul_dims("chains × detection units", n, s.n_hidden())?,
            0.0f32,
            "detection states",
        )?;
        let pooled = crate::alloc::try_vec(
            mul_dims("chains × pooling units", n, s.n_pooled())?,
            0.0f32,
            "pooling states",
        )?;
        Ok(ConvChains { visible, hidden, pooled, streams, sweeps: 0 })
    }

    fn check_model(&self, m: &ConvRbm) -> Result<()> {
        let s = m.shape();
        check_len("chain images (model shape)", self.streams.len() * s.n_visible(), self.visible.len())?;
        check_len("detection states (model shape)", self.streams.len() * s.n_hidden(), self.hidden.len())
    }

    /// `k` sweeps (`h ~ p(h|v)`, then `v ~ p(v|h)`) of every chain, chains
    /// in parallel on the current rayon pool.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `m` is not the shape the chains were made
    /// for; [`Error::NonFinite`] if a detection logit overflows (only a
    /// Gaussian model with huge weights can drive its images that far; the
    /// states are then not usable).
    pub fn sweep(&mut self, m: &ConvRbm, k: usize) -> Result<()> {
        self.check_model(m)?;
        let s = m.shape();
        let (d, nh, np) = (s.n_visible(), s.n_hidden(), s.n_pooled());
        self.visible
            .par_chunks_mut(d)
            .zip(self.hidden.par_chunks_mut(nh))
            .zip(self.pooled.par_chunks_mut(np))
            .zip(self.streams.par_iter_mut())
            .try_for_each_init(
                || SweepScratch::new(m),
                |sc, (((v, h), p), st)| -> Result<()> {
                    for _ in 0..k {
                        hidden_step(m, v, h, p, st, sc)?;
                        visible_step(m, v, h, st, sc);
                    }
                    Ok(())
                },
            )?;
        self.sweeps += k as u64;
        Ok(())
    }

    /// `k` sweeps with every chain's pooling units held at its row of
    /// `pooled` (`chains × n_pooled`, 0 or 1): `h ~ p(h | v, pooled)`
    /// ([`conv::sample_max_pool_clamped`]), then `v ~ p(v | h)` — block
    /// Gibbs on `p(v, h | pooled)`, the down pass of a convolutional DBN
    /// ([`sample_conv_dbn`]). `pooled()` then holds the clamped states.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for another model or a wrong `pooled`
    /// length; [`Error::InvalidParam`] for a pooling state other than 0 or 1.
    pub fn sweep_clamped(&mut self, m: &ConvRbm, pooled: &[f32], k: usize) -> Result<()> {
        self.check_model(m)?;
        let s = m.shape();
        let (d, nh, np) = (s.n_visible(), s.n_hidden(), s.n_pooled());
        check_len("pooling states (chains × pooling units)", self.pooled.len(), pooled.len())?;
        if let Some(i) = pooled.iter().position(|&x| x != 0.0 && x != 1.0) {
            return Err(Error::InvalidParam {
                name: "pooled",
                reason: format!("pooling state {} at index {i} is not 0 or 1", pooled[i]),
            });
        }
        self.pooled.copy_from_slice(pooled);
        self.visible
            .par_chunks_mut(d)
            .zip(self.hidden.par_chunks_mut(nh))
            .zip(self.pooled.par_chunks(np))
            .zip(self.streams.par_iter_mut())
            .try_for_each_init(
                || SweepScratch::new(m),
                |sc, (((v, h), p), st)| -> Result<()> {
                    for _ in 0..k {
                        m.logits_into(v, &mut sc.image);
                        sc.uniforms(st, np);
                        conv::sample_max_pool_clamped(&s, &sc.image.logits, p, &sc.u[..np], h)?;
                        visible_step(m, v, h, st, sc);
                    }
                    Ok(())
                },
            )?;
        self.sweeps += k as u64;
        Ok(())
    }

    /// A final `h ~ p(h | v)` on every chain (so that `hidden` and `pooled`
    /// belong to the current images), without counting a sweep.
    ///
    /// # Errors
    /// As [`ConvChains::sweep`].
    pub fn sample_hidden(&mut self, m: &ConvRbm) -> Result<()> {
        self.check_model(m)?;
        let s = m.shape();
        let (d, nh, np) = (s.n_visible(), s.n_hidden(), s.n_pooled());
        self.visible
            .par_chunks(d)
            .zip(self.hidden.par_chunks_mut(nh))
            .zip(self.pooled.par_chunks_mut(np))
            .zip(self.streams.par_iter_mut())
            .try_for_each_init(
                || SweepScratch::new(m),
                |sc, (((v, h), p), st)| hidden_step(m, v, h, p, st, sc),
            )
    }

    /// Chains.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether there are no chains (never, for a constructed ensemble).
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Images, `chains × Hv·Wv·C`.
    pub fn visible(&self) -> &[f32] {
        &self.visible
    }

    /// Detection states, `chains × Hh·Wh·K` (from the last hidden step).
    pub fn hidden(&self) -> &[f32] {
        &self.hidden
    }

    /// Pooling states, `chains × Hp·Wp·K`.
    pub fn pooled(&self) -> &[f32] {
        &self.pooled
    }

    /// Sweeps done.
    pub fn sweeps_done(&self) -> u64 {
        self.sweeps
    }

    /// Each chain's random stream.
    pub fn streams(&self) -> &[StreamState] {
        &self.streams
    }

    /// Chains from every part of a saved ensemble ([`ConvChains::into_parts`]
    /// and [`ConvChains::sweeps_done`]), checked as [`ConvChains::with_images`]
    /// does, and the detection and pooling states of the model's sizes with
    /// values 0 or 1.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::InvalidParam`].
    pub fn from_state(
        m: &ConvRbm,
        visible: Vec<f32>,
        hidden: Vec<f32>,
        pooled: Vec<f32>,
        streams: Vec<StreamState>,
        sweeps: u64,
    ) -> Result<ConvChains> {
        let n = streams.len();
        let s = m.shape();
        let mut c = Self::with_images(m, visible, streams)?;
        check_len("detection states", mul_dims("chains × detection units", n, s.n_hidden())?, hidden.len())?;
        check_len("pooling states", mul_dims("chains × pooling units", n, s.n_pooled())?, pooled.len())?;
        if hidden.iter().chain(&pooled).any(|&x| x != 0.0 && x != 1.0) {
            return Err(Error::InvalidParam {
                name: "chain states",
                reason: "detection and pooling states must be 0 or 1".into(),
            });
        }
        c.hidden = hidden;
        c.pooled = pooled;
        c.sweeps = sweeps;
        Ok(c)
    }

    /// `(visible, hidden, pooled, streams)`.
    pub fn into_parts(self) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<StreamState>) {
        (self.visible, self.hidden, self.pooled, self.streams)
    }
}

/// Block Gibbs over a whole convolutional DBN taken as one undirected model
/// (Lee et al. 2009, §3.6): the pooling units of layer `l` are the visible
/// image of layer `l + 1`, so the energy is the sum of the layers' energies
/// with `p_l` in place of layer `l + 1`'s visible units. A sweep samples each
/// layer's detection and pooling units given the layer below (the image, or
/// `p_{l−1}`) and the top-down input of the layer above — the block
/// multinomial of unit `i` in block `α` has logit `I_i + T_α`, with
/// `T = c_{l+1} + Σ W_{l+1} * h_{l+1}` — bottom layer first, then the image
/// given layer 1. Each chain owns its stream; the same bits for any thread
/// count.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvDbnChains {
    visible: Vec<f32>,
    /// Per layer: detection states, pooling states (`chains ×` each).
    layers: Vec<(Vec<f32>, Vec<f32>)>,
    streams: Vec<StreamState>,
    sweeps: u64,
}

impl ConvDbnChains {
    /// `n` chains from uniformly random images (standard normal pixels for
    /// Gaussian visible units) and all-off hidden layers, streams from
    /// `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `n = 0`; allocation failures.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::model::{ConvDbn, ConvRbm, ConvShape};
    /// use boltzmann::sampler::ConvDbnChains;
    /// let s1 = ConvShape { height: 8, width: 8, channels: 1, filters: 3, filter_size: 3, pool: 2 };
    /// let s2 = ConvShape { height: 3, width: 3, channels: 3, filters: 2, filter_size: 2, pool: 2 };
    /// let net = ConvDbn::new(vec![ConvRbm::random(s1, 0.3, -1.0, 1)?, ConvRbm::random(s2, 0.3, -1.0, 2)?])?;
    /// let mut c = ConvDbnChains::new(&net, 4, 9)?;
    /// c.sweep(&net, 10)?;
    /// assert_eq!(c.visible().len(), 4 * 64);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn new(net: &ConvDbn, n: usize, seed: u64) -> Result<ConvDbnChains> {
        let first = ConvChains::new(&net.layers()[0], n, seed)?;
        let (visible, _, _, streams) = first.into_parts();
        let mut layers = Vec::with_capacity(net.layers().len());
        for m in net.layers() {
            let s = m.shape();
            layers.push((
                crate::alloc::try_vec(
                    mul_dims("chains × detection units", n, s.n_hidden())?,
                    0.0f32,
                    "detection states",
                )?,
                crate::alloc::try_vec(
                    mul_dims("chains × pooling units", n, s.n_pooled())?,
                    0.0f32,
                    "pooling states",
                )?,
            ));
        }
        Ok(ConvDbnChains { visible, layers, streams, sweeps: 0 })
    }

    fn check_net(&self, net: &ConvDbn) -> Result<()> {
        let n = self.streams.len();
        let same = net.layers().len() == self.layers.len()
            && net.layers()[0].shape().n_visible() * n == self.visible.len()
            && net.layers().iter().zip(&self.layers).all(|(m, (h, p))| {
                h.len() == n * m.shape().n_hidden() && p.len() == n * m.shape().n_pooled()
            });
        if same {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what: "network (not the one the chains were made for)",
                expected: 0,
                got: 1,
            })
        }
    }

    /// `k` sweeps of every chain (struct docs), chains in parallel.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for another network; [`Error::NonFinite`] as
    /// [`ConvChains::sweep`].
    pub fn sweep(&mut self, net: &ConvDbn, k: usize) -> Result<()> {
        self.check_net(net)?;
        let n = self.streams.len();
        let d = net.layers()[0].shape().n_visible();
        // Per chain: mutable views of its rows in every layer.
        let mut rows: Vec<Vec<(&mut [f32], &mut [f32])>> = (0..n).map(|_| Vec::new()).collect();
        for (m, (h, p)) in net.layers().iter().zip(self.layers.iter_mut()) {
            let s = m.shape();
            for (r, (hc, pc)) in
                rows.iter_mut().zip(h.chunks_mut(s.n_hidden()).zip(p.chunks_mut(s.n_pooled())))
            {
                r.push((hc, pc));
            }
        }
        self.visible
            .par_chunks_mut(d)
            .zip(rows.par_iter_mut())
            .zip(self.streams.par_iter_mut())
            .try_for_each_init(
                || DbnScratch::new(net),
                |sc, ((v, layers), st)| -> Result<()> {
                    for _ in 0..k {
                        dbn_sweep(net, v, layers, st, sc)?;
                    }
                    Ok(())
                },
            )?;
        self.sweeps += k as u64;
        Ok(())
    }

    /// Chains.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether there are no chains (never, for a constructed ensemble).
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Images, `chains × Hv·Wv·C`.
    pub fn visible(&self) -> &[f32] {
        &self.visible
    }

    /// Detection states of layer `l` (from 1), `chains × Hh·Wh·K`.
    ///
    /// # Panics
    /// If the layer does not exist.
    pub fn hidden(&self, l: usize) -> &[f32] {
        &self.layers[l - 1].0
    }

    /// Pooling states of layer `l` (from 1), `chains × Hp·Wp·K`.
    ///
    /// # Panics
    /// If the layer does not exist.
    pub fn pooled(&self, l: usize) -> &[f32] {
        &self.layers[l - 1].1
    }

    /// Sweeps done.
    pub fn sweeps_done(&self) -> u64 {
        self.sweeps
    }
}

/// Per-thread scratch of one chain's network sweep: one per layer.
struct DbnScratch {
    layers: Vec<SweepScratch>,
    top_down: Vec<Vec<f32>>,
}

impl DbnScratch {
    fn new(net: &ConvDbn) -> DbnScratch {
        DbnScratch {
            layers: net.layers().iter().map(SweepScratch::new).collect(),
            top_down: net.layers().iter().map(|m| vec![0.0; m.shape().n_pooled()]).collect(),
        }
    }
}

/// One sweep of one chain (see [`ConvDbnChains`]).
fn dbn_sweep(
    net: &ConvDbn,
    v: &mut [f32],
    layers: &mut [(&mut [f32], &mut [f32])],
    stream: &mut StreamState,
    sc: &mut DbnScratch,
) -> Result<()> {
    let ms = net.layers();
    let top = ms.len() - 1;
    for l in 0..=top {
        let s = ms[l].shape();
        // Top-down input to this layer's pooling units: layer l+1's visible
        // logits (bias included) given its detection states.
        if l < top {
            ms[l + 1].visible_logits_binary(layers[l + 1].0, &mut sc.top_down[l]);
        }
        let (below, here) = layers.split_at_mut(l);
        let input: &[f32] = if l == 0 { v } else { below[l - 1].1 };
        let scr = &mut sc.layers[l];
        ms[l].logits_into(input, &mut scr.image);
        if l < top {
            let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
            let wp = wh / p;
            let t = &sc.top_down[l];
            for (pos, lg) in scr.image.logits.chunks_exact_mut(kk).enumerate() {
                let (y, x) = (pos / wh, pos % wh);
                let tb = &t[((y / p) * wp + x / p) * kk..][..kk];
                lg.iter_mut().zip(tb).for_each(|(a, &b)| *a += b);
            }
        }
        scr.uniforms(stream, s.n_pooled());
        let (h, p) = &mut here[0];
        conv::sample_max_pool(&s, &scr.image.logits, &scr.u[..s.n_pooled()], h, p, &mut [])?;
    }
    visible_step(&ms[0], v, layers[0].0, stream, &mut sc.layers[0]);
    Ok(())
}

/// Samples of a convolutional DBN as a DBN generates them (the top-level
/// RBM, then a pass down; Hinton, Osindero & Teh 2006), with the pooling
/// units as the interface between layers: `top_sweeps` of block Gibbs in
/// the top layer's RBM alone give the pooling maps of the layer below (its
/// visible units); each layer below then draws its images from its own
/// RBM's `p(v | pooled)` by `down_sweeps` of Gibbs with its pooling units
/// clamped to those maps ([`ConvChains::sweep_clamped`]; exact as the
/// sweeps grow), and its images are the clamp of the next layer down.
/// Unlike joint Gibbs over the whole stack ([`ConvDbnChains`]), no layer's
/// prior is counted twice. Returns the bottom layer's final images and
/// their `p(v | h)` (means for Gaussian units), `n × n_visible` each; the
/// same for any thread count.
///
/// # Errors
/// [`Error::InvalidParam`] for `n = 0`; as [`ConvChains::sweep`].
///
/// # Examples
/// ```
/// use boltzmann::model::{ConvDbn, ConvRbm, ConvShape};
/// use boltzmann::sampler::sample_conv_dbn;
/// let s1 = ConvShape { height: 8, width: 8, channels: 1, filters: 3, filter_size: 3, pool: 2 };
/// let s2 = ConvShape { height: 3, width: 3, channels: 3, filters: 2, filter_size: 2, pool: 2 };
/// let net = ConvDbn::new(vec![ConvRbm::random(s1, 0.3, -1.0, 1)?, ConvRbm::random(s2, 0.3, -1.0, 2)?])?;
/// let (images, means) = sample_conv_dbn(&net, 4, (20, 10), 9)?;
/// assert_eq!((images.len(), means.len()), (4 * 64, 4 * 64));
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn sample_conv_dbn(
    net: &ConvDbn,
    n: usize,
    (top_sweeps, down_sweeps): (usize, usize),
    seed: u64,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let layers = net.layers();
    let top = layers.last().expect("a network has a layer");
    let mut chains = ConvChains::new(top, n, seed)?;
    chains.sweep(top, top_sweeps)?;
    for (l, m) in layers.iter().enumerate().rev().skip(1) {
        let clamp = chains.visible;
        let down = rng::derive(seed, rng::Purpose::ConvDbnDownPass).wrapping_add(l as u64);
        chains = ConvChains::new(m, n, down)?;
        chains.sweep_clamped(m, &clamp, down_sweeps)?;
    }
    // `chains` now holds the bottom layer; its last images were drawn from
    // its detection states.
    let bottom = &layers[0];
    let d = bottom.shape().n_visible();
    let mut means = crate::alloc::try_vec(chains.visible.len(), 0.0f32, "sample means")?;
    means
        .par_chunks_mut(d)
        .zip(chains.hidden.par_chunks(bottom.shape().n_hidden()))
        .try_for_each(|(out, h)| bottom.visible_probs(h, out))?;
    Ok((chains.visible, means))
}
