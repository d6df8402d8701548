//! Maximum mean discrepancy (Gretton et al. 2012) between two samples, with
//! a Gaussian kernel `k(x, y) = exp(−‖x − y‖² / (2h²))`: the unbiased
//! estimate of `MMD² = E k(x, x') + E k(y, y') − 2 E k(x, y)`. Used to
//! judge samples of a trained energy against the data; compare with the
//! value between two independent data samples of the same sizes.

use crate::error::{Error, Result};
use rayon::prelude::*;

/// Unbiased `MMD²` between the rows of `x` and `y` (both `· × d`), kernel
/// bandwidth `h`. Computed in f64, `O((n + m)² d)`; rows are summed in a
/// fixed order (the same result for any thread count).
///
/// # Errors
/// [`Error::ShapeMismatch`] for lengths that are not rows of `d`,
/// [`Error::InvalidParam`] for fewer than two rows in either sample or
/// `h ≤ 0`, [`Error::NonFinite`].
///
/// # Examples
/// ```
/// let x = [0.0f32, 0.1, 0.2, 0.3];
/// let far = [5.0f32, 5.1, 5.2, 5.3];
/// let near = boltzmann::eval::mmd2(&x, &x, 1, 1.0)?;
/// let apart = boltzmann::eval::mmd2(&x, &far, 1, 1.0)?;
/// assert!(apart > near + 0.5);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn mmd2(x: &[f32], y: &[f32], d: usize, h: f64) -> Result<f64> {
    let rows = |v: &[f32], what: &'static str| -> Result<usize> {
        if d == 0 || !v.len().is_multiple_of(d) {
            return Err(Error::ShapeMismatch { what, expected: d, got: v.len() });
        }
        if let Some(i) = v.iter().position(|a| !a.is_finite()) {
            return Err(Error::NonFinite { what, index: i });
        }
        Ok(v.len() / d)
    };
    let (n, m) = (rows(x, "first sample (rows × d)")?, rows(y, "second sample (rows × d)")?);
    if n < 2 || m < 2 || !(h.is_finite() && h > 0.0) {
        return Err(Error::InvalidParam {
            name: "mmd",
            reason: format!("need ≥ 2 rows in each sample and h > 0 (got {n}, {m}, h = {h})"),
        });
    }
    let g = -1.0 / (2.0 * h * h);
    let k = |a: &[f32], b: &[f32]| -> f64 {
        let s: f64 = a.iter().zip(b).map(|(&p, &q)| (p as f64 - q as f64).powi(2)).sum();
        (g * s).exp()
    };
    // Row sums in parallel, then summed in order.
    let within = |v: &[f32], n: usize| -> f64 {
        let sums: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|i| {
                (0..n).filter(|&j| j != i).map(|j| k(&v[i * d..(i + 1) * d], &v[j * d..(j + 1) * d])).sum()
            })
            .collect();
        sums.iter().sum::<f64>() / (n * (n - 1)) as f64
    };
    let cross: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| (0..m).map(|j| k(&x[i * d..(i + 1) * d], &y[j * d..(j + 1) * d])).sum())
        .collect();
    Ok(within(x, n) + within(y, m) - 2.0 * cross.iter().sum::<f64>() / (n * m) as f64)
}
