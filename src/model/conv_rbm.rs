//! The convolutional RBM with probabilistic max-pooling (Lee, Grosse,
//! Ranganath & Ng, "Convolutional deep belief networks for scalable
//! unsupervised learning of hierarchical representations", ICML 2009, §3).
//!
//! Binary visible images `v` of `Hv × Wv × C`, `K` filters `Wᵏ` of
//! `r × r × C` shared across the image, one bias `bₖ` per filter, one bias
//! `c_c` per channel. Detection units `hᵏ_ij` (valid correlation,
//! `(Hv−r+1) × (Wv−r+1)` per filter) are grouped in non-overlapping `P × P`
//! blocks `B_α`; at most one unit of a block is on, and the pooling unit
//! `pᵏ_α` is on iff one is. With `Iᵏ_ij = bₖ + (W̃ᵏ * v)_ij`:
//!
//! * `E(v, h) = −Σₖ Σᵢⱼ hᵏᵢⱼ Iᵏᵢⱼ − Σ_c c_c Σ v_c` (subject to the block
//!   constraint);
//! * `p(hᵏᵢⱼ = 1 | v) = exp(Iᵏᵢⱼ) / (1 + Σ_{B_α} exp(Iᵏ))`,
//!   `p(pᵏ_α = 0 | v) = 1 / (1 + Σ_{B_α} exp(Iᵏ))`;
//! * `p(v_c,ij = 1 | h) = σ(c_c + Σₖ (Wᵏ_c * hᵏ)ᵢⱼ)` (full convolution);
//! * free energy `F(v) = −Σ_c c_c Σ v_c − Σ_{k,α} log(1 + Σ_{B_α} exp(Iᵏ))`.
//!
//! With Gaussian visible units ([`ConvVisible::Gaussian`], unit variance)
//! the visible term `−Σ c·v` becomes `½ Σ (v − c)²` in `E` and `F`, and
//! `p(v | h) = N(c + Σₖ Wᵏ * hᵏ, 1)`.
//!
//! Layouts are channel-last (see [`crate::kernels::conv`]); a batch is
//! images one after another. Block Gibbs sampling is in
//! [`crate::sampler::conv`], training in [`crate::train::conv`].

use crate::error::{Error, Result};
use crate::kernels::conv::{self, ConvShape};
use crate::kernels::{check_len, mul_dims};
use crate::rng;
use rayon::prelude::*;

/// The kind of visible unit of a convolutional RBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConvVisible {
    /// Binary pixels, `p(v = 1 | h) = σ(c + Σ W * h)`.
    #[default]
    Bernoulli,
    /// Real pixels with unit variance, `p(v | h) = N(c + Σ W * h, 1)`, and the
    /// energy term `½ Σ (v − c)²` instead of `−Σ c·v` (Lee et al. 2009, §3.2
    /// for real-valued images). Standardize the data first.
    Gaussian,
}

impl ConvVisible {
    /// `"bernoulli"` or `"gaussian"` (the file metadata value).
    pub fn name(self) -> &'static str {
        match self {
            ConvVisible::Bernoulli => "bernoulli",
            ConvVisible::Gaussian => "gaussian",
        }
    }
}

/// A convolutional RBM with probabilistic max-pooling (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ConvRbm {
    shape: ConvShape,
    visible: ConvVisible,
    /// `r²C × K`.
    weights: Vec<f32>,
    /// The same, transposed (`K × r²C`), for the binary `h → v` product.
    weights_t: Vec<f32>,
    hidden_bias: Vec<f32>,
    visible_bias: Vec<f32>,
}

