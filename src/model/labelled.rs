//! An RBM whose visible layer has `D` binary units plus one softmax group
//! of `K` label units — the top level of Hinton, Osindero & Teh (2006)'s
//! DBN, which learns the joint distribution of the layer below and the
//! label and classifies by free energy:
//!
//! `E(x, y, h) = −bₓ·x − b_y − c·h − xᵀWₓh − U_yᵀh` with `y` one of `K`,
//! `F(x, y) = −bₓ·x − b_y − Σⱼ softplus(cⱼ + (xᵀWₓ)ⱼ + U_yⱼ)`,
//! `p(y | x) ∝ exp(−F(x, y))`.
//!
//! It is stored as an [`Rbm`] with `D + K` visible units, the last `K`
//! being the label group (weights `U` are those rows, `b_y` those biases).
//! Training is in [`crate::train::labelled`].

use crate::error::{Error, Result};
use crate::kernels::{check_len, gemm, mul_dims};
use crate::model::Rbm;
use crate::model::rbm::softplus_f64;

/// A label-joined RBM (see the module docs).
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, model::LabelledRbm};
/// let m = LabelledRbm::new(Rbm::random(6 + 3, 4, 0.5, 0.1, 1)?, 3)?;
/// let f = m.label_free_energies(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0])?;
/// assert_eq!(f.len(), 3);
/// let y = m.predict(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0])?;
/// assert!(y[0] < 3);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRbm {
    rbm: Rbm,
    n_labels: usize,
}

impl LabelledRbm {
    /// From an RBM whose last `n_labels` visible units are the label group.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `2 ≤ n_labels ≤ 256` and at least one
    /// visible unit remains for the features.
    pub fn new(rbm: Rbm, n_labels: usize) -> Result<Self> {
        if !(2..=256).contains(&n_labels) || n_labels >= rbm.n_visible() {
            return Err(Error::InvalidParam {
                name: "n_labels",
                reason: format!(
                    "{n_labels} labels with {} visible units (need 2..=256 and a feature)",
                    rbm.n_visible()
                ),
            });
        }
        Ok(LabelledRbm { rbm, n_labels })
    }

    /// The underlying RBM (`D + K` visible units).
    pub fn rbm(&self) -> &Rbm {
        &self.rbm
    }

    /// Feature units `D`.
    pub fn n_features(&self) -> usize {
        self.rbm.n_visible() - self.n_labels
    }

    /// Label units `K`.
    pub fn n_labels(&self) -> usize {
        self.n_labels
    }

    /// `F(x, y) + bₓ·x` for every row of `x` (`n × D`, values in [0, 1]:
    /// binary states or probabilities) and every label: `n × K`, in f64.
    /// The dropped term is the same for every label of a row.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not rows of `D`, [`Error::NonFinite`].
    pub fn label_free_energies(&self, x: &[f32]) -> Result<Vec<f64>> {
        let (d, k, h) = (self.n_features(), self.n_labels, self.rbm.n_hidden());
        let n = x.len() / d;
        check_len("x (rows × features)", mul_dims("x", n, d)?, x.len())?;
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "x", index: i });
        }
        let w = self.rbm.weights();
        let mut pre = crate::alloc::try_vec(mul_dims("pre-activations", n, h)?, 0.0f32, "pre-activations")?;
        gemm::par_gemm_nn(n, d, h, x, &w[..d * h], &mut pre, 256)?;
        let (c, by) = (self.rbm.hidden_bias(), &self.rbm.visible_bias()[d..]);
        let mut out = vec![0.0f64; n * k];
        // Rows are independent: the same bits for any thread count.
        use rayon::prelude::*;
        pre.par_chunks_exact(h).zip(out.par_chunks_exact_mut(k)).for_each(|(row, o)| {
            for (y, o) in o.iter_mut().enumerate() {
                let u = &w[(d + y) * h..(d + y + 1) * h];
                let s: f64 = row
                    .iter()
                    .zip(c)
                    .zip(u)
                    .map(|((&p, &c), &u)| softplus_f64(p as f64 + c as f64 + u as f64))
                    .sum();
                *o = -(by[y] as f64) - s;
            }
        });
        Ok(out)
    }

    /// `p(y | x)` for every row of `x`: `n × K`.
    ///
    /// # Errors
    /// As [`LabelledRbm::label_free_energies`].
    pub fn label_probs(&self, x: &[f32]) -> Result<Vec<f64>> {
        let mut f = self.label_free_energies(x)?;
        for row in f.chunks_exact_mut(self.n_labels) {
            let m = row.iter().copied().fold(f64::INFINITY, f64::min);
            let mut s = 0.0;
            for v in row.iter_mut() {
                *v = (m - *v).exp();
                s += *v;
            }
            row.iter_mut().for_each(|v| *v /= s);
        }
        Ok(f)
    }

    /// The label of lowest free energy for each row (the most probable).
    ///
    /// # Errors
    /// As [`LabelledRbm::label_free_energies`].
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        let f = self.label_free_energies(x)?;
        Ok(f.chunks_exact(self.n_labels)
            .map(|r| {
                let mut best = 0;
                for (y, &v) in r.iter().enumerate() {
                    if v < r[best] {
                        best = y;
                    }
                }
                best as u8
            })
            .collect())
    }

    /// Fraction of rows whose predicted label differs from `labels`.
    ///
    /// # Errors
    /// As [`LabelledRbm::predict`], and [`Error::ShapeMismatch`] for a
    /// label count that is not the row count.
    pub fn error_rate(&self, x: &[f32], labels: &[u8]) -> Result<f64> {
        super::error_rate(&self.predict(x)?, labels)
    }
}
