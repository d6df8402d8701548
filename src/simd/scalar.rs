//! The one-lane portable fallback. Always compiled, used on CPUs without
//! AVX2+FMA and when `BOLTZMANN_FORCE_ISA=scalar`.
//!
//! The bodies in [`super::bodies`] run unchanged on these types, so the scalar
//! path computes the same formulas as the SIMD paths (up to FMA rounding).

use super::vector::{FVec, U64Vec};

/// One f32 lane.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F1(pub(crate) f32);

/// One u64 lane.
#[derive(Clone, Copy, Debug)]
pub(crate) struct U1(pub(crate) u64);

// The methods below are safe operations wrapped in the trait's `unsafe fn`
// signatures; only `load`/`store` dereference raw pointers.
impl FVec for F1 {
    const LANES: usize = 1;
    type Mask = bool;

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        F1(x)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is valid for one f32.
        F1(unsafe { p.read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees `p` is valid for writing one f32.
        unsafe { p.write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn load_uniform(p: *const u32) -> Self {
        // SAFETY: the caller guarantees `p` is valid for one u32.
        let r = unsafe { p.read_unaligned() };
        F1(f32::from_bits((r >> 9) | 0x3F80_0000) - ONE_MINUS_HALF_ULP)
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        F1(self.0 + o.0)
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        F1(self.0 - o.0)
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        F1(self.0 * o.0)
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        F1(self.0 / o.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // Two roundings: `f32::mul_add` is a slow libm call without FMA.
        F1(self.0 * b.0 + c.0)
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        F1(if self.0 > o.0 { self.0 } else { o.0 })
    }
    #[inline(always)]
    unsafe fn min(self, o: Self) -> Self {
        F1(if self.0 < o.0 { self.0 } else { o.0 })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        F1(f32::from_bits(self.0.to_bits() & 0x7FFF_FFFF))
    }
    #[inline(always)]
    unsafe fn sqrt(self) -> Self {
        F1(self.0.sqrt())
    }
    #[inline(always)]
    unsafe fn frexp_normal(self) -> (Self, Self) {
        let b = self.0.to_bits();
        let e = ((b >> 23) & 0xFF) as i32 - 127;
        (F1(e as f32), F1(f32::from_bits((b & 0x007F_FFFF) | 0x3F80_0000)))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // Ties-to-even by the 1.5·2²³ trick (exact for |x| < 2²²; callers
        // pass |x| ≤ 152). `round_ties_even` is a libm call on baseline x86-64.
        const MAGIC: f32 = 12_582_912.0;
        F1((self.0 + MAGIC) - MAGIC)
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let n = self.0 as i32;
        F1(f32::from_bits(((n.wrapping_add(127)) << 23) as u32))
    }
    #[inline(always)]
    unsafe fn ge(self, o: Self) -> bool {
        self.0 >= o.0
    }
    #[inline(always)]
    unsafe fn lt(self, o: Self) -> bool {
        self.0 < o.0
    }
    #[inline(always)]
    unsafe fn select(m: bool, a: Self, b: Self) -> Self {
        if m { a } else { b }
    }
    #[inline(always)]
    unsafe fn nonzero_bits(self) -> u64 {
        (self.0 != 0.0) as u64
    }
}

/// `1 - 2⁻²⁴`: subtracting it from a float in [1, 2) built from 23 random
/// mantissa bits gives `(2k + 1) · 2⁻²⁴`, exactly, never 0 and never 1.
pub(crate) const ONE_MINUS_HALF_ULP: f32 = 1.0 - 1.0 / 16_777_216.0;

impl U64Vec for U1 {
    const LANES: usize = 1;
    #[inline(always)]
    unsafe fn load(p: *const u64) -> Self {
        // SAFETY: the caller guarantees `p` is valid for one u64.
        U1(unsafe { p.read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut u64) {
        // SAFETY: the caller guarantees `p` is valid for writing one u64.
        unsafe { p.write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        U1(self.0.wrapping_add(o.0))
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        U1(self.0 ^ o.0)
    }
    #[inline(always)]
    unsafe fn shl17(self) -> Self {
        U1(self.0 << 17)
    }
    #[inline(always)]
    unsafe fn rotl23(self) -> Self {
        U1(self.0.rotate_left(23))
    }
    #[inline(always)]
    unsafe fn rotl45(self) -> Self {
        U1(self.0.rotate_left(45))
    }
}
