//! Dense products for the two Gibbs half-steps, over `matrixmultiply`.
//!
//! All matrices are row-major f32. `gemm_nn` computes `C = A·B` (the
//! `V·W` step, `W` stored `n_visible × n_hidden`), `gemm_nt` computes
//! `C = A·Bᵀ` (the `H·Wᵀ` step, reading the same `W` transposed through
//! strides, no copy). The `par_` variants split the rows of `A` and `C` into
//! blocks run in parallel on the current rayon pool.
//!
//! Each element of `C` is accumulated in the same order whatever the number
//! of rows in the call (matrixmultiply blocks only the shared dimension in a
//! row-independent way), so splitting rows over threads does not change any
//! bit of the result; `tests/kernels.rs` checks this.

use super::binary::{self, BinaryRows, PackedWeights};
use crate::error::Result;
use rayon::prelude::*;

use super::{SendPtr, check_len, mul_dims};

fn check(m: usize, k: usize, n: usize, a: usize, b: usize, c: usize) -> Result<()> {
    check_len("A (m × k)", mul_dims("m × k", m, k)?, a)?;
    check_len("B (k × n)", mul_dims("k × n", k, n)?, b)?;
    check_len("C (m × n)", mul_dims("m × n", m, n)?, c)
}

/// `C = A·B`: `A` is `m × k`, `B` is `k × n`, `C` is `m × n`, all row-major.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] if a slice length is not the product of
/// its dimensions.
///
/// # Examples
/// ```
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // 2 × 2
/// let b = [1.0f32, 0.0, 0.0, 1.0];
/// let mut c = [0.0f32; 4];
/// boltzmann::kernels::gemm_nn(2, 2, 2, &a, &b, &mut c).unwrap();
/// assert_eq!(c, a);
/// ```
pub fn gemm_nn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
    check(m, k, n, a.len(), b.len(), c.len())?;
    gemm_nn_raw(m, k, n, a, b, c);
    Ok(())
}

/// `C = A·Bᵀ`: `A` is `m × k`, `B` is `n × k`, `C` is `m × n`, all row-major.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] if a slice length is not the product of
/// its dimensions.
pub fn gemm_nt(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
    check(m, k, n, a.len(), b.len(), c.len())?;
    gemm_nt_raw(m, k, n, a, b, c);
    Ok(())
}

/// [`gemm_nn`] with the no-packing AVX-512 kernel meant for small models
/// (`src/simd/gemm_avx512.rs`): each output is a sequential FMA sum over `k`.
///
/// # Errors
/// As [`gemm_nn`], plus [`crate::Error::IsaUnavailable`] without AVX-512.
pub fn gemm_nn_nopack(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
    check(m, k, n, a.len(), b.len(), c.len())?;
    if crate::simd::gemm_nn_nopack(m, k, n, a, b, c) {
        Ok(())
    } else {
        Err(crate::Error::IsaUnavailable { isa: "avx512" })
    }
}

/// [`gemm_nn`] with row blocks of `block_rows` (≥ 1) run in parallel.
///
/// # Errors
/// As [`gemm_nn`].
pub fn par_gemm_nn(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    block_rows: usize,
) -> Result<()> {
    check(m, k, n, a.len(), b.len(), c.len())?;
    let br = block_rows.max(1);
    if k == 0 || n == 0 {
        return gemm_nn(m, k, n, a, b, c);
    }
    c.par_chunks_mut(br * n).zip(a.par_chunks(br * k)).for_each(|(cb, ab)| {
        gemm_nn_raw(ab.len() / k, k, n, ab, b, cb);
    });
    Ok(())
}

/// [`gemm_nt`] with row blocks of `block_rows` (≥ 1) run in parallel.
///
/// # Errors
/// As [`gemm_nt`].
pub fn par_gemm_nt(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    block_rows: usize,
) -> Result<()> {
    check(m, k, n, a.len(), b.len(), c.len())?;
    let br = block_rows.max(1);
    if k == 0 || n == 0 {
        return gemm_nt(m, k, n, a, b, c);
    }
    c.par_chunks_mut(br * n).zip(a.par_chunks(br * k)).for_each(|(cb, ab)| {
        gemm_nt_raw(ab.len() / k, k, n, ab, b, cb);
    });
    Ok(())
}

