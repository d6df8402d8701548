//! AVX2 + FMA instantiation: 8 × f32, 4 × u64 (`__m256`, `__m256i`).
//!
//! Every method is `#[inline(always)]` and uses AVX/AVX2/FMA intrinsics, so
//! it may only be inlined into functions compiled with
//! `#[target_feature(enable = "avx2,fma")]` (see [`super::math`]'s entry
//! points).

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
