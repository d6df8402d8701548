//! Training: CD-k and PCD with SGD+momentum or Adam, schedules, weight
//! decay, sparsity, and the monitors of Hinton’s guide; greedy layer-wise
//! training of Deep Belief Networks in [`dbn`]; continuous energy models by
//! Langevin maximum likelihood with a replay buffer in [`ebm`], and score
//! networks by denoising score matching in [`dsm`]; convolutional RBMs with
//! probabilistic max-pooling in [`conv`], and convolutional DBNs layer by
//! layer, saved and resumed after any epoch, in [`conv_dbn`]; the linear
//! read-outs of features, softmax regression in [`softmax`] and a linear
//! SVM in [`svm`].
//!
//! ```
//! use boltzmann::data::Dataset;
//! use boltzmann::train::{fit, TrainConfig};
//! let x: Vec<f32> = (0..600).map(|i| ((i / 3 + i % 5) % 2) as f32).collect();
//! let data = Dataset::new(x, 12)?; // 50 examples
//! let rbm = fit(TrainConfig::default().n_hidden(8).batch_size(10).epochs(2), &data)?;
//! assert_eq!(rbm.n_visible(), 12);
//! # Ok::<(), boltzmann::Error>(())
//! ```

pub mod config;
pub mod conv;
pub mod conv_dbn;
pub mod dbn;
pub mod dsm;
pub mod ebm;
pub mod gaussian;
pub mod labelled;
pub mod metrics;
pub mod optim;
#[cfg(feature = "mpi")]
pub(crate) mod sharded;
pub mod softmax;
pub(crate) mod split;
pub mod svm;
pub mod trainer;
mod update;

/// Checks the momentum-SGD settings of the smaller trainers (Gaussian–
/// Bernoulli RBM, label-joined RBM, softmax regression, convolutional RBM):
/// the shared [`Optim`] settings, the momentum and the initial weights'
/// spread, naming the bad one.
pub(crate) fn check_sgd(optim: &Optim, momentum: f32, weight_init_std: f32) -> crate::Result<()> {
    let bad = |name: &'static str, reason: String| crate::Error::InvalidParam { name, reason };
    optim.check()?;
    if !(0.0..1.0).contains(&momentum) {
        return Err(bad("momentum", format!("{momentum} must be in [0, 1)")));
    }
    if !(weight_init_std.is_finite() && weight_init_std >= 0.0) {
        return Err(bad("weight_init_std", format!("{weight_init_std} must be finite and ≥ 0")));
    }
    Ok(())
}

pub use config::{Algorithm, Averaging, Centering, FastWeights, Optimizer, Schedule, Sparsity, TrainConfig};
pub use metrics::Metrics;
pub use optim::Optim;
pub use trainer::{EpochReport, OptimizerState, TrainState, Trainer, fit};