/// `C = Aᵀ·B` with `A` stored `k × m` row-major (so `Aᵀ` is `m × k`), `B`
/// `k × n`, `C` `m × n`: the gradient product `Vᵀ·P` of RBM training, rows of
/// `C` (visible units) split into blocks of `block_rows` run in parallel.
/// Each element is accumulated over `k` in matrixmultiply's fixed order, so
/// the result does not depend on the split.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] for inconsistent lengths.
pub fn par_gemm_tn(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    block_rows: usize,
) -> Result<()> {
    par_gemm_tn_acc(m, k, n, 1.0, a, b, 0.0, c, block_rows)
}

/// `C = alpha·Aᵀ·B + beta·C`, otherwise as [`par_gemm_tn`]. With alpha ≠ 1
/// or beta ∉ {0, 1} matrixmultiply may round the edge tiles of a block
/// differently from the inner ones, so results would depend on
/// `block_rows` for non-binary inputs; callers that need thread-count
/// independence use alpha = 1, beta = 0 (as [`par_gemm_tn`] does).
#[allow(clippy::too_many_arguments)]
pub(crate) fn par_gemm_tn_acc(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    block_rows: usize,
) -> Result<()> {
    check_len("C (m × n)", mul_dims("m × n", m, n)?, c.len())?;
    tn_rows(m, k, n, alpha, a, b, beta, 0, c, block_rows)
}

/// Rows `r0 .. r0 + c.len()/n` of `Aᵀ·B` (as [`par_gemm_tn`], the same
/// bits for those rows) into `c`: a share of the rows for a process that
/// computes only its own.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] for inconsistent lengths or rows beyond
/// `m`.
pub(crate) fn par_gemm_tn_rows(
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    r0: usize,
    c: &mut [f32],
    block_rows: usize,
) -> Result<()> {
    tn_rows(m, k, n, 1.0, a, b, 0.0, r0, c, block_rows)
}

