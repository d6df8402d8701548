//! bf16 × bf16 → f32 products with AVX512-BF16 (`vdpbf16ps`: each 32-bit
//! lane accumulates the dot product of a pair of bf16 values, twice the
//! multiply-adds of an f32 FMA per instruction).
//!
//! `C (m × n) = A (m × k) · B (k × n)`: `A` is converted row by row to bf16
//! (round to nearest even, `vcvtne2ps2bf16`), `k` padded to even, so that
//! each 32-bit word of a row holds the pair `(A[r, 2p], A[r, 2p+1])`; `B` is
//! packed once into panels of 32 columns, `[panel][p][32]` words holding
//! `(B[2p, j], B[2p+1, j])`. The micro-kernel keeps 8 rows × 32 columns of
//! `C` in 16 registers. Every element of `C` is accumulated in the same
//! order whatever the rows of the call, so splitting rows over threads does
//! not change any bit.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// Columns per packed panel of `B`.
pub(crate) const NR: usize = 32;
/// Rows per micro-kernel call.
pub(crate) const MR: usize = 8;

/// Whether the CPU has AVX512-BF16 (and AVX-512F).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// f32 → bf16 bits, round to nearest even (NaN stays NaN): the scalar twin
/// of `vcvtne2ps2bf16`, used for packing `B`.
pub(crate) fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x0040) as u16;
    }
    let lsb = (b >> 16) & 1;
    (b.wrapping_add(0x7FFF + lsb) >> 16) as u16
}

/// bf16 bits → f32 (exact).
pub(crate) fn from_bf16(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Packs `B` (`k × n` row-major f32) into bf16 pair panels (module docs):
/// `⌈n/32⌉` panels of `⌈k/2⌉ × 32` words, zero padded.
pub(crate) fn pack_b(b: &[f32], k: usize, n: usize) -> Vec<u32> {
    let kp = k.div_ceil(2);
    let panels = n.div_ceil(NR);
    let mut out = vec![0u32; panels * kp * NR];
    for pn in 0..panels {
        for p in 0..kp {
            for c in 0..NR {
                let j = pn * NR + c;
                if j >= n {
                    continue;
                }
                let lo = to_bf16(b[2 * p * n + j]) as u32;
                let hi = if 2 * p + 1 < k { to_bf16(b[(2 * p + 1) * n + j]) as u32 } else { 0 };
                out[(pn * kp + p) * NR + c] = lo | (hi << 16);
            }
        }
    }
    out
}

/// Converts `rows` rows of `a` (row stride `k`) to bf16 pair words (row
/// stride `⌈k/2⌉`), rounding to nearest even.
///
/// # Safety
/// AVX-512F and AVX512-BF16 must be available; `a` holds `rows·k` floats,
/// `out` `rows·⌈k/2⌉` words.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
pub(crate) unsafe fn convert_a(a: &[f32], rows: usize, k: usize, out: &mut [u32]) {
    let kp = k.div_ceil(2);
    debug_assert!(a.len() >= rows * k && out.len() >= rows * kp);
    for r in 0..rows {
        let src = &a[r * k..(r + 1) * k];
        let dst = &mut out[r * kp..(r + 1) * kp];
        let mut i = 0;
        // 32 floats → 32 bf16 = 16 words per step.
        // SAFETY: loads/stores stay within src/dst (i + 32 ≤ k, i/2 + 16 ≤ kp).
        unsafe {
            while i + 32 <= k {
                let lo = _mm512_loadu_ps(src.as_ptr().add(i));
                let hi = _mm512_loadu_ps(src.as_ptr().add(i + 16));
                // cvtne2ps: the first operand fills the upper half.
                let v: __m512i = core::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(dst.as_mut_ptr().add(i / 2) as *mut _, v);
                i += 32;
            }
        }
        while i < k {
            let lo = to_bf16(src[i]) as u32;
            let hi = if i + 1 < k { to_bf16(src[i + 1]) as u32 } else { 0 };
            dst[i / 2] = lo | (hi << 16);
            i += 2;
        }
    }
}

/// `C[r, j] = Σ_p A2[r, p] ⊙ B2[p, j]` for `mr ≤ 8` rows and every column
/// `j < n`: the micro-kernel over all panels.
///
/// # Safety
/// AVX-512F and AVX512-BF16 must be available; `a` holds `mr` rows of `kp`
/// words (stride `kp`), `b` the packed panels of `⌈n/32⌉ × kp × 32` words,
/// `c` `mr` rows of stride `ldc ≥ n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
pub(crate) unsafe fn kernel_rows(
    a: &[u32],
    mr: usize,
    kp: usize,
    b: &[u32],
    n: usize,
    c: &mut [f32],
    ldc: usize,
) {
    // SAFETY: forwarded; each `kernel_mr` reads and writes within the
    // bounds the caller guarantees.
    unsafe {
        match mr {
            8 => kernel_mr::<8>(a, kp, b, n, c, ldc),
            7 => kernel_mr::<7>(a, kp, b, n, c, ldc),
            6 => kernel_mr::<6>(a, kp, b, n, c, ldc),
            5 => kernel_mr::<5>(a, kp, b, n, c, ldc),
            4 => kernel_mr::<4>(a, kp, b, n, c, ldc),
            3 => kernel_mr::<3>(a, kp, b, n, c, ldc),
            2 => kernel_mr::<2>(a, kp, b, n, c, ldc),
            1 => kernel_mr::<1>(a, kp, b, n, c, ldc),
            _ => {}
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
#[inline]
unsafe fn kernel_mr<const M: usize>(a: &[u32], kp: usize, b: &[u32], n: usize, c: &mut [f32], ldc: usize) {
    let panels = n.div_ceil(NR);
    // SAFETY: `p < kp` and `r < M` keep the A reads inside `a`; panel reads
    // inside `b`; stores are masked to `j < n` inside row `r` of `c`.
    unsafe {
        for pn in 0..panels {
            let bp = b.as_ptr().add(pn * kp * NR);
            let mut acc = [[_mm512_setzero_ps(); 2]; M];
            for p in 0..kp {
                let b0: __m512bh = core::mem::transmute(_mm512_loadu_si512(bp.add(p * NR) as *const _));
                let b1: __m512bh = core::mem::transmute(_mm512_loadu_si512(bp.add(p * NR + 16) as *const _));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av: __m512bh =
                        core::mem::transmute(_mm512_set1_epi32(*a.get_unchecked(r * kp + p) as i32));
                    acc[0] = _mm512_dpbf16_ps(acc[0], av, b0);
                    acc[1] = _mm512_dpbf16_ps(acc[1], av, b1);
                }
            }
            let j0 = pn * NR;
            let left = n - j0;
            let (m0, m1): (u16, u16) = if left >= NR {
                (0xFFFF, 0xFFFF)
            } else if left > 16 {
                (0xFFFF, ((1u32 << (left - 16)) - 1) as u16)
            } else {
                (((1u32 << left) - 1) as u16, 0)
            };
            for (r, acc) in acc.iter().enumerate() {
                let dst = c.as_mut_ptr().add(r * ldc + j0);
                _mm512_mask_storeu_ps(dst, m0, acc[0]);
                if m1 != 0 {
                    _mm512_mask_storeu_ps(dst.add(16), m1, acc[1]);
                }
            }
        }
    }
}
