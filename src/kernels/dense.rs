//! Dense products over weights packed once ([`PackedWeights`], the layout
//! the binary products read), by our own register-blocked kernels, with the
//! Gibbs sampling step fused into the product.
//!
//! matrixmultiply packs both factors on every call; during sampling `W`
//! does not change, so it is packed once (in 16-column panels) and the
//! states are read in place. A tile of 8 rows × 32 columns (AVX-512; 6 ×
//! 16 with AVX2+FMA) accumulates in registers over the whole shared
//! dimension; the sweeps then add the bias, draw `u < σ(x)` and
//! write 0/1 states while the sums are still in registers, so
//! pre-activations never go to memory (the fused epilogue of
//! `src/simd/tiles.rs`).
//!
//! Every output is the sequential fused multiply-add sum over the shared
//! dimension, `fma(a[k−1], w[k−1], … fma(a[0], w[0], 0))`: the same bits on
//! AVX2 and AVX-512, for any split of rows or columns over threads, and the
//! same as the portable fallback ([`f32::mul_add`] in that order) used
//! where neither is available. (matrixmultiply sums in another order, so
//! these products differ from [`super::gemm_nn`]'s in the last bits.)

use super::binary::PackedWeights;
use super::{SendPtr, check_len, mul_dims};
use crate::error::{Error, Result};
use crate::simd::{self, Isa, PANEL, Tiles, tile_out};
use rayon::prelude::*;

/// `C = A · W`: `A` is `m × k` row-major, `W` packed (`k × n`), `C` is
/// `m × n` row-major, on the active ISA.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `a` is not `m × W.k()` or `c` not
/// `m × W.n()`.
///
/// # Examples
/// ```
/// use boltzmann::kernels::{binary::PackedWeights, dense::gemm_packed};
/// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 × 3
/// let packed = PackedWeights::new(&w, 2, 3)?;
/// let a = [1.0f32, 1.0, 0.0, 1.0]; // 2 × 2
/// let mut c = [0.0f32; 6];
/// gemm_packed(2, &a, &packed, &mut c)?;
/// assert_eq!(c, [5.0, 7.0, 9.0, 4.0, 5.0, 6.0]);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn gemm_packed(m: usize, a: &[f32], w: &PackedWeights, c: &mut [f32]) -> Result<()> {
    gemm_packed_on(simd::active_isa(), m, a, w, c)
}

/// [`gemm_packed`] on an explicit ISA (the portable fallback for
/// [`Isa::Scalar`], with the same bits).
///
/// # Errors
/// As [`gemm_packed`].
pub fn gemm_packed_on(isa: Isa, m: usize, a: &[f32], w: &PackedWeights, c: &mut [f32]) -> Result<()> {
    check_len("A (m × k)", mul_dims("m × k", m, w.k())?, a.len())?;
    check_len("C (m × n)", mul_dims("m × n", m, w.n())?, c.len())?;
    if !product(isa, m, a, w, c, 0..w.n()) {
        fallback(m, a, w, c, 0..w.n());
    }
    Ok(())
}

/// [`gemm_packed`] with the output columns split into `parts` ranges
/// (whole 32-column tiles) computed in parallel on the current rayon pool:
/// for few rows, where splitting rows would leave threads idle. Same bits
/// for any `parts`.
///
/// # Errors
/// As [`gemm_packed`], and [`Error::InvalidParam`] for `parts == 0`.
pub fn par_gemm_packed_cols(
    m: usize,
    a: &[f32],
    w: &PackedWeights,
    c: &mut [f32],
    parts: usize,
) -> Result<()> {
    if parts == 0 {
        return Err(Error::InvalidParam { name: "parts", reason: "must be at least 1".into() });
    }
    check_len("A (m × k)", mul_dims("m × k", m, w.k())?, a.len())?;
    check_len("C (m × n)", mul_dims("m × n", m, w.n())?, c.len())?;
    if !par_product_cols(simd::active_isa(), m, a, w, c, parts) {
        fallback(m, a, w, c, 0..w.n());
    }
    Ok(())
}