#[allow(clippy::too_many_arguments)]
fn tn_rows(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    r0: usize,
    c: &mut [f32],
    block_rows: usize,
) -> Result<()> {
    check_len("A (k × m)", mul_dims("k × m", k, m)?, a.len())?;
    check_len("B (k × n)", mul_dims("k × n", k, n)?, b.len())?;
    let c_rows = c.len().checked_div(n).unwrap_or(0);
    if r0.checked_add(c_rows).is_none_or(|end| end > m) {
        return Err(crate::Error::ShapeMismatch {
            what: "rows of C (within m)",
            expected: m,
            got: r0 + c_rows,
        });
    }
    check_len("C (rows × n)", mul_dims("rows × n", c_rows, n)?, c.len())?;
    if n == 0 || m == 0 || c_rows == 0 {
        return Ok(());
    }
    let br = block_rows.max(1);
    c.par_chunks_mut(br * n).enumerate().for_each(|(blk, cb)| {
        let i0 = r0 + blk * br;
        let rows = cb.len() / n;
        if k == 0 {
            // matrixmultiply does not read C when beta is 0; neither do we.
            if beta == 0.0 {
                cb.fill(0.0);
            } else {
                cb.iter_mut().for_each(|x| *x *= beta);
            }
            return;
        }
        // SAFETY: rows i0..i0+rows of Aᵀ are columns of A: elements
        // a[p·m + i] for p < k, i < i0 + rows ≤ m, inside `a` (checked
        // above); B and this block of C are in bounds likewise.
        unsafe {
            matrixmultiply::sgemm(
                rows,
                k,
                n,
                alpha,
                a.as_ptr().add(i0),
                1,
                m as isize,
                b.as_ptr(),
                n as isize,
                1,
                beta,
                cb.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    });
    Ok(())
}

/// Length-unchecked core (debug-asserted); lengths are invariants of callers.
pub(crate) fn gemm_nn_raw(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if k == 0 {
        c[..m * n].fill(0.0);
        return;
    }
    // SAFETY: the assert above bounds every access matrixmultiply makes
    // through these row-major strides.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Length-unchecked core of [`gemm_nt`].
pub(crate) fn gemm_nt_raw(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if k == 0 {
        c[..m * n].fill(0.0);
        return;
    }
    // SAFETY: as in `gemm_nn_raw`; B is read as its transpose via
    // (row stride 1, column stride k).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Largest `k·n` (weights of one half-step) for which the sampler uses the
/// no-packing AVX-512 kernel instead of matrixmultiply: `B` then fits in L1
/// (32 KiB). Measured crossover in perf-notes.md.
pub(crate) const NOPACK_MAX_KN: usize = 8192;

/// The two products of a Gibbs sweep for one model, with the algorithm
/// chosen once per call from the ISA and the model size.
#[derive(Debug)]
pub(crate) struct HalfStepProducts<'a> {
    isa: crate::Isa,
    d: usize,
    h: usize,
    w: &'a [f32],
    /// `Wᵀ` (`H × D`), present when the no-packing kernel is used (it reads
    /// its right-hand side row-major).
    wt: Option<Vec<f32>>,
    /// `W` and `Wᵀ` packed in panels ([`Self::with_packed`]): for the
    /// binary products and for the dense tile kernels of [`super::dense`].
    packed: Option<(PackedWeights, PackedWeights)>,
    /// Binary products allowed on the packed weights
    /// ([`binary::enabled`]).
    binary_ok: bool,
    /// Packed buffers handed in by [`Self::reusing`], not (yet) packed.
    spare: Option<(PackedWeights, PackedWeights)>,
}

/// The allocations of a [`HalfStepProducts`], kept between calls.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProductBuffers {
    wt: Vec<f32>,
    packed: Option<(PackedWeights, PackedWeights)>,
}

impl ProductBuffers {
    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        let packed = self.packed.as_ref().map_or(0, |(a, b)| a.bytes() + b.bytes());
        4 * self.wt.capacity() + packed
    }
}

/// Scratch of the per-row choice between binary and dense products
/// ([`HalfStepProducts::visible_to_hidden_rows`]).
#[derive(Debug, Default)]
pub(crate) struct BinaryScratch {
    rows: BinaryRows,
    sparse: Vec<bool>,
    x: Vec<f32>,
    out: Vec<f32>,
}

impl<'a> HalfStepProducts<'a> {
    /// Whether [`Self::new`] would use the no-packing kernel for these sizes.
    pub(crate) fn nopack_for(isa: crate::Isa, d: usize, h: usize) -> bool {
        isa == crate::Isa::Avx512 && crate::Isa::Avx512.is_available() && d * h <= NOPACK_MAX_KN
    }

    pub(crate) fn new(isa: crate::Isa, w: &'a [f32], d: usize, h: usize) -> Self {
        Self::reusing(isa, w, d, h, ProductBuffers::default())
    }

    /// [`Self::new`] in buffers a previous call returned by
    /// [`Self::into_buffers`]: no allocation when the sizes are unchanged.
    pub(crate) fn reusing(
        isa: crate::Isa,
        w: &'a [f32],
        d: usize,
        h: usize,
        mut bufs: ProductBuffers,
    ) -> Self {
        let nopack = Self::nopack_for(isa, d, h);
        let wt = nopack.then(|| {
            let mut t = std::mem::take(&mut bufs.wt);
            t.clear();
            t.resize(d * h, 0.0);
            for i in 0..d {
                for j in 0..h {
                    t[j * d + i] = w[i * h + j];
                }
            }
            t
        });
        HalfStepProducts { isa, d, h, w, wt, packed: None, binary_ok: false, spare: bufs.packed }
    }

    /// Also packs `W` and `Wᵀ` in panels, for the binary products (unless
    /// `BOLTZMANN_DENSE_PRODUCTS=1`) and for the dense tile kernels (AVX2
    /// and AVX-512; [`super::dense`]), not for the small models of the
    /// no-packing kernel. Costs two copies of `W` (≈ 0.56 ms for 784 × 500
    /// on one core, about 50 dense chain-sweeps): worth it when the
    /// products that follow cover many chain-sweeps.
    pub(crate) fn with_packed(mut self) -> Self {
        let tiles = crate::simd::has_dense_tiles(self.isa);
        if self.wt.is_none() && (binary::enabled() || tiles) {
            let (w, d, h) = (self.w, self.d, self.h);
            // Sizes were validated with the model; packing only fails on
            // allocation, and then the dense path is used.
            self.packed = match self.spare.take() {
                Some((mut a, mut b)) if (a.k(), a.n(), b.k(), b.n()) == (d, h, h, d) => {
                    (a.repack(w).is_ok() && b.repack_transposed(w).is_ok()).then_some((a, b))
                }
                _ => match (PackedWeights::new(w, d, h), PackedWeights::transposed(w, d, h)) {
                    (Ok(a), Ok(b)) => Some((a, b)),
                    _ => None,
                },
            };
            self.binary_ok = self.packed.is_some() && binary::enabled();
        }
        self
    }

    /// [`Self::with_packed`] for buffers (handed to [`Self::reusing`]) that
    /// a previous `with_packed` filled from the same weights: used as they
    /// are, without packing again. The caller vouches that `W` did not
    /// change since.
    pub(crate) fn with_packed_unchanged(mut self) -> Self {
        let tiles = crate::simd::has_dense_tiles(self.isa);
        let (d, h) = (self.d, self.h);
        if self.wt.is_none() && (binary::enabled() || tiles) {
            match self.spare.take() {
                Some((a, b)) if (a.k(), a.n(), b.k(), b.n()) == (d, h, h, d) => {
                    self.packed = Some((a, b));
                    self.binary_ok = binary::enabled();
                    return self;
                }
                other => self.spare = other,
            }
        }
        self.with_packed()
    }

    /// The buffers, for [`Self::reusing`].
    pub(crate) fn into_buffers(self) -> ProductBuffers {
        ProductBuffers { wt: self.wt.unwrap_or_default(), packed: self.packed.or(self.spare) }
    }

    /// `pre = V · W` choosing, **per row**, a binary product (when the row's
    /// density is below [`binary::sparse_wins`]'s threshold and
    /// [`Self::with_packed`] packed the weights) or the dense one. A row's
    /// result depends only on its own states, never on the other rows of the
    /// block, so blockings and thread counts give the same bits.
    pub(crate) fn visible_to_hidden_rows(
        &self,
        isa: crate::Isa,
        rows: usize,
        v: &[f32],
        pre: &mut [f32],
        scratch: &mut BinaryScratch,
    ) {
        match self.binary_weights() {
            None => self.visible_to_hidden(rows, v, pre),
            Some((pw, _)) => mixed_rows(isa, rows, self.d, self.h, v, pre, pw, scratch, &|r, x, o| {
                self.visible_to_hidden(r, x, o)
            }),
        }
    }

    /// `pre = H · Wᵀ`, per-row choice as [`Self::visible_to_hidden_rows`].
    pub(crate) fn hidden_to_visible_rows(
        &self,
        isa: crate::Isa,
        rows: usize,
        hs: &[f32],
        pre: &mut [f32],
        scratch: &mut BinaryScratch,
    ) {
        match self.binary_weights() {
            None => self.hidden_to_visible(rows, hs, pre),
            Some((_, pwt)) => mixed_rows(isa, rows, self.h, self.d, hs, pre, pwt, scratch, &|r, x, o| {
                self.hidden_to_visible(r, x, o)
            }),
        }
    }

    /// `W` and `Wᵀ` packed for binary products, if [`Self::with_packed`]
    /// packed them and binary products are allowed.
    pub(crate) fn binary_weights(&self) -> Option<(&PackedWeights, &PackedWeights)> {
        self.packed.as_ref().filter(|_| self.binary_ok).map(|(a, b)| (a, b))
    }

    /// `W` and `Wᵀ` packed for the dense tile kernels, if
    /// [`Self::with_packed`] packed them and the ISA has those kernels.
    fn tile_weights(&self) -> Option<(&PackedWeights, &PackedWeights)> {
        self.packed.as_ref().filter(|_| crate::simd::has_dense_tiles(self.isa)).map(|(a, b)| (a, b))
    }

    /// The fused half-step `h ~ p(h|V·W + b)` (with `probs`, also
    /// `p(h|…)`) by the dense tile kernels, when the weights are packed for
    /// them and no row of `v` would take the binary product; `false`
    /// (nothing written) otherwise. The same samples as
    /// [`Self::visible_to_hidden_rows`] followed by the sampling kernel.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn visible_to_hidden_sample(
        &self,
        rows: usize,
        v: &[f32],
        bias: &[f32],
        bits: &[u32],
        bits_stride: usize,
        out: &mut [f32],
        probs: Option<&mut [f32]>,
    ) -> bool {
        match self.tile_weights() {
            Some((pw, _)) if !self.any_sparse(rows, v, self.d) => {
                super::dense::sample_packed(self.isa, rows, v, pw, bias, bits, bits_stride, out, probs)
            }
            _ => false,
        }
    }

    /// The fused half-step `v ~ p(v|H·Wᵀ + a)`, as
    /// [`Self::visible_to_hidden_sample`].
    pub(crate) fn hidden_to_visible_sample(
        &self,
        rows: usize,
        hs: &[f32],
        bias: &[f32],
        bits: &[u32],
        bits_stride: usize,
        out: &mut [f32],
    ) -> bool {
        match self.tile_weights() {
            Some((_, pwt)) if !self.any_sparse(rows, hs, self.h) => {
                super::dense::sample_packed(self.isa, rows, hs, pwt, bias, bits, bits_stride, out, None)
            }
            _ => false,
        }
    }

    /// Whether [`mixed_rows`] would send any of these rows to the binary
    /// product.
    fn any_sparse(&self, rows: usize, x: &[f32], k: usize) -> bool {
        self.binary_ok
            && x[..rows * k].chunks(k).any(|r| {
                let ones = r.iter().filter(|&&v| v != 0.0).count();
                binary::sparse_wins(self.isa, ones as f64 / k as f64)
            })
    }

    /// Whether the no-packing kernel is in use (small models).
    pub(crate) fn is_nopack(&self) -> bool {
        self.wt.is_some()
    }

    /// [`Self::visible_to_hidden`] with the output columns split into
    /// `parts` blocks computed in parallel: for few rows, where splitting
    /// rows would make every thread pack all of `W`. Same bits as unsplit.
    pub(crate) fn visible_to_hidden_cols(&self, rows: usize, v: &[f32], pre: &mut [f32], parts: usize) {
        if let Some((pw, _)) = self.tile_weights() {
            let done = super::dense::par_product_cols(self.isa, rows, v, pw, pre, parts);
            debug_assert!(done);
            return;
        }
        if self.wt.is_some() || parts <= 1 {
            return self.visible_to_hidden(rows, v, pre);
        }
        assert!(v.len() >= rows * self.d && pre.len() >= rows * self.h);
        // A is V (row stride D); B is W (row stride H); C row stride H.
        par_cols(
            rows,
            self.d,
            self.h,
            v.as_ptr(),
            self.d as isize,
            1,
            self.w.as_ptr(),
            self.h as isize,
            1,
            pre,
            parts,
        );
    }

    /// [`Self::hidden_to_visible`] split over output columns, as
    /// [`Self::visible_to_hidden_cols`].
    pub(crate) fn hidden_to_visible_cols(&self, rows: usize, hs: &[f32], pre: &mut [f32], parts: usize) {
        if let Some((_, pwt)) = self.tile_weights() {
            let done = super::dense::par_product_cols(self.isa, rows, hs, pwt, pre, parts);
            debug_assert!(done);
            return;
        }
        if self.wt.is_some() || parts <= 1 {
            return self.hidden_to_visible(rows, hs, pre);
        }
        assert!(hs.len() >= rows * self.h && pre.len() >= rows * self.d);
        // B = Wᵀ read through strides: element (p, j) at w[j·H + p].
        par_cols(
            rows,
            self.h,
            self.d,
            hs.as_ptr(),
            self.h as isize,
            1,
            self.w.as_ptr(),
            1,
            self.h as isize,
            pre,
            parts,
        );
    }

    /// `pre (rows × H) = V (rows × D) · W`.
    pub(crate) fn visible_to_hidden(&self, rows: usize, v: &[f32], pre: &mut [f32]) {
        if let Some((pw, _)) = self.tile_weights() {
            let done = super::dense::product(self.isa, rows, v, pw, pre, 0..self.h);
            debug_assert!(done);
            return;
        }
        if self.wt.is_none() || !crate::simd::gemm_nn_nopack(rows, self.d, self.h, v, self.w, pre) {
            gemm_nn_raw(rows, self.d, self.h, v, self.w, pre);
        }
    }

    /// `pre (rows × D) = H (rows × H) · Wᵀ`.
    pub(crate) fn hidden_to_visible(&self, rows: usize, hs: &[f32], pre: &mut [f32]) {
        if let Some((_, pwt)) = self.tile_weights() {
            let done = super::dense::product(self.isa, rows, hs, pwt, pre, 0..self.d);
            debug_assert!(done);
            return;
        }
        match &self.wt {
            Some(wt) if crate::simd::gemm_nn_nopack(rows, self.h, self.d, hs, wt, pre) => {}
            _ => gemm_nt_raw(rows, self.h, self.d, hs, self.w, pre),
        }
    }
}

