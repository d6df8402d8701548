//! Log-partition functions and log-probabilities of convolutional RBMs
//! ([`ConvRbm`]): exactly for small ones, by enumerating the visible images
//! with the closed-form free energy, `log Z = log Σ_v exp(−F(v))` (at most
//! 2^24 images), and by annealed importance sampling ([`ais`]) for the
//! others, with reverse annealing ([`raise`]) for a conservative bound.

use super::ais::{
    AisConfig, AisEstimate, RaiseConfig, RaiseEstimate, check_schedule, raise_summary, summarize,
};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::activation::sigmoid_in_place;
use crate::kernels::conv::{self, ConvShape};
use crate::model::conv_rbm::ImageScratch;
use crate::model::rbm::softplus_f64;
use crate::model::{ConvRbm, ConvVisible};
use crate::rng::{self, StreamState};
use rayon::prelude::*;

/// Most visible units [`log_z_exact`] enumerates.
pub const MAX_EXACT_PIXELS: usize = 24;

/// Images per block of the enumeration.
const BLOCK: usize = 4096;

/// `log Z` of a convolutional RBM by enumeration over its `2^D` images.
///
/// # Errors
/// [`Error::InvalidParam`] when `D > MAX_EXACT_PIXELS`.
///
/// # Examples
/// ```
/// use boltzmann::model::{ConvRbm, ConvShape};
/// let s = ConvShape { height: 2, width: 2, channels: 1, filters: 1, filter_size: 1, pool: 2 };
/// // Zero weights and biases: 2^4 images × (1 + 4 units) per block.
/// let m = ConvRbm::new(s, vec![0.0], vec![0.0], vec![0.0])?;
/// let lz = boltzmann::eval::conv::log_z_exact(&m)?;
/// assert!((lz - (16.0f64 * 5.0).ln()).abs() < 1e-9);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn log_z_exact(m: &ConvRbm) -> Result<f64> {
    let d = m.shape().n_visible();
    if d > MAX_EXACT_PIXELS {
        return Err(Error::InvalidParam {
            name: "model",
            reason: format!("enumerating 2^{d} images is too much (at most 2^{MAX_EXACT_PIXELS})"),
        });
    }
    let total = 1usize << d;
    let mut fe = Vec::with_capacity(total);
    let mut images = vec![0.0f32; BLOCK.min(total) * d];
    let mut out = vec![0.0f64; BLOCK.min(total)];
    for start in (0..total).step_by(BLOCK) {
        let n = BLOCK.min(total - start);
        for (i, img) in images[..n * d].chunks_exact_mut(d).enumerate() {
            for (j, x) in img.iter_mut().enumerate() {
                *x = (((start + i) >> j) & 1) as f32;
            }
        }
        m.free_energy_batch(&images[..n * d], &mut out[..n])?;
        fe.extend_from_slice(&out[..n]);
    }
    let mx = fe.iter().map(|f| -f).fold(f64::NEG_INFINITY, f64::max);
    Ok(mx + fe.iter().map(|f| (-f - mx).exp()).sum::<f64>().ln())
}

/// Average `log p(v) = −F(v) − log Z` over the rows of `data`.
///
/// # Errors
/// [`Error::ShapeMismatch`] for rows of another size, as
/// [`ConvRbm::free_energy_batch`] otherwise.
pub fn average_log_prob(m: &ConvRbm, data: &Dataset, log_z: f64) -> Result<f64> {
    let d = m.shape().n_visible();
    if data.dim() != d {
        return Err(Error::ShapeMismatch {
            what: "images (model visible units)",
            expected: d,
            got: data.dim(),
        });
    }
    let mut fe = vec![0.0f64; data.len()];
    m.free_energy_batch(data.features(), &mut fe)?;
    Ok(-fe.iter().sum::<f64>() / data.len().max(1) as f64 - log_z)
}

