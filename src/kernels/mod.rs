//! Safe, validated kernels: activations, fused Bernoulli sampling, and the
//! products of the Gibbs half-steps — dense ([`gemm`] over matrixmultiply,
//! [`dense`] by our own kernels over weights packed once, with the sampling
//! fused in) and binary × dense ([`binary`]), kept current by the units
//! that changed (`incremental`, for annealing) — and the convolutions and probabilistic max-pooling of
//! convolutional RBMs ([`conv`]).
//!
//! Each function checks its slice lengths and returns [`crate::Error`] on a
//! mismatch, then dispatches to the SIMD path chosen by
//! [`crate::simd::active_isa`]. The `_on` variants take an explicit
//! [`crate::Isa`] (tests and benchmarks run every path in one process). Each
//! has a naive twin in [`crate::reference`].

pub mod activation;
pub mod bernoulli;
pub mod binary;
pub mod conv;
pub mod dense;
pub mod gemm;
pub(crate) mod incremental;

pub use activation::{log_sigmoid, sigmoid, softplus};
pub use bernoulli::{bernoulli_from_bits, sample_bernoulli};
pub use gemm::{gemm_nn, gemm_nt, par_gemm_nn, par_gemm_nt, par_gemm_tn};

use crate::error::{Error, Result};

pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got { Ok(()) } else { Err(Error::ShapeMismatch { what, expected, got }) }
}

/// `a * b`, or an error naming `what` if it overflows.
pub(crate) fn mul_dims(what: &'static str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| Error::InvalidParam { name: what, reason: format!("{a} × {b} overflows usize") })
}

/// A raw pointer that may cross threads: each parallel task writes a
/// disjoint set of elements (columns of one matrix) through it.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: used only to write disjoint column blocks of one matrix from
// rayon tasks that all finish before the owning borrow ends.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so closures capture the whole `SendPtr`).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}
