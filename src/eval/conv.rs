//! Exact log-partition function and log-probabilities of small
//! convolutional RBMs ([`ConvRbm`]), by enumerating the visible images with
//! the closed-form free energy: `log Z = log Σ_v exp(−F(v))`. Meant for
//! tests and tiny models (at most 2^24 images).

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::ConvRbm;

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
