//! Vectorized logistic sigmoid, softplus and log-sigmoid over slices.
//!
//! Stable over the whole f32 range: finite inputs never give NaN or
//! overflow, ±inf give the limits, NaN gives NaN. The formulas are in
//! `src/simd/math.rs`; the maximum errors measured against an f64 reference
//! (`tests/kernels.rs`, `activation_error_report`) are:
//!
//! | function | AVX-512 / AVX2 (FMA) | scalar | where |
//! |---|---|---|---|
//! | `sigmoid` | ≤ 4 ulp | ≤ 4 ulp | all normal outputs |
//! | `softplus` | ≤ 4 ulp | ≤ 4 ulp | all normal outputs |
//! | `log_sigmoid` | ≤ 4 ulp | ≤ 4 ulp | all normal outputs |
//!
//! Outputs in the subnormal range (sigmoid(x) for x < −87.3, softplus(x)
//! for x < −87.3) are within 2⁻¹⁴⁹·4 absolute. These bounds are asserted by
//! the tests, which print the measured maxima.

use crate::error::Result;
use crate::simd::{self, Isa, LogSigmoid, Sigmoid, Softplus, Unary};

use super::check_len;

fn run<F: Unary>(isa: Isa, x: &[f32], bias: Option<&[f32]>, out: &mut [f32]) -> Result<()> {
    isa.check()?;
    check_len("output", x.len(), out.len())?;
    if let Some(b) = bias {
        check_len("bias", x.len(), b.len())?;
    }
    simd::unary::<F>(isa, x, bias, out);
    Ok(())
}

macro_rules! activation {
    ($name:ident, $on:ident, $inplace:ident, $op:ty, $math:literal) => {
        #[doc = concat!("`out[i] = ", $math, "` for every `i`.")]
        ///
        /// # Errors
        /// [`crate::Error::ShapeMismatch`] if the lengths differ.
        ///
        /// # Examples
        /// ```
        #[doc = concat!("let mut out = [0.0f32; 3];")]
        #[doc = concat!("boltzmann::kernels::", stringify!($name), "(&[-1.0, 0.0, 1.0], &mut out).unwrap();")]
        /// assert!(out.iter().all(|v| v.is_finite()));
        /// ```
        pub fn $name(x: &[f32], out: &mut [f32]) -> Result<()> {
            run::<$op>(simd::active_isa(), x, None, out)
        }

        #[doc = concat!("[`", stringify!($name), "`] on a chosen ISA, with an optional bias added first: `out[i] = f(x[i] + bias[i])`.")]
        ///
        /// # Errors
        /// [`crate::Error::ShapeMismatch`] if the lengths differ,
        /// [`crate::Error::IsaUnavailable`] if the CPU lacks `isa`.
        pub fn $on(isa: Isa, x: &[f32], bias: Option<&[f32]>, out: &mut [f32]) -> Result<()> {
            run::<$op>(isa, x, bias, out)
        }

        #[doc = concat!("In-place [`", stringify!($name), "`].")]
        pub fn $inplace(x: &mut [f32]) {
            simd::unary_in_place::<$op>(simd::active_isa(), x, None)
        }
    };
}

activation!(sigmoid, sigmoid_on, sigmoid_in_place, Sigmoid, "1 / (1 + exp(-x[i]))");
activation!(softplus, softplus_on, softplus_in_place, Softplus, "log(1 + exp(x[i]))");
activation!(
    log_sigmoid,
    log_sigmoid_on,
    log_sigmoid_in_place,
    LogSigmoid,
    "log(sigmoid(x[i])) = -softplus(-x[i])"
);

/// Row-wise `x[r][j] = sigmoid(x[r][j] + bias[j])` on a row-major matrix
/// (the `p(h|v)` / `p(v|h)` step after a product).
pub(crate) fn sigmoid_rows_bias_in_place(isa: Isa, x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len().max(1)) {
        simd::unary_in_place::<Sigmoid>(isa, row, Some(bias));
    }
}

/// Row-wise `x[r][j] = softplus(x[r][j] + bias[j])`.
pub(crate) fn softplus_rows_bias_in_place(isa: Isa, x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len().max(1)) {
        simd::unary_in_place::<Softplus>(isa, row, Some(bias));
    }
}
