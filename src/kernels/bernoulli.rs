//! Fused Bernoulli sampling of a matrix of binary units from their
//! pre-activations: bias + sigmoid + compare in one pass, with no buffer of
//! probabilities.
//!
//! A unit with total input `x = pre + bias` is on when `u < σ(x)`, `u` a
//! uniform in (0, 1) from its chain's stream. The kernel never divides: with
//! `s = exp(−x)`, the test is `u + u·s < 1` (both sides of
//! `u < 1/(1 + s)` multiplied by `1 + s`; `s = +inf` for very negative `x`
//! makes it false, as it should be).
//! Compared with `u < σ(x)` evaluated in f64, a sample can differ only when
//! `u` lies within a few ulp of `σ(x)` (tests count those cases).

use crate::error::Result;
use crate::rng::StreamState;
use crate::simd::{self, Isa};

use super::{check_len, mul_dims};

/// Samples binary units: `out[r][j] = 1.0` if `u(bits[r][j]) < σ(pre[r][j] + bias[j])`
/// else `0.0`, for a row-major `rows × n` matrix, `n = bias.len()`, with each
/// 32-bit word of `bits` mapped to a uniform as in [`crate::rng`]. `bits`
/// has one row of `bits_stride ≥ n` words per row of `pre`.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] for inconsistent lengths.
///
/// # Examples
/// ```
/// let pre = [100.0f32, -100.0];
/// let mut out = [0.5f32; 2];
/// boltzmann::kernels::bernoulli_from_bits(&pre, &[0.0, 0.0], &[7, 7], 2, &mut out).unwrap();
/// assert_eq!(out, [1.0, 0.0]);
/// ```
pub fn bernoulli_from_bits(
    pre: &[f32],
    bias: &[f32],
    bits: &[u32],
    bits_stride: usize,
    out: &mut [f32],
) -> Result<()> {
    bernoulli_from_bits_on(simd::active_isa(), pre, bias, bits, bits_stride, out)
}

/// [`bernoulli_from_bits`] on a chosen ISA.
///
/// # Errors
/// As [`bernoulli_from_bits`], plus [`crate::Error::IsaUnavailable`].
pub fn bernoulli_from_bits_on(
    isa: Isa,
    pre: &[f32],
    bias: &[f32],
    bits: &[u32],
    bits_stride: usize,
    out: &mut [f32],
) -> Result<()> {
    isa.check()?;
    let n = bias.len();
    check_len("output", pre.len(), out.len())?;
    if n == 0 {
        return check_len("pre-activations", 0, pre.len());
    }
    if !pre.len().is_multiple_of(n) {
        return check_len("pre-activations (a multiple of bias length)", pre.len() / n * n, pre.len());
    }
    let rows = pre.len() / n;
    if bits_stride < n {
        return check_len("bits stride (at least the row length)", n, bits_stride);
    }
    check_len("bits", mul_dims("bits", rows, bits_stride)?, bits.len())?;
    simd::bernoulli(isa, pre, bias, bits, bits_stride, out);
    Ok(())
}

/// Samples binary units with fresh randomness: row `r` of the row-major
/// `rows × n` matrix uses stream `streams[r]` (`rows = streams.len()`,
/// `n = bias.len()`), consuming `⌈n/2⌉` of its outputs.
///
/// Allocates a scratch buffer of `rows·⌈n/2⌉` words per call; the chain
/// samplers keep theirs in a workspace instead.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] for inconsistent lengths.
///
/// # Examples
/// ```
/// let mut streams = boltzmann::rng::chain_streams(3, 2).unwrap();
/// let pre = vec![0.0f32; 2 * 4];
/// let mut h = vec![0.0f32; 2 * 4];
/// boltzmann::kernels::sample_bernoulli(&pre, &[0.0; 4], &mut streams, &mut h).unwrap();
/// assert!(h.iter().all(|&x| x == 0.0 || x == 1.0));
/// ```
pub fn sample_bernoulli(
    pre: &[f32],
    bias: &[f32],
    streams: &mut [StreamState],
    out: &mut [f32],
) -> Result<()> {
    let n = bias.len();
    let rows = streams.len();
    let total = mul_dims("pre-activations", rows, n)?;
    check_len("pre-activations", total, pre.len())?;
    check_len("output", total, out.len())?;
    let words = n.div_ceil(2);
    let mut raw = crate::alloc::try_vec(rows * words, 0u64, "random bits scratch")?;
    let isa = simd::active_isa();
    simd::xoshiro_fill(isa, streams, words, &mut raw);
    if n > 0 {
        simd::bernoulli(isa, pre, bias, bytemuck::cast_slice(&raw), 2 * words, out);
    }
    Ok(())
}
