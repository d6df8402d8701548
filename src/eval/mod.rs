//! Evaluation: exact and annealed-importance-sampling estimates of the
//! partition function, average test log-probabilities, and the maximum mean
//! discrepancy between samples ([`mmd2`]); chain diagnostics (autocorrelation
//! time, effective sample size, split R-hat) in [`diagnostics`]. Pseudo-likelihood
//! and reconstruction error live in [`crate::train::metrics`].

pub mod ais;
pub mod conv;
pub mod dbn;
pub mod diagnostics;
pub mod exact;
pub mod gaussian_dbn;
pub mod gaussian_rbm;
pub mod mmd;

pub use ais::{
    AisConfig, AisEstimate, RaiseConfig, RaiseEstimate, ais, ais_with_progress, base_rate_biases,
    default_schedule, linear_schedule, raise, raise_with_progress, scaled_default_schedule,
};
pub use diagnostics::{
    ChainDiagnostics, diagnose, effective_sample_size, integrated_autocorr_time, split_rhat,
};
pub use exact::{
    average_log_prob, log_partition_exact, log_partition_exact_with_progress, log_z_over_hidden,
    log_z_over_visible,
};
pub use mmd::mmd2;

/// Progress callback of the long evaluations: called, possibly from several
/// threads, with the amount of work done so far (each function says in what
/// unit and out of what total).
pub type Progress<'p> = &'p (dyn Fn(u64) + Sync);
