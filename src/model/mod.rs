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