/// `log Z` of a binary-visible convolutional RBM by annealed importance
/// sampling (Neal 2001), in the manner of Salakhutdinov & Murray (ICML 2008)
/// for RBMs: from the base-rate model with per-pixel visible biases
/// `base_bias` (`a`, e.g. [`crate::eval::base_rate_biases`] of the training
/// images), no weights and no hidden biases, to `m`. The intermediate
/// models are convolutional RBMs with probabilistic max-pooling, filters
/// `βW`, hidden biases `βb` and per-pixel visible biases `(1−β)aᵢ + βc`:
///
/// `log p*_β(v) = Σᵢ ((1−β)aᵢ + β c_ch(i)) vᵢ + Σ_{k,α} log(1 + Σ_{B_α} e^{β Iᵏ})`
///
/// with `I = b + W̃ * v`. The transition at `β` is one block-Gibbs sweep of
/// that model (hidden blocks by the max-pooling sampler, then the pixels),
/// which leaves `p_β` invariant. `log Z_A = Σᵢ softplus(aᵢ) + K·blocks·log(1 + P²)`
/// (at β = 0 every pooling block has `P² + 1` equally likely states). The
/// weight increments are accumulated in f64 (see `pool_difference` for how
/// the pooling terms keep their precision). Each run
/// is one image chain with its own stream, runs in parallel: the same
/// estimate for any thread count. [`AisEstimate`]'s interval is as for RBMs.
///
/// # Errors
/// [`Error::InvalidParam`] for Gaussian visible units (no base model here),
/// no runs, a schedule that does not rise from 0 to 1, `base_bias` not one
/// finite value per pixel.
///
/// # Examples
/// ```
/// use boltzmann::eval::{AisConfig, conv, linear_schedule};
/// use boltzmann::model::{ConvRbm, ConvShape};
/// let s = ConvShape { height: 3, width: 3, channels: 1, filters: 2, filter_size: 2, pool: 2 };
/// let m = ConvRbm::random(s, 1.0, -0.5, 4)?;
/// let config = AisConfig::default().runs(200).schedule(linear_schedule(1000)).seed(1);
/// let est = conv::ais(&m, &[0.0; 9], &config)?;
/// assert!((est.log_z - conv::log_z_exact(&m)?).abs() < 0.05);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn ais(m: &ConvRbm, base_bias: &[f32], config: &AisConfig) -> Result<AisEstimate> {
    check_model_and_base(m, base_bias)?;
    if config.runs == 0 {
        return Err(Error::InvalidParam { name: "runs", reason: "need at least one AIS run".into() });
    }
    check_schedule(&config.schedule)?;
    let mut streams = rng::chain_streams(config.seed, config.runs)?;
    let logw = streams
        .par_iter_mut()
        .map(|st| anneal(m, base_bias, &config.schedule, st))
        .collect::<Result<Vec<f64>>>()?;
    Ok(summarize(log_z_base(m, base_bias), logw))
}

/// Binary visible units and one finite base bias per pixel.
fn check_model_and_base(m: &ConvRbm, base_bias: &[f32]) -> Result<()> {
    if m.visible_units() != ConvVisible::Bernoulli {
        return Err(Error::InvalidParam {
            name: "model",
            reason: "annealing is implemented for binary visible units only (the base model is Bernoulli)"
                .into(),
        });
    }
    let d = m.shape().n_visible();
    if base_bias.len() != d || base_bias.iter().any(|b| !b.is_finite()) {
        return Err(Error::InvalidParam {
            name: "base biases",
            reason: format!("need {d} finite values (one per pixel)"),
        });
    }
    Ok(())
}

/// `log Z_A = Σᵢ softplus(aᵢ) + K·blocks·log(1 + P²)`.
fn log_z_base(m: &ConvRbm, base_bias: &[f32]) -> f64 {
    let s = m.shape();
    let pool_states = ((s.pool * s.pool + 1) as f64).ln() * s.n_pooled() as f64;
    base_bias.iter().map(|&a| softplus_f64(a as f64)).sum::<f64>() + pool_states
}

/// One AIS run: the image chain from the base model through the schedule;
/// returns its log weight.
fn anneal(m: &ConvRbm, a: &[f32], schedule: &[f64], stream: &mut StreamState) -> Result<f64> {
    let mut c = Annealer::new(m, a);
    c.sample_base(stream);
    let mut logw = 0.0f64;
    for k in 1..schedule.len() {
        logw += c.increment(schedule[k - 1], schedule[k]);
        if k + 1 < schedule.len() {
            c.transition(schedule[k], stream)?;
        }
    }
    Ok(logw)
}

