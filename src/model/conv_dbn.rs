//! The convolutional deep belief network (Lee et al., ICML 2009, §3.4): a
//! stack of convolutional RBMs ([`ConvRbm`]) in which the pooling units of
//! one layer are the visible image of the next (`Hp × Wp × K` becomes the
//! `height × width × channels` of the layer above), trained greedily
//! ([`crate::train::conv::train_conv_dbn`]).

use crate::error::{Error, Result};
use crate::kernels::conv::ConvShape;
use crate::model::ConvRbm;

/// A stack of convolutional RBMs (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ConvDbn {
    layers: Vec<ConvRbm>,
}

impl ConvDbn {
    /// From its layers, bottom first.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for no layers or a layer whose image is not
    /// the pooling maps of the layer below.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::model::{ConvDbn, ConvRbm, ConvShape};
    /// let s1 = ConvShape { height: 12, width: 12, channels: 1, filters: 4, filter_size: 5, pool: 2 };
    /// // Layer 1's pooling maps are 4 × 4 × 4.
    /// let s2 = ConvShape { height: 4, width: 4, channels: 4, filters: 3, filter_size: 3, pool: 1 };
    /// let net = ConvDbn::new(vec![ConvRbm::random(s1, 0.1, -1.0, 1)?, ConvRbm::random(s2, 0.1, -1.0, 2)?])?;
    /// assert_eq!(net.feature_len(2)?, 2 * 2 * 3);
    /// let wrong = ConvShape { channels: 5, ..s2 };
    /// assert!(ConvDbn::new(vec![ConvRbm::random(s1, 0.1, -1.0, 1)?, ConvRbm::random(wrong, 0.1, -1.0, 2)?]).is_err());
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn new(layers: Vec<ConvRbm>) -> Result<ConvDbn> {
        if layers.is_empty() {
            return Err(Error::InvalidParam { name: "layers", reason: "need at least one layer".into() });
        }
        if let Some(l) =
            layers.iter().skip(1).position(|m| m.visible_units() != crate::model::ConvVisible::Bernoulli)
        {
            return Err(Error::InvalidParam {
                name: "layers",
                reason: format!("layer {}: only layer 1 may have Gaussian visible units", l + 2),
            });
        }
        for (l, pair) in layers.windows(2).enumerate() {
            let (below, above) = (pair[0].shape(), pair[1].shape());
            let want = (below.hidden_height() / below.pool, below.hidden_width() / below.pool, below.filters);
            if (above.height, above.width, above.channels) != want {
                return Err(Error::InvalidParam {
                    name: "layers",
                    reason: format!(
                        "layer {} takes {}×{}×{} images, but layer {}'s pooling maps are {}×{}×{}",
                        l + 2,
                        above.height,
                        above.width,
                        above.channels,
                        l + 1,
                        want.0,
                        want.1,
                        want.2
                    ),
                });
            }
        }
        Ok(ConvDbn { layers })
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[ConvRbm] {
        &self.layers
    }

    /// The layers, bottom first, by value.
    pub fn into_layers(self) -> Vec<ConvRbm> {
        self.layers
    }

    /// The geometry of layer `l` (from 1).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a layer that does not exist.
    pub fn shape(&self, l: usize) -> Result<ConvShape> {
        self.check_depth(l)?;
        Ok(self.layers[l - 1].shape())
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth == 0 || depth > self.layers.len() {
            return Err(Error::InvalidParam {
                name: "layer",
                reason: format!("{depth}: use 1..={} for this network", self.layers.len()),
            });
        }
        Ok(())
    }

    /// Features per image at layer `depth`: its pooling units.
    ///
    /// # Errors
    /// As [`ConvDbn::shape`].
    pub fn feature_len(&self, depth: usize) -> Result<usize> {
        Ok(self.shape(depth)?.n_pooled())
    }

    /// The pooling-unit probabilities of layer `depth` (from 1) for each
    /// image of `images`, by a deterministic up-pass: each layer's pooling
    /// probabilities are the (mean-field) image of the layer above. Images
    /// in parallel; the same bits for any thread count.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a layer that does not exist; as
    /// [`ConvRbm::hidden_probs`] for the images.
    pub fn features(&self, images: &[f32], depth: usize) -> Result<Vec<f32>> {
        self.check_depth(depth)?;
        self.features_from(images, 0, depth)
    }

    /// The up-pass from the input of layer `from + 1` (the pooling
    /// probabilities of layer `from`, or images for 0) to layer `to`.
    fn features_from(&self, images: &[f32], from: usize, to: usize) -> Result<Vec<f32>> {
        let mut x = std::borrow::Cow::Borrowed(images);
        for m in &self.layers[from..to] {
            let s = m.shape();
            let d = s.n_visible();
            if !x.len().is_multiple_of(d) {
                return Err(Error::ShapeMismatch {
                    what: "images",
                    expected: x.len().div_ceil(d) * d,
                    got: x.len(),
                });
            }
            let n = x.len() / d;
            let mut pooled = crate::alloc::try_vec(n * s.n_pooled(), 0.0f32, "pooling probabilities")?;
            m.hidden_probs(&x, &mut [], &mut pooled)?;
            x = std::borrow::Cow::Owned(pooled);
        }
        Ok(x.into_owned())
    }

    /// The pooling probabilities of several layers side by side: for each
    /// image, the features of `layers[0]`, then of `layers[1]`, … (each as
    /// [`Self::features`] gives them), from one up-pass. A classifier on
    /// the layers together sees both the local strokes of layer 1 and the
    /// larger parts of the layers above.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for no layers, a layer that does not exist
    /// or one named twice; as [`Self::features`] for the images.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::model::{ConvDbn, ConvRbm, ConvShape};
    /// // 8×8 images, 2 filters of 3×3 → 6×6, pooled 2×2 → 3×3 × 2 = 18 units.
    /// let s1 = ConvShape { height: 8, width: 8, channels: 1, filters: 2, filter_size: 3, pool: 2 };
    /// // Its 3×3×2 pooling maps, 3 filters of 2×2 → 2×2, pooled → 1×1 × 3 units.
    /// let s2 = ConvShape { height: 3, width: 3, channels: 2, filters: 3, filter_size: 2, pool: 2 };
    /// let net = ConvDbn::new(vec![ConvRbm::random(s1, 0.1, 0.0, 1)?, ConvRbm::random(s2, 0.1, 0.0, 2)?])?;
    /// let images = [0.0f32; 2 * 64];
    /// let f = net.features_of_layers(&images, &[1, 2])?;
    /// assert_eq!(f.len(), 2 * (18 + 3));
    /// assert_eq!(&f[18..21], &net.features(&images, 2)?[..3]);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn features_of_layers(&self, images: &[f32], layers: &[usize]) -> Result<Vec<f32>> {
        if layers.is_empty() {
            return Err(Error::InvalidParam { name: "layers", reason: "name at least one layer".into() });
        }
        for (i, &l) in layers.iter().enumerate() {
            self.check_depth(l)?;
            if layers[..i].contains(&l) {
                return Err(Error::InvalidParam { name: "layers", reason: format!("layer {l} named twice") });
            }
        }
        let top = *layers.iter().max().expect("not empty");
        let d = self.layers[0].shape().n_visible();
        let n = images.len() / d.max(1);
        let widths: Vec<usize> = layers.iter().map(|&l| self.layers[l - 1].shape().n_pooled()).collect();
        let total: usize = widths.iter().sum();
        let mut out = crate::alloc::try_vec(n * total, 0.0f32, "features")?;
        let mut x = std::borrow::Cow::Borrowed(images);
        for depth in 1..=top {
            x = std::borrow::Cow::Owned(self.features_from(&x, depth - 1, depth)?);
            if let Some(pos) = layers.iter().position(|&l| l == depth) {
                let (off, w) = (widths[..pos].iter().sum::<usize>(), widths[pos]);
                for (dst, src) in out.chunks_exact_mut(total).zip(x.chunks_exact(w)) {
                    dst[off..off + w].copy_from_slice(src);
                }
            }
        }
        Ok(out)
    }

