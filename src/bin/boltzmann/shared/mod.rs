//! What several command families share: argument groups and value checks
//! (`limits`), output and its error handling (`out`, `error`), MPI ranks
//! (`ranks`) and the classifier read-out options (`classifier`).

#[macro_use]
pub(crate) mod out;
pub(crate) mod classifier;
pub(crate) mod error;
pub(crate) mod limits;
pub(crate) mod ranks;
