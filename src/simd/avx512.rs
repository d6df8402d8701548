//! AVX-512F instantiation: 16 × f32, 8 × u64 (`__m512`, `__m512i`).
//!
//! Every method is `#[inline(always)]` and uses AVX-512F intrinsics, so it
//! may only be inlined into functions compiled with
//! `#[target_feature(enable = "avx512f,avx2,fma")]`.

use super::vector::{FVec, U64Vec};
use core::arch::x86_64::*;

/// 16 f32 lanes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F16(__m512);

/// 8 u64 lanes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct U8(pub(crate) __m512i);

// SAFETY (for every block below): the trait's contract makes each method
// callable only where AVX-512F is enabled and pointers are valid for a full
// vector; the intrinsics need nothing more.
impl FVec for F16 {
    const LANES: usize = 16;
    type Mask = __mmask16;

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_set1_ps(x) })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl comment.
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_uniform(p: *const u32) -> Self {
        // SAFETY: see the impl comment.
        unsafe {
            let r = _mm512_loadu_si512(p as *const __m512i);
            let m = _mm512_or_si512(_mm512_srli_epi32::<9>(r), _mm512_set1_epi32(0x3F80_0000));
            F16(_mm512_sub_ps(_mm512_castsi512_ps(m), _mm512_set1_ps(super::scalar::ONE_MINUS_HALF_ULP)))
        }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_add_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_sub_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_mul_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_div_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_fmadd_ps(self.0, b.0, c.0) })
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_max_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn min(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_min_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_abs_ps(self.0) })
    }
    #[inline(always)]
    unsafe fn sqrt(self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_sqrt_ps(self.0) })
    }
    #[inline(always)]
    unsafe fn frexp_normal(self) -> (Self, Self) {
        // SAFETY: see the impl comment.
        unsafe {
            (
                F16(_mm512_getexp_ps(self.0)),
                F16(_mm512_getmant_ps::<_MM_MANT_NORM_1_2, _MM_MANT_SIGN_SRC>(self.0)),
            )
        }
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self.0) })
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        // SAFETY: see the impl comment.
        unsafe {
            let n = _mm512_cvtps_epi32(self.0);
            let e = _mm512_slli_epi32::<23>(_mm512_add_epi32(n, _mm512_set1_epi32(127)));
            F16(_mm512_castsi512_ps(e))
        }
    }
    #[inline(always)]
    unsafe fn ldexp(self, n: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_scalef_ps(self.0, n.0) })
    }
    #[inline(always)]
    unsafe fn ge(self, o: Self) -> __mmask16 {
        // SAFETY: see the impl comment.
        unsafe { _mm512_cmp_ps_mask::<_CMP_GE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    unsafe fn lt(self, o: Self) -> __mmask16 {
        // SAFETY: see the impl comment.
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    unsafe fn select(m: __mmask16, a: Self, b: Self) -> Self {
        // SAFETY: see the impl comment.
        F16(unsafe { _mm512_mask_blend_ps(m, b.0, a.0) })
    }
    #[inline(always)]
    unsafe fn nonzero_bits(self) -> u64 {
        // SAFETY: see the impl comment.
        unsafe { _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(self.0, _mm512_setzero_ps()) as u64 }
    }
}

impl U64Vec for U8 {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn load(p: *const u64) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F16`.
        U8(unsafe { _mm512_loadu_si512(p as *const __m512i) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut u64) {
        // SAFETY: see the impl comment above `impl FVec for F16`.
        unsafe { _mm512_storeu_si512(p as *mut __m512i, self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F16`.
        U8(unsafe { _mm512_add_epi64(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F16`.
        U8(unsafe { _mm512_xor_si512(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn shl17(self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F16`.
        U8(unsafe { _mm512_slli_epi64::<17>(self.0) })
    }
    #[inline(always)]
    unsafe fn rotl23(self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F16`.
        U8(unsafe { _mm512_rol_epi64::<23>(self.0) })
    }
    #[inline(always)]
    unsafe fn rotl45(self) -> Self {
        // SAFETY: see the impl comment above `impl FVec for F16`.
        U8(unsafe { _mm512_rol_epi64::<45>(self.0) })
    }
}
