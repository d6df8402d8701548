//! AVX2 + FMA instantiation: 8 × f32, 4 × u64 (`__m256`, `__m256i`).
//!
//! Every method is `#[inline(always)]` and uses AVX/AVX2/FMA intrinsics, so
//! it may only be inlined into functions compiled with
//! `#[target_feature(enable = "avx2,fma")]` (the entry points of [`super::entry`]).

use super::vector::{FVec, U64Vec};
use core::arch::x86_64::*;

/// 8 f32 lanes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F8(__m256);

/// 4 u64 lanes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct U4(pub(crate) __m256i);

// SAFETY (for every block below): the trait's contract makes each method
// callable only where AVX2 and FMA are enabled and pointers are valid for a
// full vector; the intrinsics need nothing more.
impl FVec for F8 {
    const LANES: usize = 8;
    type Mask = __m256;

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_set1_ps(x) })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl comment.
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_uniform(p: *const u32) -> Self {
        // SAFETY: see the impl comment.
        unsafe {
            let r = _mm256_loadu_si256(p as *const __m256i);
            let m = _mm256_or_si256(_mm256_srli_epi32::<9>(r), _mm256_set1_epi32(0x3F80_0000));
            F8(_mm256_sub_ps(_mm256_castsi256_ps(m), _mm256_set1_ps(super::scalar::ONE_MINUS_HALF_ULP)))
        }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_add_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_sub_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_mul_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_div_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_fmadd_ps(self.0, b.0, c.0) })
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_max_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn min(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_min_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
    }
    #[inline(always)]
    unsafe fn sqrt(self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_sqrt_ps(self.0) })
    }
    #[inline(always)]
    unsafe fn frexp_normal(self) -> (Self, Self) {
        // SAFETY: see the impl comment.
        unsafe {
            let b = _mm256_castps_si256(self.0);
            let e = _mm256_sub_epi32(_mm256_srli_epi32::<23>(b), _mm256_set1_epi32(127));
            let m = _mm256_or_si256(
                _mm256_and_si256(b, _mm256_set1_epi32(0x007F_FFFF)),
                _mm256_set1_epi32(0x3F80_0000),
            );
            (F8(_mm256_cvtepi32_ps(e)), F8(_mm256_castsi256_ps(m)))
        }
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self.0) })
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        // SAFETY: see the impl comment.
        unsafe {
            let n = _mm256_cvtps_epi32(self.0);
            let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(n, _mm256_set1_epi32(127)));
            F8(_mm256_castsi256_ps(e))
        }
    }
    #[inline(always)]
    unsafe fn ge(self, o: Self) -> __m256 {
        // SAFETY: see the impl comment.
        unsafe { _mm256_cmp_ps::<_CMP_GE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    unsafe fn lt(self, o: Self) -> __m256 {
        // SAFETY: see the impl comment.
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    unsafe fn select(m: __m256, a: Self, b: Self) -> Self {
        // SAFETY: see the impl comment.
        F8(unsafe { _mm256_blendv_ps(b.0, a.0, m) })
    }
    #[inline(always)]
    unsafe fn nonzero_bits(self) -> u64 {
        // SAFETY: see the impl comment.
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(self.0, _mm256_setzero_ps())) as u32 as u64 }
    }
}

impl U64Vec for U4 {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const u64) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F8`.
        U4(unsafe { _mm256_loadu_si256(p as *const __m256i) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut u64) {
        // SAFETY: see the impl comment above `impl FVec for F8`.
        unsafe { _mm256_storeu_si256(p as *mut __m256i, self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F8`.
        U4(unsafe { _mm256_add_epi64(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F8`.
        U4(unsafe { _mm256_xor_si256(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn shl17(self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F8`.
        U4(unsafe { _mm256_slli_epi64::<17>(self.0) })
    }
    #[inline(always)]
    unsafe fn rotl23(self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F8`.
        U4(unsafe { _mm256_or_si256(_mm256_slli_epi64::<23>(self.0), _mm256_srli_epi64::<41>(self.0)) })
    }
    #[inline(always)]
    unsafe fn rotl45(self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F8`.
        U4(unsafe { _mm256_or_si256(_mm256_slli_epi64::<45>(self.0), _mm256_srli_epi64::<19>(self.0)) })
    }
}

/// One panel of a transposed packing (see `kernels::binary::PackedWeights`):
/// `panel[i·16 + c] = w[(j0 + c)·k + i]` for `c < nc ≤ 16`, `i < k`, with
/// `w` row-major `n × k`. Blocks of 8 rows × 8 columns of `w` are
/// transposed in registers (unpack / shuffle / lane permute), one 8-float
/// store per panel row; the columns beyond the last multiple of 8 and the
/// rows beyond `nc`'s multiple of 8 are copied one by one.
///
/// # Safety
/// The CPU must support AVX; `w` readable for rows `j0..j0+nc` of `k`
/// floats, `panel` writable for `k·16` floats.
#[target_feature(enable = "avx")]
pub(crate) unsafe fn pack_transposed_panel_avx(
    w: *const f32,
    k: usize,
    j0: usize,
    nc: usize,
    panel: *mut f32,
) {
    // SAFETY: reads at (j0 + c)·k + i for c < nc, i < k; writes at i·16 + c.
    unsafe {
        let k8 = k / 8 * 8;
        let full = nc / 8;
        for h in 0..full {
            let rows: [*const f32; 8] = core::array::from_fn(|c| w.add((j0 + 8 * h + c) * k));
            let mut i = 0;
            while i < k8 {
                let r: [__m256; 8] = core::array::from_fn(|c| _mm256_loadu_ps(rows[c].add(i)));
                let t0 = _mm256_unpacklo_ps(r[0], r[1]);
                let t1 = _mm256_unpackhi_ps(r[0], r[1]);
                let t2 = _mm256_unpacklo_ps(r[2], r[3]);
                let t3 = _mm256_unpackhi_ps(r[2], r[3]);
                let t4 = _mm256_unpacklo_ps(r[4], r[5]);
                let t5 = _mm256_unpackhi_ps(r[4], r[5]);
                let t6 = _mm256_unpacklo_ps(r[6], r[7]);
                let t7 = _mm256_unpackhi_ps(r[6], r[7]);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let o = [
                    _mm256_permute2f128_ps::<0x20>(u0, u4),
                    _mm256_permute2f128_ps::<0x20>(u1, u5),
                    _mm256_permute2f128_ps::<0x20>(u2, u6),
                    _mm256_permute2f128_ps::<0x20>(u3, u7),
                    _mm256_permute2f128_ps::<0x31>(u0, u4),
                    _mm256_permute2f128_ps::<0x31>(u1, u5),
                    _mm256_permute2f128_ps::<0x31>(u2, u6),
                    _mm256_permute2f128_ps::<0x31>(u3, u7),
                ];
                for (t, v) in o.into_iter().enumerate() {
                    _mm256_storeu_ps(panel.add((i + t) * 16 + 8 * h), v);
                }
                i += 8;
            }
            for i in k8..k {
                for (c, row) in rows.iter().enumerate() {
                    *panel.add(i * 16 + 8 * h + c) = *row.add(i);
                }
            }
        }
        for c in full * 8..nc {
            let row = w.add((j0 + c) * k);
            for i in 0..k {
                *panel.add(i * 16 + c) = *row.add(i);
            }
        }
    }
}
