//! Vectorized logistic sigmoid, softplus and log-sigmoid over slices.
//!
//! Stable over the whole f32 range: finite inputs never give NaN or
//! overflow, ±inf give the limits, NaN gives NaN. The formulas are in
//! `src/simd/bodies.rs`. Maximum errors against an f64 reference, measured by
//! `cargo test --test kernels -- --nocapture` over ±[1e-12, 3.4e38]
//! (log-spaced, 1.3% steps), [−120, 120] in steps of 0.006, and the edge
//! values ±0, ±inf, ±MAX, ±1e30, subnormals, ±88, ±104:
//!
//! | function | scalar, AVX2, AVX-512 (same maximum on each) | asserted |
//! |---|---|---|
//! | `sigmoid` | 2.39 ulp (x = −2.72) | ≤ 3 ulp |
//! | `softplus` | 2.52 ulp (x = −2.05) | ≤ 3 ulp |
//! | `log_sigmoid` | 2.52 ulp (x = 2.05) | ≤ 3 ulp |
//!
//! Outputs below `f32::MIN_POSITIVE` (sigmoid or softplus of x < −87.3) are
//! within 2.1e-45 absolute (1.5 subnormal steps).

use crate::error::Result;
use crate::simd::{self, Flush, Isa, LogSigmoid, Sigmoid, Softplus, Unary};

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
/// (the `p(h|v)` / `p(v|h)` step after a product), flushing results below
/// ≈ 1.6e-38 (inputs under −87) to 0 so that no subnormal number reaches the
/// products that follow.
pub(crate) fn sigmoid_rows_bias_in_place(isa: Isa, x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len().max(1)) {
        simd::unary_in_place::<Flush<Sigmoid>>(isa, row, Some(bias));
    }
}

/// Row-wise `out[r][j] = sigmoid(x[r][j] + bias[j])`, flushed like
/// [`sigmoid_rows_bias_in_place`].
pub(crate) fn sigmoid_rows_bias(isa: Isa, x: &[f32], bias: &[f32], out: &mut [f32]) {
    let n = bias.len().max(1);
    for (xr, o) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        simd::unary::<Flush<Sigmoid>>(isa, xr, Some(bias), o);
    }
}

/// Row-wise `x[r][j] = softplus(x[r][j] + bias[j])`, flushed like
/// [`sigmoid_rows_bias_in_place`].
pub(crate) fn softplus_rows_bias_in_place(isa: Isa, x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len().max(1)) {
        simd::unary_in_place::<Flush<Softplus>>(isa, row, Some(bias));
    }
}

/// `out = softplus(x)`, flushed like [`sigmoid_rows_bias_in_place`].
pub(crate) fn softplus_flush(isa: Isa, x: &[f32], out: &mut [f32]) {
    simd::unary::<Flush<Softplus>>(isa, x, None, out);
}

/// `Σᵢ softplus((β₀+Δβ)·(x[i]+bias[i])) − softplus(β₀·(x[i]+bias[i]))`:
/// one chain's AIS weight increment over its hidden units between two
/// neighbouring inverse temperatures, `β₀ ≥ 0` and `Δβ > 0` (small, e.g.
/// 1e-5, in the default schedule).
///
/// Subtracting two softplus values would lose everything below ≈ 1e-7 of
/// `ln 2` to cancellation; this evaluates each difference with relative
/// accuracy (`log1p(σ(β₀x)·expm1(Δβ·x))` when `|Δβ·x| ≤ 0.35`; see
/// `src/simd/bodies.rs`), vectorized, in f32, and returns the sum in f64.
/// Measured against an f64 reference by `cargo test --test kernels`: the
/// error of the sum stays below 2e-6 of `Σ|differences|` (asserted).
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] if the lengths differ,
/// [`crate::Error::InvalidParam`] for a negative or non-finite `β₀` or
/// `Δβ`, [`crate::Error::IsaUnavailable`] if the CPU lacks `isa`.
///
/// # Examples
/// ```
/// use boltzmann::kernels::activation::softplus_step_sum_on;
/// let (x, c) = ([2.0f32, -1.0, 0.5], [0.0f32; 3]);
/// let s = softplus_step_sum_on(boltzmann::active_isa(), &x, &c, 0.5, 1e-5).unwrap();
/// let f = |b: f64| x.iter().map(|&v| (1.0 + (b * v as f64).exp()).ln()).sum::<f64>();
/// assert!((s - (f(0.50001) - f(0.5))).abs() < 1e-11);
/// ```
pub fn softplus_step_sum_on(isa: Isa, x: &[f32], bias: &[f32], beta0: f32, dbeta: f32) -> Result<f64> {
    isa.check()?;
    check_len("bias", x.len(), bias.len())?;
    if !(beta0 >= 0.0 && dbeta >= 0.0 && beta0.is_finite() && dbeta.is_finite()) {
        return Err(crate::Error::InvalidParam {
            name: "beta",
            reason: format!("need finite β₀ ≥ 0 and Δβ ≥ 0, got {beta0} and {dbeta}"),
        });
    }
    Ok(simd::softplus_step_sum(isa, x, bias, beta0, dbeta))
}
