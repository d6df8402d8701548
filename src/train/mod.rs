//! Training: CD-k and PCD with SGD+momentum or Adam, schedules, weight
//! decay, sparsity, and the monitors of Hinton’s guide; greedy layer-wise
//! training of Deep Belief Networks in [`dbn`]; continuous energy models by
//! Langevin maximum likelihood with a replay buffer in [`ebm`], and score
//! networks by denoising score matching in [`dsm`].
//!
//! ```
//! use boltzmann::data::Dataset;
//! use boltzmann::train::{fit, TrainConfig};
//! let x: Vec<f32> = (0..600).map(|i| ((i / 3 + i % 5) % 2) as f32).collect();
//! let data = Dataset::new(x, 12)?; // 50 examples
//! let rbm = fit(TrainConfig { n_hidden: 8, batch_size: 10, epochs: 2, ..Default::default() }, &data)?;
//! assert_eq!(rbm.n_visible(), 12);
//! # Ok::<(), boltzmann::Error>(())
//! ```

pub mod config;
pub mod dbn;
pub mod dsm;
pub mod ebm;
pub mod gaussian;
pub mod labelled;
pub mod metrics;
pub mod softmax;
pub mod trainer;
mod update;

pub use config::{Algorithm, Centering, FastWeights, Optimizer, Schedule, Sparsity, TrainConfig};
pub use metrics::Metrics;
pub use trainer::{EpochReport, OptimizerState, TrainState, Trainer, fit};