/// One annealing chain of one image: its state and scratch.
struct Annealer<'a> {
    m: &'a ConvRbm,
    /// Base-model pixel biases.
    a: &'a [f32],
    /// `c_ch(i) − aᵢ`: the visible part of `d log p*_β / dβ`.
    cdiff: Vec<f64>,
    v: Vec<f32>,
    vis: Vec<f32>,
    h: Vec<f32>,
    pooled: Vec<f32>,
    scaled: Vec<f32>,
    u: Vec<f32>,
    bits: Vec<u64>,
    image: ImageScratch,
    pool: PoolScratch,
    /// `image.logits` holds `I = b + W̃ * v` for the current `v`.
    logits_valid: bool,
}

impl<'a> Annealer<'a> {
    fn new(m: &'a ConvRbm, a: &'a [f32]) -> Annealer<'a> {
        let s = m.shape();
        let d = s.n_visible();
        let u = vec![0.0f32; d.max(s.n_pooled())];
        Annealer {
            m,
            a,
            cdiff: a
                .iter()
                .zip(m.visible_bias().iter().cycle())
                .map(|(&a, &c)| c as f64 - a as f64)
                .collect(),
            v: vec![0.0; d],
            vis: vec![0.0; d],
            h: vec![0.0; s.n_hidden()],
            pooled: vec![0.0; s.n_pooled()],
            scaled: vec![0.0; s.n_hidden()],
            bits: vec![0; u.len().div_ceil(2)],
            u,
            image: ImageScratch::new(&s),
            pool: PoolScratch::new(&s),
            logits_valid: false,
        }
    }

    /// `v ~ p_A`: independent pixels with probabilities `σ(a)`.
    fn sample_base(&mut self, stream: &mut StreamState) {
        let d = self.v.len();
        self.vis.copy_from_slice(self.a);
        sigmoid_in_place(&mut self.vis);
        uniforms(stream, &mut self.bits, &mut self.u[..d]);
        for ((x, &p), &ui) in self.v.iter_mut().zip(&self.vis).zip(&self.u) {
            *x = if ui < p { 1.0 } else { 0.0 };
        }
        self.logits_valid = false;
    }

    fn set_image(&mut self, img: &[f32]) {
        self.v.copy_from_slice(img);
        self.logits_valid = false;
    }

    fn logits(&mut self) {
        if !self.logits_valid {
            self.m.logits_into(&self.v, &mut self.image);
            self.logits_valid = true;
        }
    }

    /// `log p*_{β₁}(v) − log p*_{β₀}(v)` at the current image.
    fn increment(&mut self, b0: f64, b1: f64) -> f64 {
        self.logits();
        let lin: f64 = self.v.iter().zip(&self.cdiff).filter(|(x, _)| **x != 0.0).map(|(_, c)| c).sum();
        (b1 - b0) * lin + pool_difference(&self.m.shape(), &self.image.logits, b0, b1, &mut self.pool)
    }

    /// One block-Gibbs sweep at `β`: `h ~ p_β(h | v)` (max-pooling on
    /// `β·I`), then `v ~ p_β(v | h) = σ((1−β)aᵢ + β(c + Σ W * h)ᵢ)`.
    fn transition(&mut self, beta: f64, stream: &mut StreamState) -> Result<()> {
        let s = self.m.shape();
        let (d, np) = (s.n_visible(), s.n_pooled());
        self.logits();
        let bf = beta as f32;
        self.scaled.iter_mut().zip(&self.image.logits).for_each(|(o, &x)| *o = bf * x);
        uniforms(stream, &mut self.bits, &mut self.u[..np]);
        conv::sample_max_pool(&s, &self.scaled, &self.u[..np], &mut self.h, &mut self.pooled, &mut [])?;
        self.m.visible_logits_binary(&self.h, &mut self.vis);
        for (x, &ai) in self.vis.iter_mut().zip(self.a) {
            *x = (1.0 - bf) * ai + bf * *x;
        }
        sigmoid_in_place(&mut self.vis);
        uniforms(stream, &mut self.bits, &mut self.u[..d]);
        for ((x, &p), &ui) in self.v.iter_mut().zip(&self.vis).zip(&self.u) {
            *x = if ui < p { 1.0 } else { 0.0 };
        }
        self.logits_valid = false;
        Ok(())
    }
}

