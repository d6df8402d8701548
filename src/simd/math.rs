//! Kernel bodies, written once over [`FVec`]/[`U64Vec`], plus the
//! `#[target_feature]` entry points that instantiate them per ISA.
//!
//! # Formulas (all stable over the whole f32 range)
//!
//! * `e = exp(-|x|)` ∈ [0, 1] is the only exponential ever evaluated, so
//!   nothing can overflow. It uses Cody–Waite range reduction
//!   (`x = n·ln2 + r`, `|r| ≤ ln2/2`), the degree-6 Cephes `expf`
//!   polynomial, and a two-step scaling `2^⌊n/2⌉ · 2^(n−⌊n/2⌉)` so results
//!   stay accurate down into the subnormal range; inputs below −104 give 0.
//! * `sigmoid(x) = 1/(1+e)` for `x ≥ 0`, `e/(1+e)` for `x < 0`.
//! * `log1p(e)` for `e ∈ [0, 1]` is `2·atanh(s)` with `s = e/(2+e) ∈ [0, 1/3]`,
//!   a series in `s²` truncated after `s¹⁵/15` (truncation error < 1.4e-8
//!   relative).
//! * `softplus(x) = max(x, 0) + log1p(e)`, `log_sigmoid(x) = min(x, 0) − log1p(e)`.
//! * Bernoulli sampling `u < sigmoid(x)` without a division: with
//!   `t = u + u·e`, it is `t < 1` when `x ≥ 0` and `t < e` when `x < 0`.
//!
//! NaN inputs give NaN outputs (and a 0 sample); ±inf give the limits.
//! Measured errors against an f64 reference are in the crate docs and in
//! `tests/kernels.rs`.
//!
//! # Tails
//!
//! A slice whose length is not a multiple of the vector width is finished by
//! copying the last partial vector into a zero-padded stack buffer and running
//! the same vector code on it. Each element's result therefore depends only
//! on its own inputs, never on its position or the slice length, which is
//! what makes chain results independent of how rows are split over threads.

#[cfg(target_arch = "x86_64")]
use super::avx2::{F8, U4};
#[cfg(target_arch = "x86_64")]
use super::avx512::{F16, U8};
use super::scalar::{F1, U1};
use super::vector::{FVec, U64Vec};

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `exp(x)` for `x ≤ 0` (and NaN). Larger inputs are not supported.
#[inline(always)]
unsafe fn exp_nonpos<V: FVec>(x: V) -> V {
    // SAFETY: the caller runs with V's instruction set enabled (trait contract).
    unsafe {
        // Constant first: x86 max returns its second operand for NaN, so NaN
        // propagates.
        let x = V::splat(-104.0).max(x);
        let n = x.mul(V::splat(LOG2E)).round();
        let r = n.mul_add(V::splat(-LN2_HI), x);
        let r = n.mul_add(V::splat(-LN2_LO), r);
        let mut p = V::splat(1.987_569_1e-4);
        p = p.mul_add(r, V::splat(1.398_2e-3));
        p = p.mul_add(r, V::splat(8.333_452e-3));
        p = p.mul_add(r, V::splat(4.166_579_6e-2));
        p = p.mul_add(r, V::splat(1.666_666_5e-1));
        p = p.mul_add(r, V::splat(0.5));
        let r2 = r.mul(r);
        let p = p.mul_add(r2, r).add(V::splat(1.0));
        p.ldexp_nonpos(n)
    }
}

/// `log(1 + e)` for `e ∈ [0, 1]`.
#[inline(always)]
unsafe fn log1p_unit<V: FVec>(e: V) -> V {
    // SAFETY: the caller runs with V's instruction set enabled.
    unsafe {
        let s = e.div(V::splat(2.0).add(e));
        let z = s.mul(s);
        let mut p = V::splat(1.0 / 15.0);
        p = p.mul_add(z, V::splat(1.0 / 13.0));
        p = p.mul_add(z, V::splat(1.0 / 11.0));
        p = p.mul_add(z, V::splat(1.0 / 9.0));
        p = p.mul_add(z, V::splat(1.0 / 7.0));
        p = p.mul_add(z, V::splat(1.0 / 5.0));
        p = p.mul_add(z, V::splat(1.0 / 3.0));
        let s2 = s.add(s);
        // 2s + 2s·z·p
        s2.mul(z).mul_add(p, s2)
    }
}

