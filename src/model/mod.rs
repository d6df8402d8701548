//! Energy-based models: the Bernoulli–Bernoulli [`Rbm`], the
//! Gaussian–Bernoulli [`GaussianRbm`], and stacks of RBMs,
//! Deep Belief Networks ([`Dbn`], [`LabelledDbn`] with a label-joined top), the
//! convolutional RBM with probabilistic max-pooling ([`ConvRbm`]) and its stacks
//! ([`ConvDbn`]); and [`SoftmaxRegression`] and [`LinearSvm`], the linear
//! classifiers for comparing features.

pub mod centering;
pub mod conv_dbn;
pub mod conv_rbm;
pub mod dbn;
pub mod gaussian_dbn;
pub mod gaussian_rbm;
pub mod labelled;
pub mod rbm;
pub mod softmax;
pub mod svm;

pub use crate::kernels::conv::ConvShape;
pub use conv_dbn::ConvDbn;
pub use conv_rbm::{ConvRbm, ConvVisible};
pub use dbn::{Dbn, DbnSamples, LabelledDbn, LayerStack, UntiedDbn};
pub use gaussian_dbn::GaussianDbn;
pub use gaussian_rbm::GaussianRbm;
pub use labelled::LabelledRbm;
pub use rbm::Rbm;
pub use softmax::SoftmaxRegression;
pub use svm::LinearSvm;

/// The parameters of a linear classifier over `n_features` inputs and
/// `n_classes` classes — weights `n_features × n_classes` row-major, one
/// bias per class — with the checks and the scores `xW + b` that
/// [`SoftmaxRegression`] and [`LinearSvm`] share.
#[derive(Debug, Clone, PartialEq)]
struct Linear {
    n_features: usize,
    n_classes: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    /// # Errors
    /// [`crate::Error::InvalidParam`] for fewer than two classes (or more
    /// than 256) or no features, [`crate::Error::ShapeMismatch`] for
    /// parameter lengths, [`crate::Error::NonFinite`].
    fn new(n_features: usize, n_classes: usize, weights: Vec<f32>, bias: Vec<f32>) -> crate::Result<Linear> {
        use crate::kernels::{check_len, mul_dims};
        if n_features == 0 || !(2..=256).contains(&n_classes) {
            return Err(crate::Error::InvalidParam {
                name: "classifier size",
                reason: format!("{n_features} features, {n_classes} classes (need ≥ 1 and 2..=256)"),
            });
        }
        check_len(
            "weights (n_features × n_classes)",
            mul_dims("weights", n_features, n_classes)?,
            weights.len(),
        )?;
        check_len("bias (n_classes)", n_classes, bias.len())?;
        if let Some(i) = weights.iter().chain(&bias).position(|x| !x.is_finite()) {
            return Err(crate::Error::NonFinite { what: "classifier parameters", index: i });
        }
        Ok(Linear { n_features, n_classes, weights, bias })
    }

    /// `xW` of the rows of `x` (`n × n_features`), `n × n_classes`, without
    /// the biases.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] if `x` is not rows of `n_features`,
    /// [`crate::Error::NonFinite`].
    fn products(&self, x: &[f32], what: &'static str) -> crate::Result<Vec<f32>> {
        use crate::kernels::{check_len, gemm, mul_dims};
        let n = x.len() / self.n_features;
        check_len("x (rows × n_features)", mul_dims("x", n, self.n_features)?, x.len())?;
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(crate::Error::NonFinite { what: "x", index: i });
        }
        let mut p = crate::alloc::try_vec(mul_dims(what, n, self.n_classes)?, 0.0f32, what)?;
        gemm::par_gemm_nn(n, self.n_features, self.n_classes, x, &self.weights, &mut p, 512)?;
        Ok(p)
    }
}

/// The index of the largest value (the lowest on ties): the class a linear
/// classifier predicts from its scores or probabilities.
fn argmax(p: &[f32]) -> u8 {
    let mut best = 0;
    for (k, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = k;
        }
    }
    best as u8
}

/// Fraction of `pred` that differs from `labels` (0 for no rows): the error
/// rate of the classifiers here.
pub(crate) fn error_rate(pred: &[u8], labels: &[u8]) -> crate::Result<f64> {
    crate::kernels::check_len("labels (one per row)", pred.len(), labels.len())?;
    if pred.is_empty() {
        return Ok(0.0);
    }
    Ok(pred.iter().zip(labels).filter(|(a, b)| a != b).count() as f64 / pred.len() as f64)
}
