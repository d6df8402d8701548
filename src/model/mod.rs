//! Energy-based models: the Bernoulli–Bernoulli [`Rbm`] and stacks of them,
//! Deep Belief Networks ([`Dbn`]).

pub mod dbn;
pub mod rbm;

pub use dbn::{Dbn, DbnSamples};
pub use rbm::Rbm;
