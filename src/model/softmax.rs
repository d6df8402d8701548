//! Multinomial logistic regression (softmax regression): the linear
//! classifier used to compare features, e.g. raw pixels against a DBN's
//! top-layer features (Hinton, Osindero & Teh 2006 compare against it too).
//! `p(y = k | x) = softmax(xᵀW + b)ₖ`. Training is in
//! [`crate::train::softmax`].

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::kernels::mul_dims;

/// A softmax-regression classifier over `n_features` inputs and `n_classes`
/// classes: weights `n_features × n_classes` (row-major) and biases.
///
/// # Examples
/// ```
/// use boltzmann::model::SoftmaxRegression;
/// // Two features, two classes: class 1 when x₀ > x₁.
/// let m = SoftmaxRegression::new(2, 2, vec![-5.0, 5.0, 5.0, -5.0], vec![0.0, 0.0])?;
/// assert_eq!(m.predict(&[1.0, 0.0, 0.0, 1.0])?, vec![1, 0]);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxRegression(super::Linear);

impl SoftmaxRegression {
    /// A classifier from its parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for fewer than two classes or no features,
    /// [`Error::ShapeMismatch`] for parameter lengths, [`Error::NonFinite`].
    pub fn new(n_features: usize, n_classes: usize, weights: Vec<f32>, bias: Vec<f32>) -> Result<Self> {
        super::Linear::new(n_features, n_classes, weights, bias).map(SoftmaxRegression)
    }

    /// All-zero parameters (uniform predictions).
    ///
    /// # Errors
    /// As [`SoftmaxRegression::new`].
    pub fn zeros(n_features: usize, n_classes: usize) -> Result<Self> {
        let w = crate::alloc::try_vec(mul_dims("weights", n_features, n_classes)?, 0.0f32, "weights")?;
        Self::new(n_features, n_classes, w, vec![0.0; n_classes.min(256)])
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

    pub(crate) fn params_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.0.weights, &mut self.0.bias)
    }

    /// Class probabilities of the rows of `x` (`n × n_features`), `n ×
    /// n_classes`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not rows of `n_features`,
    /// [`Error::NonFinite`].
    pub fn predict_proba(&self, x: &[f32]) -> Result<Vec<f32>> {
        let mut p = self.0.products(x, "probabilities")?;
        for row in p.chunks_exact_mut(self.0.n_classes) {
            softmax_in_place(row, &self.0.bias);
        }
        Ok(p)
    }

    /// The most probable class of each row (the lowest index on ties).
    ///
    /// # Errors
    /// As [`SoftmaxRegression::predict_proba`].
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        let p = self.predict_proba(x)?;
        Ok(p.chunks_exact(self.0.n_classes).map(super::argmax).collect())
    }

    /// Fraction of rows whose predicted class differs from `labels`.
    ///
    /// # Errors
    /// As [`SoftmaxRegression::predict_proba`], and
    /// [`Error::ShapeMismatch`] for a label count that is not the row count.
    pub fn error_rate(&self, x: &[f32], labels: &[u8]) -> Result<f64> {
        super::error_rate(&self.predict(x)?, labels)
    }
}

/// `row ← softmax(row + bias)`, stable (max subtracted).
pub(crate) fn softmax_in_place(row: &mut [f32], bias: &[f32]) {
    for (x, &b) in row.iter_mut().zip(bias) {
        *x += b;
    }
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0f64;
    for x in row.iter_mut() {
        *x = (*x - m).exp();
        s += *x as f64;
    }
    let inv = (1.0 / s) as f32;
    for x in row.iter_mut() {
        *x *= inv;
    }
}