/// Reverse annealing (RAISE; Burda, Grosse & Salakhutdinov, AISTATS 2015)
/// for a binary convolutional RBM: a stochastic **lower** bound on each
/// example's log-probability, to set beside [`ais`] (see
/// [`crate::eval::raise`] for the construction). Each of the
/// `runs_per_example` chains of an example starts at the example, runs the
/// transitions of [`ais`] backwards (`β` from 1 down to 0) and weighs
/// `log p*` at each new image; the example's estimate is
/// `−F(v) − log Z_A − log mean exp(Σ increments)` over its chains. Chains in
/// parallel, each with its own stream (chain `e·r + j` of `seed`): the same
/// estimates for any thread count.
///
/// # Errors
/// As [`ais`] for the model, schedule and base biases;
/// [`Error::InvalidParam`] for no runs or no examples;
/// [`Error::ShapeMismatch`] for images of another size;
/// [`Error::NotBinary`] for non-binary images.
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::eval::{RaiseConfig, conv, linear_schedule};
/// use boltzmann::model::{ConvRbm, ConvShape};
/// let s = ConvShape { height: 3, width: 3, channels: 1, filters: 2, filter_size: 2, pool: 2 };
/// let m = ConvRbm::random(s, 1.0, -0.5, 4)?;
/// let data = Dataset::new((0..90).map(|i| ((i * 5 % 7) < 3) as u8 as f32).collect(), 9)?;
/// let config = RaiseConfig::default().runs_per_example(4).schedule(linear_schedule(500)).seed(2);
/// let est = conv::raise(&m, &[0.0; 9], &data, &config)?;
/// let exact = conv::average_log_prob(&m, &data, conv::log_z_exact(&m)?)?;
/// assert!(est.mean < exact + 3.0 * est.std_err + 0.01 && est.mean > exact - 0.5);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn raise(m: &ConvRbm, base_bias: &[f32], data: &Dataset, config: &RaiseConfig) -> Result<RaiseEstimate> {
    let s = m.shape();
    check_model_and_base(m, base_bias)?;
    check_schedule(&config.schedule)?;
    let r = config.runs_per_example;
    if r == 0 {
        return Err(Error::InvalidParam { name: "runs_per_example", reason: "need at least one".into() });
    }
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    if data.dim() != s.n_visible() {
        return Err(Error::ShapeMismatch {
            what: "images (model visible units)",
            expected: s.n_visible(),
            got: data.dim(),
        });
    }
    data.check_binary()?;
    let n = data.len();
    let mut streams = rng::chain_streams(config.seed, crate::kernels::mul_dims("RAISE chains", n, r)?)?;
    let sched = &config.schedule;
    let logw = streams
        .par_iter_mut()
        .enumerate()
        .map(|(c, st)| {
            let mut ch = Annealer::new(m, base_bias);
            ch.set_image(data.row(c / r));
            let mut lw = 0.0f64;
            for k in (1..sched.len()).rev() {
                ch.transition(sched[k], st)?;
                lw += ch.increment(sched[k - 1], sched[k]);
            }
            Ok(lw)
        })
        .collect::<Result<Vec<f64>>>()?;
    let lz_a = log_z_base(m, base_bias);
    let mut fe = vec![0.0f64; n];
    m.free_energy_batch(data.features(), &mut fe)?;
    let (mut log_probs, mut log_z) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (e, lw) in logw.chunks(r).enumerate() {
        // log mean exp(−logw), relative to the smallest logw.
        let mn = lw.iter().cloned().fold(f64::INFINITY, f64::min);
        let lme = -mn + (lw.iter().map(|&x| (mn - x).exp()).sum::<f64>() / r as f64).ln();
        log_probs.push(-fe[e] - lz_a + lme);
        log_z.push(lz_a - lme);
    }
    Ok(raise_summary(log_probs, log_z))
}

