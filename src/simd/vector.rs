//! The private vector abstraction that every SIMD body is written against.
//!
//! Each kernel body in [`super::bodies`] is written once, generic over [`FVec`]
//! (f32 lanes) and [`U64Vec`] (u64 lanes), and instantiated three times: for
//! the one-lane scalar fallback, AVX2+FMA (8 × f32) and AVX-512F (16 × f32).
//! The methods are `unsafe` and `#[inline(always)]`: they may only be called
//! from a function compiled with the matching `#[target_feature]` (or, for the
//! scalar type, from anywhere). This mirrors memchr's `Vector` trait.

/// A vector of `LANES` f32 values.
///
/// Semantics follow x86: [`FVec::max`]`(a, b)` is `if a > b { a } else { b }`
/// (so a NaN in `b` propagates and a NaN in `a` does not), [`FVec::min`]
/// likewise with `<`.
pub(crate) trait FVec: Copy {
    /// Number of f32 lanes.
    const LANES: usize;
    /// Lane-wise comparison result.
    type Mask: Copy;

    /// # Safety
    /// The CPU must support this vector type's instruction set.
    unsafe fn splat(x: f32) -> Self;
    /// # Safety
    /// `p` must be valid for reading `LANES` f32 (no alignment needed), and
    /// the CPU must support the instruction set.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` must be valid for writing `LANES` f32 (no alignment needed), and
    /// the CPU must support the instruction set.
    unsafe fn store(self, p: *mut f32);
    /// Loads `LANES` u32 bit patterns and maps each to a uniform f32 in
    /// (0, 1): `u = (r >> 9) · 2⁻²³ + 2⁻²⁴`, exactly, on a grid of 2²³ points.
    ///
    /// # Safety
    /// `p` must be valid for reading `LANES` u32, and the CPU must support
    /// the instruction set.
    unsafe fn load_uniform(p: *const u32) -> Self;
    /// # Safety
    /// The CPU must support the instruction set (applies to every method).
    unsafe fn add(self, o: Self) -> Self;
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn sub(self, o: Self) -> Self;
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn mul(self, o: Self) -> Self;
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn div(self, o: Self) -> Self;
    /// `self * b + c`, with one rounding where the ISA has FMA (AVX2+FMA and
    /// AVX-512), two roundings in the scalar fallback.
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn max(self, o: Self) -> Self;
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn min(self, o: Self) -> Self;
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn abs(self) -> Self;
    /// Round to nearest integer (ties to even).
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn round(self) -> Self;
    /// `2^n` for lanes holding integers in `[-126, 127]`. Other values give
    /// unspecified (but not undefined) results.
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn pow2i(self) -> Self;
    /// `self · 2^n` for integer-valued `n` in `[-252, 252]`, rounding once
    /// into the subnormal range (AVX-512 `vscalefps`), or in two steps
    /// `2^⌊n/2⌉ · 2^(n−⌊n/2⌉)` otherwise; overflow gives ±inf.
    ///
    /// # Safety
    /// See [`FVec::add`].
    #[inline(always)]
    unsafe fn ldexp(self, n: Self) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe {
            let n1 = n.mul(Self::splat(0.5)).round();
            let n2 = n.sub(n1);
            self.mul(n1.pow2i()).mul(n2.pow2i())
        }
    }
    /// Square root (correctly rounded).
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn sqrt(self) -> Self;
    /// For positive normal lanes `x = m · 2^e` with `m ∈ [1, 2)`: `(e, m)`,
    /// `e` as an integer-valued f32. Other inputs give unspecified (but not
    /// undefined) results.
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn frexp_normal(self) -> (Self, Self);
    /// `self >= o`, false when either is NaN.
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn ge(self, o: Self) -> Self::Mask;
    /// `self < o`, false when either is NaN.
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn lt(self, o: Self) -> Self::Mask;
    /// Lane-wise `if m { a } else { b }`.
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Bit `l` set where lane `l` is not `0.0`/`-0.0` (NaN counts as
    /// nonzero, as `x != 0.0` does).
    ///
    /// # Safety
    /// See [`FVec::add`].
    unsafe fn nonzero_bits(self) -> u64;
}

/// A vector of `LANES` u64 values, for the xoshiro256++ generator.
pub(crate) trait U64Vec: Copy {
    /// Number of u64 lanes.
    const LANES: usize;
    /// # Safety
    /// `p` must be valid for reading `LANES` u64, and the CPU must support
    /// the instruction set.
    unsafe fn load(p: *const u64) -> Self;
    /// # Safety
    /// `p` must be valid for writing `LANES` u64, and the CPU must support
    /// the instruction set.
    unsafe fn store(self, p: *mut u64);
    /// Wrapping add.
    ///
    /// # Safety
    /// The CPU must support the instruction set (applies to every method).
    unsafe fn add(self, o: Self) -> Self;
    /// # Safety
    /// See [`U64Vec::add`].
    unsafe fn xor(self, o: Self) -> Self;
    /// # Safety
    /// See [`U64Vec::add`].
    unsafe fn shl17(self) -> Self;
    /// Rotate left by 23 bits.
    ///
    /// # Safety
    /// See [`U64Vec::add`].
    unsafe fn rotl23(self) -> Self;
    /// Rotate left by 45 bits.
    ///
    /// # Safety
    /// See [`U64Vec::add`].
    unsafe fn rotl45(self) -> Self;
}