/// An element-wise function of one vector.
pub(crate) trait Unary {
    /// # Safety
    /// V's instruction set must be enabled.
    unsafe fn apply<V: FVec>(x: V) -> V;
}

/// Logistic sigmoid.
#[derive(Debug)]
pub(crate) struct Sigmoid;
/// `log(1 + exp(x))`.
#[derive(Debug)]
pub(crate) struct Softplus;
/// `log(sigmoid(x)) = -softplus(-x)`.
#[derive(Debug)]
pub(crate) struct LogSigmoid;

impl Unary for Sigmoid {
    #[inline(always)]
    unsafe fn apply<V: FVec>(x: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            let e = exp_nonpos(V::splat(0.0).sub(x.abs()));
            let r = V::splat(1.0).div(V::splat(1.0).add(e));
            V::select(x.ge(V::splat(0.0)), r, e.mul(r))
        }
    }
}

impl Unary for Softplus {
    #[inline(always)]
    unsafe fn apply<V: FVec>(x: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            let e = exp_nonpos(V::splat(0.0).sub(x.abs()));
            V::splat(0.0).max(x).add(log1p_unit(e))
        }
    }
}

impl Unary for LogSigmoid {
    #[inline(always)]
    unsafe fn apply<V: FVec>(x: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            let e = exp_nonpos(V::splat(0.0).sub(x.abs()));
            V::splat(0.0).min(x).sub(log1p_unit(e))
        }
    }
}

/// `out[i] = F(x[i] + bias[i])` (bias optional). `out` may alias `x`.
///
/// # Safety
/// V's instruction set must be enabled; `x`, `bias` (if non-null) must be
/// valid for `n` reads and `out` for `n` writes.
#[inline(always)]
unsafe fn unary_body<V: FVec, F: Unary>(x: *const f32, bias: *const f32, out: *mut f32, n: usize) {
    let l = V::LANES;
    let mut i = 0;
    // SAFETY: every access is within `n` elements (main loop) or within the
    // stack buffers (tail), as the caller guarantees.
    unsafe {
        while i + l <= n {
            let mut v = V::load(x.add(i));
            if !bias.is_null() {
                v = v.add(V::load(bias.add(i)));
            }
            F::apply(v).store(out.add(i));
            i += l;
        }
        if i < n {
            let rem = n - i;
            let mut bx = [0.0f32; 16];
            let mut bb = [0.0f32; 16];
            std::ptr::copy_nonoverlapping(x.add(i), bx.as_mut_ptr(), rem);
            let mut v = V::load(bx.as_ptr());
            if !bias.is_null() {
                std::ptr::copy_nonoverlapping(bias.add(i), bb.as_mut_ptr(), rem);
                v = v.add(V::load(bb.as_ptr()));
            }
            F::apply(v).store(bx.as_mut_ptr());
            std::ptr::copy_nonoverlapping(bx.as_ptr(), out.add(i), rem);
        }
    }
}

