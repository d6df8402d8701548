//! A linear support vector machine, one-vs-rest: class `k` scores
//! `xᵀwₖ + bₖ` and the highest score wins. The classifier Lee et al. (2009)
//! put on convolutional DBN features; trained by dual coordinate descent
//! in [`crate::train::svm`].

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;

/// A linear one-vs-rest classifier over `n_features` inputs and `n_classes`
/// classes: weights `n_features × n_classes` (row-major, the layout of
/// [`super::SoftmaxRegression`]) and one bias per class.
///
/// # Examples
/// ```
/// use boltzmann::model::LinearSvm;
/// // Two features, two classes: class 1 when x₀ > x₁.
/// let m = LinearSvm::new(2, 2, vec![-1.0, 1.0, 1.0, -1.0], vec![0.0, 0.0])?;
/// assert_eq!(m.predict(&[1.0, 0.0, 0.0, 1.0])?, vec![1, 0]);
/// assert_eq!(m.decision_function(&[1.0, 0.0])?, vec![-1.0, 1.0]);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvm(super::Linear);

impl LinearSvm {
    /// A classifier from its parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for fewer than two classes (or more than
    /// 256) or no features, [`Error::ShapeMismatch`] for parameter lengths,
    /// [`Error::NonFinite`].
    pub fn new(n_features: usize, n_classes: usize, weights: Vec<f32>, bias: Vec<f32>) -> Result<Self> {
        super::Linear::new(n_features, n_classes, weights, bias).map(LinearSvm)
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.0.n_features
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.0.n_classes
    }

    /// Weights, `n_features × n_classes` row-major.
    pub fn weights(&self) -> &[f32] {
        &self.0.weights
    }

    /// Biases, one per class.
    pub fn bias(&self) -> &[f32] {
        &self.0.bias
    }

    /// The scores `xᵀwₖ + bₖ` of the rows of `x` (`n × n_features`),
    /// `n × n_classes`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not rows of `n_features`,
    /// [`Error::NonFinite`].
    pub fn decision_function(&self, x: &[f32]) -> Result<Vec<f32>> {
        let mut s = self.0.products(x, "scores")?;
        for row in s.chunks_exact_mut(self.0.n_classes) {
            for (v, &b) in row.iter_mut().zip(&self.0.bias) {
                *v += b;
            }
        }
        Ok(s)
    }

    /// The class of the highest score of each row (the lowest index on ties).
    ///
    /// # Errors
    /// As [`LinearSvm::decision_function`].
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        let s = self.decision_function(x)?;
        Ok(s.chunks_exact(self.0.n_classes).map(super::argmax).collect())
    }

    /// Fraction of rows whose predicted class differs from `labels`.
    ///
    /// # Errors
    /// As [`LinearSvm::decision_function`], and [`Error::ShapeMismatch`]
    /// for a label count that is not the row count.
    pub fn error_rate(&self, x: &[f32], labels: &[u8]) -> Result<f64> {
        super::error_rate(&self.predict(x)?, labels)
    }
}