/// Scratch of [`pool_difference`].
struct PoolScratch {
    rows: Vec<usize>,
    /// `e^{β₀I − m}` per detection unit; `e^{(β₁−β₀)I}` (coarse steps only).
    t: Vec<f32>,
    g: Vec<f32>,
    /// `tᵣ(e^{xᵣ} − 1)` per detection unit, f64.
    dev: Vec<f64>,
    /// `e^{−m}` per block and filter (the off state), `m = max(0, β₀I)`.
    off: Vec<f32>,
}

impl PoolScratch {
    fn new(s: &ConvShape) -> PoolScratch {
        PoolScratch {
            rows: vec![0; s.pool * s.pool],
            t: vec![0.0; s.n_hidden()],
            g: vec![0.0; s.n_hidden()],
            dev: vec![0.0; s.n_hidden()],
            off: vec![0.0; s.n_pooled()],
        }
    }
}

/// Above this `|β₁ − β₀|·|I|` the f32 factors `e^{(β₁−β₀)I}` could
/// overflow: [`pool_difference`] then takes the f64 path.
const F32_STEP_LIMIT: f64 = 60.0;

/// `Σ_{k,α} [log(1 + Σ_{B_α} e^{β₁ Iᵏ}) − log(1 + Σ_{B_α} e^{β₀ Iᵏ})]`.
///
/// With `m = max(0, max_{B_α} β₀I)`, `tᵣ = e^{β₀Iᵣ − m}` (f32 SIMD) and
/// `xᵣ = (β₁−β₀)Iᵣ`, each block's term is
/// `ln(1 + Σ tᵣ(e^{xᵣ} − 1) / (e^{−m} + Σ tᵣ))`, summed in f64. The same
/// `tᵣ` weigh numerator and denominator, so their rounding hardly moves the
/// term; `e^{x} − 1` — the whole (tiny) signal of a fine step — comes from
/// its series in f64 when every `|x| ≤ 0.05` (error below 5e-10 of it),
/// else from f32 SIMD exponentials (coarse steps, where f32 suffices).
/// Steps with `|x|` above 60 take an f64 path instead (f32 would overflow).
/// (A first version took `e^{x}` in f32 for every step: 1.5–3.4e-5
/// relative error per fine step, of one sign.)
fn pool_difference(s: &ConvShape, logits: &[f32], b0: f64, b1: f64, sc: &mut PoolScratch) -> f64 {
    let db = b1 - b0;
    let top = logits.iter().fold(0.0f32, |m, &x| m.max(x.abs())) as f64;
    if db * top > F32_STEP_LIMIT {
        return pool_difference_f64(s, logits, b0, b1, &mut sc.rows);
    }
    let kk = s.filters;
    let (bf0, dbf) = (b0 as f32, db as f32);
    // Every |x| ≤ SERIES_LIMIT: e^x − 1 by its series in f64.
    let series = db * top <= SERIES_LIMIT;
    for bp in 0..s.blocks() {
        conv::block_rows(s, bp, &mut sc.rows);
        let off = &mut sc.off[bp * kk..(bp + 1) * kk];
        off.fill(0.0);
        for &r in &sc.rows {
            for (m, &x) in off.iter_mut().zip(&logits[r..r + kk]) {
                *m = m.max(bf0 * x);
            }
        }
        for &r in &sc.rows {
            for ((t, &x), &m) in sc.t[r..r + kk].iter_mut().zip(&logits[r..r + kk]).zip(off.iter()) {
                *t = bf0 * x - m;
            }
        }
        off.iter_mut().for_each(|m| *m = -*m);
    }
    let isa = crate::simd::active_isa();
    crate::simd::unary_in_place::<crate::simd::ExpFlush>(isa, &mut sc.t, None);
    crate::simd::unary_in_place::<crate::simd::ExpFlush>(isa, &mut sc.off, None);
    // dev = t·(e^x − 1) per unit, in one contiguous pass.
    if series {
        for ((d, &t), &l) in sc.dev.iter_mut().zip(&sc.t).zip(logits) {
            let x = db * l as f64;
            *d = t as f64 * (x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x / 120.0)))));
        }
    } else {
        sc.g.iter_mut().zip(logits).for_each(|(g, &x)| *g = dbf * x);
        crate::simd::unary_in_place::<crate::simd::ExpFlush>(isa, &mut sc.g, None);
        for ((d, &t), &g) in sc.dev.iter_mut().zip(&sc.t).zip(&sc.g) {
            *d = t as f64 * (g as f64 - 1.0);
        }
    }
    let mut total = 0.0f64;
    for bp in 0..s.blocks() {
        conv::block_rows(s, bp, &mut sc.rows);
        for k in 0..kk {
            let (mut s0, mut dev) = (sc.off[bp * kk + k] as f64, 0.0f64);
            for &r in &sc.rows {
                s0 += sc.t[r + k] as f64;
                dev += sc.dev[r + k];
            }
            total += (dev / s0).ln_1p();
        }
    }
    total
}