/// `out (m × n) = A · W` by the tile kernels with the output columns split
/// into `parts` ranges of whole tiles computed in parallel on the current
/// rayon pool (same bits for any `parts`); `false` (nothing written) where
/// `isa` has no tile kernel.
///
/// # Panics
/// If a slice is shorter than its extent (callers validate first).
pub(crate) fn par_product_cols(
    isa: Isa,
    m: usize,
    a: &[f32],
    w: &PackedWeights,
    out: &mut [f32],
    parts: usize,
) -> bool {
    assert!(a.len() >= m * w.k() && out.len() >= m * w.n());
    if !simd::has_dense_tiles(isa) {
        return false;
    }
    let ptr = SendPtr(out.as_mut_ptr());
    column_ranges(w.n(), parts).into_par_iter().for_each(|cols| {
        // SAFETY: `out` holds `m × n` (asserted); the column ranges are
        // disjoint, so no two tasks write the same element, and every task
        // ends before `out`'s borrow does.
        unsafe { product_raw(isa, m, a, w, ptr.get(), cols) };
    });
    true
}

/// `out (m × n) = A · W` by the tile kernels, rows in blocks of
/// `block_rows` run in parallel on the current rayon pool (same bits for any
/// blocking); `false` (nothing written) where `isa` has no tile kernel.
///
/// # Panics
/// If a slice is shorter than its extent (callers validate first).
pub(crate) fn par_product_rows(
    isa: Isa,
    m: usize,
    a: &[f32],
    w: &PackedWeights,
    out: &mut [f32],
    block_rows: usize,
) -> bool {
    let (k, n) = (w.k(), w.n());
    assert!(a.len() >= m * k && out.len() >= m * n);
    if !simd::has_dense_tiles(isa) {
        return false;
    }
    let br = block_rows.max(1);
    if k == 0 || n == 0 {
        return product(isa, m, a, w, out, 0..n);
    }
    out[..m * n].par_chunks_mut(br * n).zip(a[..m * k].par_chunks(br * k)).for_each(|(o, x)| {
        product(isa, x.len() / k, x, w, o, 0..n);
    });
    true
}

/// Column ranges of whole 32-column tiles, at most `parts` of them.
pub(crate) fn column_ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let tiles = n.div_ceil(2 * PANEL).max(1);
    let per = tiles.div_ceil(parts.max(1));
    (0..tiles)
        .step_by(per)
        .map(|t| t * 2 * PANEL..((t + per) * 2 * PANEL).min(n))
        .filter(|r| !r.is_empty())
        .collect()
}

/// The tile arguments of `out (m × n) = A · W`, columns `cols`.
///
/// # Panics
/// If `a` is shorter than `m × k` or `cols` does not start on a panel
/// boundary or passes `n`.
fn tiles(m: usize, a: &[f32], w: &PackedWeights, out: *mut f32, cols: std::ops::Range<usize>) -> Tiles {
    let (k, n) = (w.k(), w.n());
    assert!(a.len() >= m * k && cols.start.is_multiple_of(PANEL) && cols.end <= n);
    Tiles {
        m,
        k,
        a: a.as_ptr(),
        lda: k,
        panels: w.panels().as_ptr(),
        n,
        j0: cols.start,
        j1: cols.end,
        out,
        ldo: n,
        probs: std::ptr::null_mut(),
        bias: std::ptr::null(),
        bits: std::ptr::null(),
        bits_stride: 0,
    }
}

/// Columns `cols` of `out (m × n) = A · W` with the tile kernels; `false`
/// (nothing written) where `isa` has none.
///
/// # Panics
/// If a slice is shorter than its extent or `cols` is not a range of
/// columns starting on a panel boundary (callers validate first).
pub(crate) fn product(
    isa: Isa,
    m: usize,
    a: &[f32],
    w: &PackedWeights,
    out: &mut [f32],
    cols: std::ops::Range<usize>,
) -> bool {
    assert!(out.len() >= m * w.n());
    // SAFETY: `out` holds `m × n` (asserted) and is borrowed mutably here.
    unsafe { product_raw(isa, m, a, w, out.as_mut_ptr(), cols) }
}

