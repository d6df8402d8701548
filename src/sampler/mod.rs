//! Samplers over ensembles of chains: block Gibbs for RBMs, with f32 states
//! ([`Chains`]) or bit-packed ones ([`PackedChains`]); Langevin, MALA and
//! annealed Langevin for continuous energies ([`LangevinChains`]); parallel
//! tempering over a ladder of temperatures, on f32 states
//! ([`TemperedChains`]) or bit-packed ones ([`PackedTemperedChains`]); block Gibbs
//! for convolutional RBMs with probabilistic max-pooling ([`ConvChains`]).

pub mod chains;
pub mod conv;
mod exchange;
pub mod gibbs;
pub(crate) mod incremental;
pub mod langevin;
pub mod packed;
pub mod tempering;
pub mod tempering_packed;

pub use chains::Chains;
pub use conv::{ConvChains, ConvDbnChains, sample_conv_dbn};
pub use gibbs::StageTimes;
pub use langevin::LangevinChains;
pub use packed::PackedChains;
pub use tempering::{TemperedChains, Tempering};
pub use tempering_packed::PackedTemperedChains;

/// Checks rows to start chains from: `d` wide, at least one, binary.
pub(crate) fn check_start_rows(data: &crate::data::Dataset, d: usize) -> crate::Result<()> {
    use crate::error::Error;
    if data.dim() != d {
        return Err(Error::ShapeMismatch {
            what: "start data (model n_visible)",
            expected: d,
            got: data.dim(),
        });
    }
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "start data", reason: "no rows".into() });
    }
    data.check_binary()
}