/// Largest `|(β₁−β₀)·I|` for which [`pool_difference`] takes `e^x − 1`
/// from its series (five terms: relative error below `x⁵/720 < 5e-10`).
const SERIES_LIMIT: f64 = 0.05;

/// [`pool_difference`] entirely in f64 (two stable log-sum-exps a block).
fn pool_difference_f64(s: &ConvShape, logits: &[f32], b0: f64, b1: f64, rows: &mut [usize]) -> f64 {
    let lse = |beta: f64, rows: &[usize], k: usize| {
        let mx = rows.iter().fold(0.0f64, |m, &r| m.max(beta * logits[r + k] as f64));
        mx + rows.iter().fold((-mx).exp(), |z, &r| z + (beta * logits[r + k] as f64 - mx).exp()).ln()
    };
    let mut total = 0.0;
    for bp in 0..s.blocks() {
        conv::block_rows(s, bp, rows);
        for k in 0..s.filters {
            total += lse(b1, rows, k) - lse(b0, rows, k);
        }
    }
    total
}

/// Uniforms in (0, 1) from the stream (the conv sampler's mapping), via
/// the scratch `bits`.
fn uniforms(stream: &mut StreamState, bits: &mut [u64], out: &mut [f32]) {
    let words = out.len().div_ceil(2);
    crate::simd::xoshiro_fill(
        crate::simd::active_isa(),
        std::slice::from_mut(stream),
        words,
        &mut bits[..words],
    );
    let raw: &[u32] = bytemuck::cast_slice(&bits[..words]);
    for (u, &r) in out.iter_mut().zip(raw) {
        *u = rng::uniform_from_bits(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pooling increments agree with two f64 log-sum-exps to 1e-7 of
    /// each (tiny) increment, on fine steps (the series) and coarse ones
    /// (f32 exponentials), and large steps on large logits take the f64
    /// path.
    #[test]
    fn pool_difference_matches_f64() {
        let s = ConvShape { height: 9, width: 9, channels: 1, filters: 3, filter_size: 2, pool: 2 };
        let logits: Vec<f32> = (0..s.n_hidden()).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.3).collect();
        let mut sc = PoolScratch::new(&s);
        for (b0, b1) in [(0.0, 1e-3), (0.5, 0.5001), (0.9, 0.90001), (0.3, 0.4), (0.99999, 1.0)] {
            let fast = pool_difference(&s, &logits, b0, b1, &mut sc);
            let exact = pool_difference_f64(&s, &logits, b0, b1, &mut sc.rows);
            assert!((fast - exact).abs() <= 1e-7 * exact.abs(), "β {b0}→{b1}: {fast} vs {exact}");
        }
        // Δβ·max|I| = 0.9 · 1000 > 60: the f64 path, exactly.
        let big: Vec<f32> = logits.iter().map(|x| x * 70.0).collect();
        let (fast, exact) = (
            pool_difference(&s, &big, 0.1, 1.0, &mut sc),
            pool_difference_f64(&s, &big, 0.1, 1.0, &mut sc.rows),
        );
        assert_eq!(fast, exact);
        assert!(fast.is_finite());
    }
}