/// [`product`] into a raw output.
///
/// # Safety
/// `out` valid for writes of `m` rows of `w.n()` floats (row stride
/// `w.n()`), and no other access to the elements of columns `cols` during
/// the call.
unsafe fn product_raw(
    isa: Isa,
    m: usize,
    a: &[f32],
    w: &PackedWeights,
    out: *mut f32,
    cols: std::ops::Range<usize>,
) -> bool {
    let t = tiles(m, a, w, out, cols);
    // SAFETY: `tiles` asserted the extents of `a` and the columns; the
    // caller guarantees `out`.
    unsafe { simd::dense_tiles::<{ tile_out::STORE }>(isa, &t) }
}

/// The fused hidden or visible half-step: `out[r][j] = 1` where
/// `u(bits[r·bits_stride + j]) < σ((A·W)[r][j] + bias[j])`, else `0` — the
/// samples [`super::bernoulli`]'s kernel draws from the same sums — and,
/// with `probs`, `probs[r][j] = σ(…)`. `false` (nothing written) where
/// `isa` has no tile kernel.
///
/// # Panics
/// If a slice is shorter than its extent (callers validate first).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_packed(
    isa: Isa,
    m: usize,
    a: &[f32],
    w: &PackedWeights,
    bias: &[f32],
    bits: &[u32],
    bits_stride: usize,
    out: &mut [f32],
    probs: Option<&mut [f32]>,
) -> bool {
    let n = w.n();
    assert!(bias.len() >= n && bits_stride >= n && out.len() >= m * n);
    assert!(m == 0 || bits.len() >= (m - 1) * bits_stride + n);
    let mut t = tiles(m, a, w, out.as_mut_ptr(), 0..n);
    t.bias = bias.as_ptr();
    t.bits = bits.as_ptr();
    t.bits_stride = bits_stride;
    // SAFETY: `tiles` and the asserts above cover every extent read or
    // written.
    unsafe {
        match probs {
            None => simd::dense_tiles::<{ tile_out::SAMPLE }>(isa, &t),
            Some(p) => {
                assert!(p.len() >= m * n);
                t.probs = p.as_mut_ptr();
                simd::dense_tiles::<{ tile_out::SAMPLE_PROBS }>(isa, &t)
            }
        }
    }
}