fn check_finite(what: &'static str, x: &[f32]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// Largest parameter magnitude a model may have: with every |θ| ≤ 1e6 no
/// pre-activation of a binary image can overflow f32 (at most
/// 1e6 · (r²C·K + 1) < 1e25 for every shape [`ConvShape::check`] accepts), so
/// the samplers never meet an infinite logit.
pub const MAX_PARAM: f32 = 1e6;

fn check_param(what: &'static str, x: &[f32]) -> Result<()> {
    check_finite(what, x)?;
    match x.iter().position(|v| v.abs() > MAX_PARAM) {
        Some(i) => Err(Error::InvalidParam {
            name: what,
            reason: format!("|{}| at {i} exceeds {MAX_PARAM:e}", x[i]),
        }),
        None => Ok(()),
    }
}

/// Scratch for one image's products.
pub(crate) struct ImageScratch {
    pub(crate) cols: Vec<f32>,
    pub(crate) logits: Vec<f32>,
}

impl ImageScratch {
    pub(crate) fn new(s: &ConvShape) -> ImageScratch {
        ImageScratch { cols: vec![0.0; s.positions() * s.taps()], logits: vec![0.0; s.n_hidden()] }
    }
}

impl ConvRbm {
    /// From its parameters: `weights` `r·r·C × K` (row `(a·r + b)·C + c`),
    /// `hidden_bias` one per filter, `visible_bias` one per channel.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a bad shape ([`ConvShape::check`]) or a
    /// parameter above [`MAX_PARAM`] in magnitude, [`Error::ShapeMismatch`],
    /// [`Error::NonFinite`].
    ///
    /// # Examples
    /// ```
    /// use boltzmann::model::{ConvRbm, ConvShape};
    /// let s = ConvShape { height: 5, width: 5, channels: 1, filters: 2, filter_size: 2, pool: 2 };
    /// let m = ConvRbm::new(s, vec![0.1; 8], vec![-1.0; 2], vec![0.0])?;
    /// assert_eq!((m.shape().n_hidden(), m.shape().n_pooled()), (32, 8));
    /// // 5 − 3 + 1 = 3 does not tile into 2 × 2 blocks.
    /// let bad = ConvShape { filter_size: 3, ..s };
    /// assert!(ConvRbm::new(bad, vec![0.1; 18], vec![0.0; 2], vec![0.0]).is_err());
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn new(
        shape: ConvShape,
        weights: Vec<f32>,
        hidden_bias: Vec<f32>,
        visible_bias: Vec<f32>,
    ) -> Result<Self> {
        shape.check()?;
        check_len("filter weights (r·r·C × K)", shape.n_weights(), weights.len())?;
        check_len("hidden bias (one per filter)", shape.filters, hidden_bias.len())?;
        check_len("visible bias (one per channel)", shape.channels, visible_bias.len())?;
        check_param("filter weights", &weights)?;
        check_param("hidden bias", &hidden_bias)?;
        check_param("visible bias", &visible_bias)?;
        let (taps, kk) = (shape.taps(), shape.filters);
        let mut weights_t = vec![0.0; weights.len()];
        for q in 0..taps {
            for k in 0..kk {
                weights_t[k * taps + q] = weights[q * kk + k];
            }
        }
        Ok(ConvRbm { shape, visible: ConvVisible::Bernoulli, weights, weights_t, hidden_bias, visible_bias })
    }

    /// The same model with `visible` units (the parameters are kept).
    #[must_use]
    pub fn with_visible(mut self, visible: ConvVisible) -> Self {
        self.visible = visible;
        self
    }

    /// The kind of visible unit.
    pub fn visible_units(&self) -> ConvVisible {
        self.visible
    }

    /// The visible-bias term of the energy of one image: `−Σ c·v`
    /// (Bernoulli) or `½ Σ (v − c)²` (Gaussian).
    fn visible_term(&self, img: &[f32]) -> f64 {
        let pairs = img.iter().zip(self.visible_bias.iter().cycle());
        match self.visible {
            ConvVisible::Bernoulli => -pairs.map(|(&x, &c)| x as f64 * c as f64).sum::<f64>(),
            ConvVisible::Gaussian => pairs.map(|(&x, &c)| 0.5 * (x as f64 - c as f64).powi(2)).sum(),
        }
    }

    /// Weights `N(0, std²)` from `seed`, hidden biases `hidden_bias`, visible
    /// biases 0.
    ///
    /// # Errors
    /// As [`ConvRbm::new`], and for `std < 0`.
    pub fn random(shape: ConvShape, std: f32, hidden_bias: f32, seed: u64) -> Result<Self> {
        shape.check()?;
        if !(std.is_finite() && std >= 0.0) {
            return Err(Error::InvalidParam { name: "std", reason: format!("{std} is not ≥ 0") });
        }
        let n = shape.n_weights();
        let mut w = crate::alloc::try_vec(n, 0.0f32, "filter weights")?;
        let mut st = rng::chain_streams(seed, 1)?;
        rng::fill_normal(&mut st, n, &mut w)?;
        w.iter_mut().for_each(|x| *x *= std);
        Self::new(shape, w, vec![hidden_bias; shape.filters], vec![0.0; shape.channels])
    }

    /// The geometry.
    pub fn shape(&self) -> ConvShape {
        self.shape
    }

    /// Filter weights, `r·r·C × K`.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The filter weights transposed, `K × r·r·C` (filter `k` contiguous).
    pub fn weights_transposed(&self) -> &[f32] {
        &self.weights_t
    }

    /// Hidden (detection) biases, one per filter.
    pub fn hidden_bias(&self) -> &[f32] {
        &self.hidden_bias
    }

    /// Visible biases, one per channel.
    pub fn visible_bias(&self) -> &[f32] {
        &self.visible_bias
    }

    /// `(weights, hidden_bias, visible_bias)`.
    pub fn into_parts(self) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        (self.weights, self.hidden_bias, self.visible_bias)
    }

    fn images(&self, what: &'static str, v: &[f32]) -> Result<usize> {
        let d = self.shape.n_visible();
        if !v.len().is_multiple_of(d) {
            return Err(Error::ShapeMismatch { what, expected: v.len().div_ceil(d) * d, got: v.len() });
        }
        Ok(v.len() / d)
    }

    /// Detection logits `I = b + W̃ * v` of one image.
    pub(crate) fn logits_into(&self, v: &[f32], scratch: &mut ImageScratch) {
        let s = &self.shape;
        conv::correlate(s, v, &self.weights, &mut scratch.cols, &mut scratch.logits)
            .expect("lengths fixed by the shape");
        for (x, b) in scratch.logits.iter_mut().zip(self.hidden_bias.iter().cycle()) {
            *x += b;
        }
    }

    /// Visible pre-activations `c + Σₖ Wᵏ * hᵏ` of one image from binary
    /// detection maps.
    pub(crate) fn visible_logits_binary(&self, h: &[f32], out: &mut [f32]) {
        conv::convolve_binary(&self.shape, h, &self.weights_t, out).expect("lengths fixed by the shape");
        for (x, c) in out.iter_mut().zip(self.visible_bias.iter().cycle()) {
            *x += c;
        }
    }

    /// Free energy `F(v)` (module docs) of each image of `v`, in f64; images
    /// in parallel.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `v` holds whole images and `out` one
    /// value per image; [`Error::NonFinite`] for non-finite pixels.
    pub fn free_energy_batch(&self, v: &[f32], out: &mut [f64]) -> Result<()> {
        let n = self.images("images", v)?;
        check_len("free energies (one per image)", n, out.len())?;
        check_finite("images", v)?;
        let s = self.shape;
        let d = s.n_visible();
        out.par_iter_mut().zip(v.par_chunks(d.max(1))).try_for_each_init(
            || ImageScratch::new(&s),
            |scratch, (o, img)| -> Result<()> {
                self.logits_into(img, scratch);
                *o = self.visible_term(img) - conv::pool_log_partition(&s, &scratch.logits)?;
                Ok(())
            },
        )
    }

    /// Free energy of one image.
    ///
    /// # Errors
    /// As [`ConvRbm::free_energy_batch`].
    pub fn free_energy(&self, v: &[f32]) -> Result<f64> {
        check_len("image", self.shape.n_visible(), v.len())?;
        let mut out = [0.0f64];
        self.free_energy_batch(v, &mut out)?;
        Ok(out[0])
    }

    /// The energy `E(v, h)` of one image and binary detection maps.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; [`Error::InvalidParam`] if a pooling block
    /// has more than one unit on (such states have probability 0).
    pub fn energy(&self, v: &[f32], h: &[f32]) -> Result<f64> {
        let s = &self.shape;
        check_len("image", s.n_visible(), v.len())?;
        check_len("detection maps", s.n_hidden(), h.len())?;
        check_finite("image", v)?;
        let mut scratch = ImageScratch::new(s);
        self.logits_into(v, &mut scratch);
        let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
        for py in 0..s.hidden_height() / p {
            for px in 0..wh / p {
                for k in 0..kk {
                    let on = (0..p * p)
                        .filter(|i| h[((py * p + i / p) * wh + px * p + i % p) * kk + k] != 0.0)
                        .count();
                    if on > 1 {
                        return Err(Error::InvalidParam {
                            name: "detection maps",
                            reason: format!("{on} units on in pooling block ({py}, {px}) of filter {k}"),
                        });
                    }
                }
            }
        }
        let mut e = 0.0f64;
        for (&hi, &x) in h.iter().zip(&scratch.logits) {
            e -= hi as f64 * x as f64;
        }
        Ok(e + self.visible_term(v))
    }

    /// `p(h = 1 | v)` (detection, `Hh·Wh·K` per image) and `p(pool = 1 | v)`
    /// (`Hp·Wp·K` per image) of each image of `v`; pass an empty slice to
    /// skip either. Images in parallel.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NonFinite`].
    pub fn hidden_probs(&self, v: &[f32], probs: &mut [f32], pooled: &mut [f32]) -> Result<()> {
        let n = self.images("images", v)?;
        let s = self.shape;
        check_finite("images", v)?;
        if !probs.is_empty() {
            check_len(
                "detection probabilities",
                mul_dims("images × detection units", n, s.n_hidden())?,
                probs.len(),
            )?;
        }
        if !pooled.is_empty() {
            check_len(
                "pooling probabilities",
                mul_dims("images × pooling units", n, s.n_pooled())?,
                pooled.len(),
            )?;
        }
        // A skipped output goes to per-thread scratch and is dropped.
        let d = s.n_visible();
        let (nh, np) = (s.n_hidden(), s.n_pooled());
        let one = |scratch: &mut ImageScratch, img: &[f32], pr: &mut [f32], po: &mut [f32]| {
            self.logits_into(img, scratch);
            conv::max_pool_probs(&s, &scratch.logits, pr, po)
        };
        match (probs.is_empty(), pooled.is_empty()) {
            (false, false) => probs
                .par_chunks_mut(nh)
                .zip(pooled.par_chunks_mut(np))
                .zip(v.par_chunks(d))
                .try_for_each_init(|| ImageScratch::new(&s), |sc, ((pr, po), img)| one(sc, img, pr, po)),
            (false, true) => probs.par_chunks_mut(nh).zip(v.par_chunks(d)).try_for_each_init(
                || (ImageScratch::new(&s), vec![0.0f32; np]),
                |(sc, po), (pr, img)| one(sc, img, pr, po),
            ),
            (true, false) => pooled.par_chunks_mut(np).zip(v.par_chunks(d)).try_for_each_init(
                || (ImageScratch::new(&s), vec![0.0f32; nh]),
                |(sc, pr), (po, img)| one(sc, img, pr, po),
            ),
            (true, true) => Ok(()),
        }
    }

    /// `p(v = 1 | h)` (Bernoulli) or the mean of `p(v | h)` (Gaussian) of
    /// each image from binary detection maps `h`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `h` holds whole detection maps and
    /// `out` the matching images.
    pub fn visible_probs(&self, h: &[f32], out: &mut [f32]) -> Result<()> {
        let s = self.shape;
        let nh = s.n_hidden();
        if !h.len().is_multiple_of(nh) {
            return Err(Error::ShapeMismatch {
                what: "detection maps",
                expected: h.len().div_ceil(nh) * nh,
                got: h.len(),
            });
        }
        let n = h.len() / nh;
        check_len("visible probabilities", mul_dims("images × visible units", n, s.n_visible())?, out.len())?;
        out.par_chunks_mut(s.n_visible()).zip(h.par_chunks(nh)).for_each(|(o, hi)| {
            self.visible_logits_binary(hi, o);
            if self.visible == ConvVisible::Bernoulli {
                crate::kernels::activation::sigmoid_in_place(o);
            }
        });
        Ok(())
    }
}
