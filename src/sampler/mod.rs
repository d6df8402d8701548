//! Samplers over ensembles of chains. For now block Gibbs for RBMs.

pub mod chains;

pub use chains::{Chains, StageTimes};
