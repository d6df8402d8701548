//! Samplers over ensembles of chains. For now block Gibbs for RBMs.

pub mod chains;
pub mod gibbs;

pub use chains::{Chains, StageTimes};