/// For each of `rows` rows of length `n`:
/// `out[r][i] = 1.0 if u(bits[r][i]) < sigmoid(pre[r][i] + bias[i]) else 0.0`,
/// where `bits` rows are `bits_stride` words apart.
///
/// # Safety
/// V's instruction set must be enabled; `pre` and `out` valid for `rows·n`
/// elements, `bias` for `n`, `bits` for `(rows−1)·bits_stride + n`. `out`
/// may alias `pre`.
#[inline(always)]
unsafe fn bernoulli_body<V: FVec>(
    pre: *const f32,
    bias: *const f32,
    bits: *const u32,
    bits_stride: usize,
    out: *mut f32,
    rows: usize,
    n: usize,
) {
    #[inline(always)]
    unsafe fn one<V: FVec>(pre: V, bias: V, u: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            let x = pre.add(bias);
            let e = exp_nonpos(V::splat(0.0).sub(x.abs()));
            let t = u.mul_add(e, u);
            let thr = V::select(x.ge(V::splat(0.0)), V::splat(1.0), e);
            V::select(t.lt(thr), V::splat(1.0), V::splat(0.0))
        }
    }
    let l = V::LANES;
    // SAFETY: all accesses are in bounds as the caller guarantees, or in the
    // stack buffers for the tail.
    unsafe {
        for r in 0..rows {
            let (pre, bits, out) = (pre.add(r * n), bits.add(r * bits_stride), out.add(r * n));
            let mut i = 0;
            while i + l <= n {
                let u = V::load_uniform(bits.add(i));
                one(V::load(pre.add(i)), V::load(bias.add(i)), u).store(out.add(i));
                i += l;
            }
            if i < n {
                let rem = n - i;
                let mut bp = [0.0f32; 16];
                let mut bb = [0.0f32; 16];
                let mut bu = [0u32; 16];
                std::ptr::copy_nonoverlapping(pre.add(i), bp.as_mut_ptr(), rem);
                std::ptr::copy_nonoverlapping(bias.add(i), bb.as_mut_ptr(), rem);
                std::ptr::copy_nonoverlapping(bits.add(i), bu.as_mut_ptr(), rem);
                let r = one(V::load(bp.as_ptr()), V::load(bb.as_ptr()), V::load_uniform(bu.as_ptr()));
                r.store(bp.as_mut_ptr());
                std::ptr::copy_nonoverlapping(bp.as_ptr(), out.add(i), rem);
            }
        }
    }
}

/// One xoshiro256++ step on `LANES` independent generators held
/// structure-of-arrays in `s`; returns the outputs.
#[inline(always)]
unsafe fn xoshiro_step<U: U64Vec>(s: &mut [U; 4]) -> U {
    // SAFETY: forwarded from the caller.
    unsafe {
        let res = s[0].add(s[3]).rotl23().add(s[0]);
        let t = s[1].shl17();
        s[2] = s[2].xor(s[0]);
        s[3] = s[3].xor(s[1]);
        s[1] = s[1].xor(s[2]);
        s[0] = s[0].xor(s[3]);
        s[2] = s[2].xor(t);
        s[3] = s[3].rotl45();
        res
    }
}

/// For each chain `c`, writes the next `words` outputs of its xoshiro256++
/// stream to `out[c*words .. (c+1)*words]` and advances its state.
///
/// # Safety
/// U's instruction set must be enabled; `out` must be valid for
/// `states.len() * words` writes.
#[inline(always)]
unsafe fn xoshiro_fill_body<U: U64Vec>(states: &mut [[u64; 4]], words: usize, out: *mut u64) {
    let l = U::LANES;
    let groups = states.len() / l;
    let mut tile = [[0u64; 8]; 8];
    let mut lanes = [[0u64; 8]; 4];
    // SAFETY: loads/stores go to the local arrays (8 ≥ LANES) and to `out`
    // within `states.len() * words` elements, as the caller guarantees.
    unsafe {
        for g in 0..groups {
            let c0 = g * l;
            for j in 0..l {
                for k in 0..4 {
                    lanes[k][j] = states[c0 + j][k];
                }
            }
            let mut s = [
                U::load(lanes[0].as_ptr()),
                U::load(lanes[1].as_ptr()),
                U::load(lanes[2].as_ptr()),
                U::load(lanes[3].as_ptr()),
            ];
            let mut t0 = 0;
            while t0 < words {
                let steps = (words - t0).min(l);
                for row in tile.iter_mut().take(steps) {
                    xoshiro_step(&mut s).store(row.as_mut_ptr());
                }
                for j in 0..l {
                    let dst = out.add((c0 + j) * words + t0);
                    for (t, row) in tile.iter().enumerate().take(steps) {
                        *dst.add(t) = row[j];
                    }
                }
                t0 += steps;
            }
            for (k, v) in s.iter().enumerate() {
                v.store(lanes[k].as_mut_ptr());
            }
            for j in 0..l {
                for k in 0..4 {
                    states[c0 + j][k] = lanes[k][j];
                }
            }
        }
        // Leftover chains, one lane at a time (same stream definition).
        for (c, st) in states.iter_mut().enumerate().skip(groups * l) {
            let mut s = [U1(st[0]), U1(st[1]), U1(st[2]), U1(st[3])];
            for t in 0..words {
                *out.add(c * words + t) = xoshiro_step(&mut s).0;
            }
            *st = [s[0].0, s[1].0, s[2].0, s[3].0];
        }
    }
}