/// A dense product `(rows, x, out)` over row-major buffers.
type DenseProduct<'f> = &'f dyn Fn(usize, &[f32], &mut [f32]);

/// `out (rows × n) = x (rows × k) · W` with each row sent to the binary
/// kernel (packed `w`) or to `dense` by its own density; rows of each kind
/// are gathered, multiplied together, and scattered back.
#[allow(clippy::too_many_arguments)]
fn mixed_rows(
    isa: crate::Isa,
    rows: usize,
    k: usize,
    n: usize,
    x: &[f32],
    out: &mut [f32],
    w: &PackedWeights,
    s: &mut BinaryScratch,
    dense: DenseProduct<'_>,
) {
    s.sparse.clear();
    s.sparse.extend(x[..rows * k].chunks(k).map(|r| {
        let ones = r.iter().filter(|&&v| v != 0.0).count();
        binary::sparse_wins(isa, ones as f64 / k as f64)
    }));
    let n_sparse = s.sparse.iter().filter(|&&b| b).count();
    if n_sparse == rows {
        s.rows.reset(k);
        s.rows.fill_from_seq(&x[..rows * k]);
        binary::packed_unchecked(isa, &s.rows, w, &mut out[..rows * n], 1);
        return;
    }
    if n_sparse == 0 {
        return dense(rows, x, out);
    }
    for want_sparse in [true, false] {
        let m = if want_sparse { n_sparse } else { rows - n_sparse };
        s.x.clear();
        for (r, &sp) in s.sparse.iter().enumerate() {
            if sp == want_sparse {
                s.x.extend_from_slice(&x[r * k..(r + 1) * k]);
            }
        }
        s.out.clear();
        s.out.resize(m * n, 0.0);
        if want_sparse {
            s.rows.reset(k);
            s.rows.fill_from_seq(&s.x);
            binary::packed_unchecked(isa, &s.rows, w, &mut s.out, 1);
        } else {
            dense(m, &s.x, &mut s.out);
        }
        let mut t = 0;
        for (r, &sp) in s.sparse.iter().enumerate() {
            if sp == want_sparse {
                out[r * n..(r + 1) * n].copy_from_slice(&s.out[t * n..(t + 1) * n]);
                t += 1;
            }
        }
    }
}

