//! Energy-based models: the Bernoulli–Bernoulli [`Rbm`] and stacks of them,
//! Deep Belief Networks ([`Dbn`]); and [`SoftmaxRegression`], the linear
//! classifier for comparing features.

pub mod dbn;
pub mod labelled;
pub mod rbm;
pub mod softmax;

pub use dbn::{Dbn, DbnSamples};
pub use labelled::LabelledRbm;
pub use rbm::Rbm;
pub use softmax::SoftmaxRegression;