macro_rules! entry_points {
    ($feature:literal, $fv:ty, $uv:ty, $unary:ident, $bern:ident, $fill:ident) => {
        /// # Safety
        /// The CPU must support the instruction set; pointers as in `unary_body`.
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn $unary<F: Unary>(x: *const f32, bias: *const f32, out: *mut f32, n: usize) {
            // SAFETY: the features are enabled by this function's attribute,
            // the pointer contract is forwarded.
            unsafe { unary_body::<$fv, F>(x, bias, out, n) }
        }

        /// # Safety
        /// The CPU must support the instruction set; pointers as in `bernoulli_body`.
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn $bern(
            pre: *const f32,
            bias: *const f32,
            bits: *const u32,
            bits_stride: usize,
            out: *mut f32,
            rows: usize,
            n: usize,
        ) {
            // SAFETY: as above.
            unsafe { bernoulli_body::<$fv>(pre, bias, bits, bits_stride, out, rows, n) }
        }

        /// # Safety
        /// The CPU must support the instruction set; `out` valid for
        /// `states.len() * words` writes.
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn $fill(states: &mut [[u64; 4]], words: usize, out: *mut u64) {
            // SAFETY: as above.
            unsafe { xoshiro_fill_body::<$uv>(states, words, out) }
        }
    };
}

#[cfg(target_arch = "x86_64")]
entry_points!("avx2,fma", F8, U4, unary_avx2, bernoulli_avx2, xoshiro_fill_avx2);
#[cfg(target_arch = "x86_64")]
entry_points!("avx512f,avx2,fma", F16, U8, unary_avx512, bernoulli_avx512, xoshiro_fill_avx512);

/// Scalar entry points (no target features needed).
///
/// # Safety
/// Pointers as in `unary_body`.
pub(crate) unsafe fn unary_scalar<F: Unary>(x: *const f32, bias: *const f32, out: *mut f32, n: usize) {
    // SAFETY: F1 needs no CPU features; the pointer contract is forwarded.
    unsafe { unary_body::<F1, F>(x, bias, out, n) }
}

/// # Safety
/// Pointers as in `bernoulli_body`.
pub(crate) unsafe fn bernoulli_scalar(
    pre: *const f32,
    bias: *const f32,
    bits: *const u32,
    bits_stride: usize,
    out: *mut f32,
    rows: usize,
    n: usize,
) {
    // SAFETY: F1 needs no CPU features; the pointer contract is forwarded.
    unsafe { bernoulli_body::<F1>(pre, bias, bits, bits_stride, out, rows, n) }
}

/// # Safety
/// `out` valid for `states.len() * words` writes.
pub(crate) unsafe fn xoshiro_fill_scalar(states: &mut [[u64; 4]], words: usize, out: *mut u64) {
    // SAFETY: U1 needs no CPU features; the pointer contract is forwarded.
    unsafe { xoshiro_fill_body::<U1>(states, words, out) }
}