/// `C (m × n, row-major, row stride n) = A·B` for strided `A` (`m × k`) and
/// `B` (`k × n`), with the columns of `C` split into `parts` blocks (multiples
/// of 16) computed in parallel. matrixmultiply accumulates each element over
/// `k` in the same order whatever `n`, so the split does not change any bit.
#[allow(clippy::too_many_arguments)]
fn par_cols(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    c: &mut [f32],
    parts: usize,
) {
    assert!(c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c[..m * n].fill(0.0);
        return;
    }
    let width = n.div_ceil(parts).next_multiple_of(16);
    let cp = SendPtr(c.as_mut_ptr());
    let (ap, bp) = (a as usize, b as usize);
    (0..n.div_ceil(width)).into_par_iter().for_each(|blk| {
        let j0 = blk * width;
        let w = width.min(n - j0);
        // SAFETY: the callers passed A and B valid for m × k and k × n with
        // these strides (asserted by the public entry points); column block
        // j0..j0+w of B starts at b + j0·csb, of C at c + j0, and blocks are
        // disjoint between tasks.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                w,
                1.0,
                ap as *const f32,
                rsa,
                csa,
                (bp as *const f32).offset(j0 as isize * csb),
                rsb,
                csb,
                0.0,
                cp.get().add(j0),
                n as isize,
                1,
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A share of the rows of `Aᵀ·B` is those rows of the whole product,
    /// bit for bit, whatever the share and the block size; rows beyond `m`
    /// are refused.
    #[test]
    fn rows_of_the_gradient_product_are_the_whole_products_rows() {
        let (m, k, n) = (37, 53, 29);
        let val = |i: usize| ((i * 7919 % 1000) as f32 - 500.0) / 300.0;
        let a: Vec<f32> = (0..k * m).map(val).collect();
        let b: Vec<f32> = (0..k * n).map(|i| val(i + 17)).collect();
        let mut whole = vec![0.0f32; m * n];
        par_gemm_tn(m, k, n, &a, &b, &mut whole, 8).unwrap();
        for (r0, r1, block) in [(0, 37, 5), (3, 20, 4), (36, 37, 1), (10, 10, 3), (0, 1, 64)] {
            let mut part = vec![1.0f32; (r1 - r0) * n];
            par_gemm_tn_rows((m, k, n), &a, &b, r0, &mut part, block).unwrap();
            let same = part.iter().zip(&whole[r0 * n..r1 * n]).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "rows {r0}..{r1}, blocks of {block}");
        }
        let mut too_far = vec![0.0f32; 3 * n];
        assert!(par_gemm_tn_rows((m, k, n), &a, &b, 35, &mut too_far, 4).is_err());
        let mut ragged = vec![0.0f32; n + 1];
        assert!(par_gemm_tn_rows((m, k, n), &a, &b, 0, &mut ragged, 4).is_err());
    }
}
