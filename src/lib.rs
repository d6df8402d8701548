//! # boltzmann
//!
//! Fast learning and sampling of energy-based models, `p(x) ∝ exp(−E(x))`:
//! runtime-dispatched SIMD kernels (dense and binary × dense products), the
//! Bernoulli–Bernoulli [`Rbm`], block-Gibbs [`Chains`] over many chains in
//! parallel (and bit-packed [`sampler::PackedChains`] for millions), CD-k /
//! PCD training ([`train`]), evaluation ([`eval`]: exact log Z, AIS, RAISE),
//! Deep Belief Networks ([`model::Dbn`], [`train::dbn`], [`eval::dbn`]),
//! continuous energy models ([`energy`]: the Gaussian–Bernoulli RBM, MLP
//! energies, score networks) with Langevin, MALA and annealed Langevin
//! samplers ([`sampler::langevin`]) and their training ([`train::ebm`],
//! [`train::dsm`], [`train::gaussian`]), and (feature `io`) data-set
//! readers, safetensors model files, checkpoints and pictures — all
//! reproducible bit for bit from a seed, whatever the thread count.
//!
//! ```
//! use boltzmann::{Chains, Rbm};
//! // A random 784 × 500 RBM (weights N(0, 0.01²)), 256 chains, 5 sweeps.
//! let rbm = Rbm::random(784, 500, 0.01, 0.0, 1)?;
//! let mut chains = Chains::new(&rbm, 256, 42)?;
//! chains.sweep(&rbm, 5)?;
//! let v = chains.visible(); // 256 × 784 row-major, 0.0 / 1.0
//! assert!(v.iter().all(|&x| x == 0.0 || x == 1.0));
//! # Ok::<(), boltzmann::Error>(())
//! ```
//!
//! Training in a few lines (the embedded binarized MNIST subset needs the
//! `io` feature, on by default):
//!
//! ```no_run
//! # #[cfg(feature = "io")] {
//! use boltzmann::train::{fit, TrainConfig};
//! let data = boltzmann::io::embedded_mnist()?;
//! let rbm = fit(TrainConfig::default().n_hidden(200).epochs(5), &data.train)?;
//! boltzmann::io::save_rbm(&rbm, std::path::Path::new("model.safetensors"))?;
//! # }
//! # Ok::<(), boltzmann::Error>(())
//! ```
//!
//! ## Layers
//!
//! Dependencies point one way: [`simd`] (the only `core::arch` code: CPU
//! detection and kernel bodies) → [`kernels`] (safe, validated slice
//! kernels: activations, fused Bernoulli sampling, products) and [`rng`]
//! (per-chain streams, uniforms and normals) → [`model`] and [`energy`]
//! (models and energy functions) → [`sampler`] → [`train`] (with [`data`])
//! → `io` (files) → the CLI (`src/bin/boltzmann/`, which also holds the
//! throughput harness behind `boltzmann bench`). [`mod@reference`] holds a
//! naive twin of every kernel, for the tests; library code does not use it.
//!
//! ## Data layout
//!
//! Matrices are row-major f32. A batch of states is `batch × units`; RBM
//! weights are `n_visible × n_hidden` (`w[i·H + j]`), so `V·W` gives hidden
//! pre-activations and `H·Wᵀ` visible ones (read through strides, no copy).
//!
//! ## SIMD dispatch
//!
//! A plain `cargo build --release` uses AVX-512 or AVX2+FMA when the CPU has
//! them (checked at run time) and a scalar fallback otherwise.
//! `BOLTZMANN_FORCE_ISA=scalar|avx2|avx512` forces a path,
//! `BOLTZMANN_ENSURE_ISA=1` makes a missing forced path an error, and
//! [`simd::active_isa`] reports the choice. The dense products use
//! `matrixmultiply`, which does its own run-time detection.
//!
//! ## Threads and reproducibility
//!
//! Parallel work runs on the current rayon pool; wrap calls in
//! `rayon::ThreadPoolBuilder::new().num_threads(n).build()?.install(..)` to
//! choose `n`. Results depend on the seed only, not on the thread count (see
//! [`sampler::chains`]). They can differ between SIMD paths by FMA rounding.
//!
//! ## Errors
//!
//! Bad input (wrong shapes, NaN, non-binary states, zero or absurd sizes)
//! returns an [`Error`]; nothing panics or aborts on user input.
//!
//! ## Features and MSRV
//!
//! `io` (default) adds file formats (flate2, serde_json, png); `cli`
//! (default) builds the `boltzmann` binary (clap, indicatif). Depend with
//! `default-features = false` for kernels, models, samplers and the trainer
//! alone (rayon, matrixmultiply, rand_xoshiro, bytemuck). MSRV 1.89 (stable
//! AVX-512 intrinsics).

#![deny(rustdoc::broken_intra_doc_links)]

/// Builder-style setters for the public fields of a configuration struct:
/// `Config::default().epochs(5).seed(7)`. Every configuration is
/// `#[non_exhaustive]`, so that fields can be added without breaking
/// callers; outside this crate it is built from `Default` (or a
/// constructor) with these setters, or by assigning its public fields.
macro_rules! setters {
    ($ty:ident { $($field:ident : $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "` (see the field's documentation).")]
                #[must_use]
                pub fn $field(mut self, value: $t) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

/// The setters of the shared [`train::Optim`] settings on a configuration
/// that embeds them as its `optim` field: `optim(..)` replaces them,
/// `learning_rate(..)`, `schedule(..)`, `l2(..)`, `batch_size(..)` and
/// `epochs(..)` set one of them.
macro_rules! optim_setters {
    ($ty:ident) => {
        impl $ty {
            /// Sets every shared optimisation setting (see [`crate::train::Optim`]).
            #[must_use]
            pub fn optim(mut self, value: $crate::train::Optim) -> Self {
                self.optim = value;
                self
            }
            optim_setters!(@one learning_rate: f32, schedule: $crate::train::Schedule, l2: f32, batch_size: usize, epochs: usize);
        }
    };
    (@one $($field:ident : $t:ty),*) => {
        $(
            #[doc = concat!("Sets `optim.", stringify!($field), "` (see [`crate::train::Optim`]).")]
            #[must_use]
            pub fn $field(mut self, value: $t) -> Self {
                self.optim.$field = value;
                self
            }
        )*
    };
}

mod alloc;
pub mod checksum;
pub mod data;
#[cfg(feature = "mpi")]
pub mod distributed;
pub mod energy;
pub mod error;
pub mod eval;
#[cfg(feature = "io")]
pub mod io;
pub mod kernels;
pub mod model;
pub mod reference;
pub mod rng;
pub mod sampler;
pub mod simd;
pub mod train;

pub use error::{Error, OsError, Result};
pub use model::Rbm;
pub use sampler::{Chains, TemperedChains};
pub use simd::{Isa, active_isa};
/// The random-number crates the streams come from ([`rng`]), re-exported so
/// that your code uses the same versions.
pub use {rand_core, rand_xoshiro};
