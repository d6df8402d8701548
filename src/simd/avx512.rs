//! AVX-512F instantiation: 16 × f32, 8 × u64 (`__m512`, `__m512i`).
//!
//! Every method is `#[inline(always)]` and uses AVX-512F intrinsics, so it
//! may only be inlined into functions compiled with
//! `#[target_feature(enable = "avx512f,avx2,fma")]`.

use super::bodies;
use super::scalar::U1;
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

/// Transposes an 8 × 8 tile of u64 (row `i` = step `i`, lane `j` = chain
/// `j`) and stores column `j` (chain `j`'s 8 words) at `out + j·words`.
///
/// # Safety
/// AVX-512F must be enabled; `out + j·words .. + 8` valid for `j < 8`.
#[inline(always)]
unsafe fn store_transposed_8x8(r: &[__m512i; 8], out: *mut u64, words: usize) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let t = [
            _mm512_unpacklo_epi64(r[0], r[1]),
            _mm512_unpackhi_epi64(r[0], r[1]),
            _mm512_unpacklo_epi64(r[2], r[3]),
            _mm512_unpackhi_epi64(r[2], r[3]),
            _mm512_unpacklo_epi64(r[4], r[5]),
            _mm512_unpackhi_epi64(r[4], r[5]),
            _mm512_unpacklo_epi64(r[6], r[7]),
            _mm512_unpackhi_epi64(r[6], r[7]),
        ];
        let u = [
            _mm512_shuffle_i64x2::<0x88>(t[0], t[2]),
            _mm512_shuffle_i64x2::<0xDD>(t[0], t[2]),
            _mm512_shuffle_i64x2::<0x88>(t[1], t[3]),
            _mm512_shuffle_i64x2::<0xDD>(t[1], t[3]),
            _mm512_shuffle_i64x2::<0x88>(t[4], t[6]),
            _mm512_shuffle_i64x2::<0xDD>(t[4], t[6]),
            _mm512_shuffle_i64x2::<0x88>(t[5], t[7]),
            _mm512_shuffle_i64x2::<0xDD>(t[5], t[7]),
        ];
        let cols = [
            _mm512_shuffle_i64x2::<0x88>(u[0], u[4]),
            _mm512_shuffle_i64x2::<0x88>(u[2], u[6]),
            _mm512_shuffle_i64x2::<0x88>(u[1], u[5]),
            _mm512_shuffle_i64x2::<0x88>(u[3], u[7]),
            _mm512_shuffle_i64x2::<0xDD>(u[0], u[4]),
            _mm512_shuffle_i64x2::<0xDD>(u[2], u[6]),
            _mm512_shuffle_i64x2::<0xDD>(u[1], u[5]),
            _mm512_shuffle_i64x2::<0xDD>(u[3], u[7]),
        ];
        for (j, col) in cols.iter().enumerate() {
            _mm512_storeu_si512(out.add(j * words) as *mut __m512i, *col);
        }
    }
}

/// AVX-512 xoshiro fill: 8 chains at a time (one per u64 lane); every 8
/// steps the 8 × 8 tile of outputs is transposed in registers so each
/// chain's 8 new words go out in one 64-byte store. Streams are the generic
/// body's exactly (tests compare both with `rand_xoshiro`).
///
/// # Safety
/// The CPU must support AVX-512F; `out` valid for `states.len() * words`
/// writes.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn xoshiro_fill(states: &mut [[u64; 4]], words: usize, out: *mut u64) {
    let groups = states.len() / 8;
    let full = words / 8 * 8;
    // SAFETY: AVX-512F is enabled by this function's attribute; loads and
    // stores stay within the local arrays and within `out`'s
    // `states.len() * words` elements (chain < groups·8, word < words).
    unsafe {
        // Lane indices for moving 8 chains' states ([c][k], 32 contiguous
        // u64) to structure-of-arrays (vector k = word k of chains 0..8) and
        // back, with two-source permutes instead of 64 scalar moves.
        let lo = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13);
        let hi = _mm512_setr_epi64(2, 6, 10, 14, 3, 7, 11, 15);
        let il = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
        let ih = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
        let ql = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
        let qh = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
        for g in 0..groups {
            let c0 = g * 8;
            let base = states.as_mut_ptr().add(c0) as *mut u64;
            let z = [0, 1, 2, 3].map(|i| _mm512_loadu_si512(base.add(8 * i) as *const __m512i));
            let a01 = _mm512_permutex2var_epi64(z[0], lo, z[1]); // chains 0-3: s0, s1
            let b01 = _mm512_permutex2var_epi64(z[2], lo, z[3]); // chains 4-7: s0, s1
            let a23 = _mm512_permutex2var_epi64(z[0], hi, z[1]);
            let b23 = _mm512_permutex2var_epi64(z[2], hi, z[3]);
            let mut s = [
                U8(_mm512_shuffle_i64x2::<0x44>(a01, b01)),
                U8(_mm512_shuffle_i64x2::<0xEE>(a01, b01)),
                U8(_mm512_shuffle_i64x2::<0x44>(a23, b23)),
                U8(_mm512_shuffle_i64x2::<0xEE>(a23, b23)),
            ];
            let mut t0 = 0;
            while t0 < full {
                let mut r = [_mm512_setzero_si512(); 8];
                for row in r.iter_mut() {
                    *row = bodies::xoshiro_step(&mut s).0;
                }
                store_transposed_8x8(&r, out.add(c0 * words + t0), words);
                t0 += 8;
            }
            // Remaining steps (< 8), lane by lane.
            for t in t0..words {
                let mut a = [0u64; 8];
                bodies::xoshiro_step(&mut s).store(a.as_mut_ptr());
                for (j, &x) in a.iter().enumerate() {
                    *out.add((c0 + j) * words + t) = x;
                }
            }
            let p01l = _mm512_permutex2var_epi64(s[0].0, il, s[1].0); // c0-3: s0 s1 pairs
            let p23l = _mm512_permutex2var_epi64(s[2].0, il, s[3].0);
            let p01h = _mm512_permutex2var_epi64(s[0].0, ih, s[1].0); // c4-7
            let p23h = _mm512_permutex2var_epi64(s[2].0, ih, s[3].0);
            let out_z = [
                _mm512_permutex2var_epi64(p01l, ql, p23l),
                _mm512_permutex2var_epi64(p01l, qh, p23l),
                _mm512_permutex2var_epi64(p01h, ql, p23h),
                _mm512_permutex2var_epi64(p01h, qh, p23h),
            ];
            for (i, v) in out_z.iter().enumerate() {
                _mm512_storeu_si512(base.add(8 * i) as *mut __m512i, *v);
            }
        }
        let rest = groups * 8;
        bodies::xoshiro_fill_body::<U1>(&mut states[rest..], words, out.add(rest * words));
    }
}