/// The portable product: the same sequential fused multiply-add sums.
fn fallback(m: usize, a: &[f32], w: &PackedWeights, out: &mut [f32], cols: std::ops::Range<usize>) {
    let (k, n, panels) = (w.k(), w.n(), w.panels());
    for r in 0..m {
        let row = &a[r * k..(r + 1) * k];
        for j in cols.clone() {
            let (p, c) = (j / PANEL, j % PANEL);
            let col = &panels[p * k * PANEL + c..];
            out[r * n + j] = row.iter().enumerate().fold(0.0f32, |s, (i, &x)| x.mul_add(col[i * PANEL], s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes around the tile edges: rows 1–30 (8-row AVX-512 and 6-row AVX2 tiles, then 4-, 2-, 1-row
    /// tiles), columns inside one vector, one panel, an odd panel count,
    /// and the sweep shapes.
    const SHAPES: [(usize, usize, usize); 9] = [
        (1, 1, 1),
        (13, 7, 17),
        (25, 33, 31),
        (3, 5, 48),
        (12, 784, 500),
        (30, 500, 784),
        (7, 2, 8),
        (11, 64, 16),
        (2, 9, 100),
    ];

    fn inputs(m: usize, k: usize, n: usize) -> (Vec<f32>, PackedWeights, Vec<f32>) {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 + 3) % 5 == 0) as u8 as f32).collect();
        let w: Vec<f32> =
            (0..k * n).map(|i| ((i * 2_654_435_761usize) % 1000) as f32 / 333.0 - 1.5).collect();
        (a, PackedWeights::new(&w, k, n).unwrap(), w)
    }

    /// Every ISA gives the portable fallback's bits (the same sequential
    /// fused sums), close to an f64 product.
    #[test]
    fn tiles_equal_the_fallback_on_every_isa() {
        for (m, k, n) in SHAPES {
            let (a, pw, w) = inputs(m, k, n);
            let mut want = vec![0.0f32; m * n];
            fallback(m, &a, &pw, &mut want, 0..n);
            for r in 0..m {
                for j in 0..n {
                    let e: f64 = (0..k).map(|i| a[r * k + i] as f64 * w[i * n + j] as f64).sum();
                    assert!(
                        (e - want[r * n + j] as f64).abs() < 1e-4 * (1.0 + k as f64),
                        "{m}×{k}×{n} [{r}][{j}]"
                    );
                }
            }
            for isa in Isa::available() {
                let mut got = vec![f32::NAN; m * n];
                gemm_packed_on(isa, m, &a, &pw, &mut got).unwrap();
                assert_eq!(got, want, "{isa} {m}×{k}×{n}");
            }
        }
    }

    /// Splitting the columns over threads changes no bit.
    #[test]
    fn column_split_is_the_whole() {
        for (m, k, n) in SHAPES {
            let (a, pw, _) = inputs(m, k, n);
            let mut whole = vec![0.0f32; m * n];
            gemm_packed(m, &a, &pw, &mut whole).unwrap();
            for parts in [1usize, 2, 3, 7] {
                let mut split = vec![f32::NAN; m * n];
                let pool = rayon::ThreadPoolBuilder::new().num_threads(parts).build().unwrap();
                pool.install(|| par_gemm_packed_cols(m, &a, &pw, &mut split, parts)).unwrap();
                assert_eq!(split, whole, "{m}×{k}×{n} in {parts}");
            }
        }
        let (a, pw, _) = inputs(2, 3, 4);
        assert!(par_gemm_packed_cols(2, &a, &pw, &mut [0.0; 8], 0).is_err());
        assert!(gemm_packed(2, &a, &pw, &mut [0.0; 7]).is_err());
        assert!(gemm_packed(3, &a, &pw, &mut [0.0; 12]).is_err());
    }

    /// The fused epilogue draws exactly the samples (and probabilities) of
    /// the product followed by the separate sampling kernel, including
    /// biases that push units to either end.
    #[test]
    fn fused_sampling_equals_product_then_sampling() {
        for (m, k, n) in SHAPES {
            let (a, pw, _) = inputs(m, k, n);
            let bias: Vec<f32> =
                (0..n).map(|j| (j % 9) as f32 - 4.0 + if j % 11 == 0 { 90.0 } else { 0.0 }).collect();
            let stride = n + 3;
            let bits: Vec<u32> =
                (0..m * stride).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7)).collect();
            for isa in Isa::available().into_iter().filter(|&i| simd::has_dense_tiles(i)) {
                let mut pre = vec![0.0f32; m * n];
                assert!(product(isa, m, &a, &pw, &mut pre, 0..n));
                let (mut want, mut want_p) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
                simd::bernoulli(isa, &pre, &bias, &bits, stride, &mut want);
                let mut want2 = vec![0.0f32; m * n];
                simd::bernoulli_with_probs(isa, &pre, &bias, &bits, stride, &mut want_p, &mut want2);
                let mut got = vec![f32::NAN; m * n];
                assert!(sample_packed(isa, m, &a, &pw, &bias, &bits, stride, &mut got, None));
                assert_eq!(got, want, "{isa} {m}×{k}×{n}");
                let (mut got2, mut got_p) = (vec![f32::NAN; m * n], vec![f32::NAN; m * n]);
                assert!(sample_packed(isa, m, &a, &pw, &bias, &bits, stride, &mut got2, Some(&mut got_p)));
                assert_eq!((got2, got_p), (want2, want_p), "{isa} {m}×{k}×{n} with probabilities");
                let ones = want.iter().filter(|&&x| x == 1.0).count();
                assert!(m * n < 20 || (ones > 0 && ones < m * n), "{m}×{k}×{n}: both values drawn");
            }
        }
        assert!(!sample_packed(
            Isa::Scalar,
            1,
            &[1.0],
            &inputs(1, 1, 1).1,
            &[0.0],
            &[0],
            1,
            &mut [0.0],
            None
        ));
    }

    #[test]
    fn column_ranges_cover_whole_tiles() {
        assert_eq!(column_ranges(500, 2), vec![0..256, 256..500]);
        assert_eq!(column_ranges(784, 3), vec![0..288, 288..576, 576..784]);
        assert_eq!(column_ranges(10, 4), vec![0..10]);
        assert_eq!(column_ranges(0, 2), Vec::<std::ops::Range<usize>>::new());
    }
}