    /// Each filter of layer `depth` drawn in pixel space, as Lee et al.
    /// (2009, Fig. 2) show second-layer bases: a layer-1 filter is its taps
    /// summed over the channels; a layer-`l` filter is the weighted sum of
    /// the pictures of the layer-`(l−1)` filters, each tap `(a, b, k)` adding
    /// `w / P²` times filter `k`'s picture at the `P × P` detection positions
    /// its pooling unit covers. Returns `(pictures, side)`: `filters` square
    /// pictures of `side × side` (`side₁ = r₁`, `sideₗ = rₗ·Pₗ₋₁ + sideₗ₋₁ − 1`),
    /// unscaled.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a layer that does not exist.
    pub fn filter_pictures(&self, depth: usize) -> Result<(Vec<f32>, usize)> {
        self.check_depth(depth)?;
        let first = self.layers[0].shape();
        let (r, c, kk) = (first.filter_size, first.channels, first.filters);
        let w = self.layers[0].weights();
        let mut pics = vec![0.0f32; kk * r * r];
        for k in 0..kk {
            for t in 0..r * r {
                pics[k * r * r + t] = (0..c).map(|ch| w[(t * c + ch) * kk + k]).sum();
            }
        }
        let mut side = r;
        for l in 1..depth {
            let (below, s) = (self.layers[l - 1].shape(), self.layers[l].shape());
            let (p, r, c, kk) = (below.pool, s.filter_size, s.channels, s.filters);
            let w = self.layers[l].weights();
            let new_side = r * p + side - 1;
            let mut next = vec![0.0f32; kk * new_side * new_side];
            let scale = 1.0 / (p * p) as f32;
            for k in 0..kk {
                let out = &mut next[k * new_side * new_side..(k + 1) * new_side * new_side];
                for a in 0..r {
                    for b in 0..r {
                        for ch in 0..c {
                            let wt = w[((a * r + b) * c + ch) * kk + k] * scale;
                            let pic = &pics[ch * side * side..(ch + 1) * side * side];
                            for dy in 0..p {
                                for dx in 0..p {
                                    let (y0, x0) = (a * p + dy, b * p + dx);
                                    for (y, row) in pic.chunks_exact(side).enumerate() {
                                        let o = &mut out
                                            [(y0 + y) * new_side + x0..(y0 + y) * new_side + x0 + side];
                                        o.iter_mut().zip(row).for_each(|(o, &v)| *o += wt * v);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            pics = next;
            side = new_side;
        }
        Ok((pics, side))
    }
}
