//! Samplers over ensembles of chains. For now block Gibbs for RBMs, with
//! f32 states ([`Chains`]) or bit-packed ones ([`PackedChains`]).

pub mod chains;
pub mod gibbs;
pub mod packed;

pub use chains::{Chains, StageTimes};
pub use packed::PackedChains;
