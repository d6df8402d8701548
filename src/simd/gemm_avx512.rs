//! A no-packing AVX-512 product for the Gibbs half-steps on small models.
//!
//! `C = A·B` with all three row-major. matrixmultiply packs `A` and `B` on
//! every call, which costs as much as the arithmetic when `K` and `N` are a
//! few dozen (a 64 × 32 RBM). This kernel reads `B` in place (it stays in L1
//! or L2 when small) and broadcasts elements of `A` straight into FMAs:
//! a tile of `R` rows × `16·NV` columns is accumulated in `R·NV = 16` zmm
//! registers over the whole `K`, then stored once (masked on the right
//! edge). Each `C[r][j]` is a plain sequential FMA sum over `k`, so results
//! do not depend on how rows are split between calls or threads.
//!
//! `kernels::gemm` decides when to use it (perf-notes.md has the crossover).

#![allow(clippy::needless_range_loop)] // tile loops index register arrays by row and vector

use core::arch::x86_64::*;

/// One `R × 16·NV` tile of `C`, columns `j0..j0 + 16·NV` masked to `n`.
///
/// # Safety
/// AVX-512F must be enabled. `a` valid for `R` rows of `k` (stride `lda`),
/// `b` for `k` rows (stride `ldb`) covering columns `j0..n`, `c` for `R`
/// rows (stride `ldc`) covering columns `j0..n`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const NV: usize>(
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    j0: usize,
    n: usize,
) {
    // SAFETY: the caller guarantees every pointer range; masked loads and
    // stores never touch columns ≥ n.
    unsafe {
        let mut masks = [0u16; NV];
        for (v, m) in masks.iter_mut().enumerate() {
            let start = j0 + 16 * v;
            let left = n.saturating_sub(start).min(16);
            *m = if left >= 16 { 0xFFFF } else { ((1u32 << left) - 1) as u16 };
        }
        let mut acc = [[_mm512_setzero_ps(); NV]; R];
        for p in 0..k {
            let brow = b.add(p * ldb + j0);
            let mut bv = [_mm512_setzero_ps(); NV];
            for v in 0..NV {
                bv[v] = _mm512_maskz_loadu_ps(masks[v], brow.add(16 * v));
            }
            for r in 0..R {
                let av = _mm512_set1_ps(*a.add(r * lda + p));
                for v in 0..NV {
                    acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
                }
            }
        }
        for r in 0..R {
            for v in 0..NV {
                _mm512_mask_storeu_ps(c.add(r * ldc + j0 + 16 * v), masks[v], acc[r][v]);
            }
        }
    }
}

/// All columns of `R` rows, in chunks of `16·NV`.
///
/// # Safety
/// As [`tile`], for all columns `0..n`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows<const R: usize, const NV: usize>(
    k: usize,
    n: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    let mut j0 = 0;
    while j0 < n {
        // SAFETY: forwarded; the tile masks columns beyond n.
        unsafe { tile::<R, NV>(k, a, lda, b, ldb, c, ldc, j0, n) };
        j0 += 16 * NV;
    }
}

/// `C (m × n) = A (m × k) · B (k × n)`, row-major with leading dimensions.
///
/// # Safety
/// AVX-512F must be available; `a`, `b`, `c` valid for their `m × k`,
/// `k × n`, `m × n` extents with the given strides.
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_nn(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    // Narrow outputs use fewer vectors per row and more rows per tile, so
    // that 16 accumulators are live in every case.
    macro_rules! run {
        ($r:literal, $nv:literal) => {{
            let mut i = 0;
            // SAFETY: rows i..i+R are within m; pointers forwarded.
            unsafe {
                while i + $r <= m {
                    rows::<$r, $nv>(k, n, a.add(i * lda), lda, b, ldb, c.add(i * ldc), ldc);
                    i += $r;
                }
                while i < m {
                    rows::<1, $nv>(k, n, a.add(i * lda), lda, b, ldb, c.add(i * ldc), ldc);
                    i += 1;
                }
            }
        }};
    }
    if n <= 16 {
        run!(16, 1)
    } else if n <= 32 {
        run!(8, 2)
    } else {
        run!(6, 4)
    }
}
