//! Kernel bodies, written once over [`FVec`]/[`U64Vec`]. They are
//! instantiated per ISA by the one macro of [`super::entry`]; nothing here
//! names an instruction set.
//!
//! # Formulas (all stable over the whole f32 range)
//!
//! * The activations evaluate only `e = exp(-|x|)` ∈ [0, 1], so nothing
//!   can overflow. The exponential uses Cody–Waite range reduction
//!   (`x = n·ln2 + r`, `|r| ≤ ln2/2`), the degree-6 Cephes `expf`
//!   polynomial, and a two-step scaling `2^⌊n/2⌉ · 2^(n−⌊n/2⌉)` so results
//!   stay accurate down into the subnormal range; inputs below −104 give 0.
//! * `sigmoid(x) = 1/(1+e)` for `x ≥ 0`, `e/(1+e)` for `x < 0`.
//! * `log1p(e)` for `e ∈ [0, 1]` is `2·atanh(s)` with `s = e/(2+e) ∈ [0, 1/3]`,
//!   a series in `s²` truncated after `s¹⁵/15` (truncation error < 1.4e-8
//!   relative).
//! * `softplus(x) = max(x, 0) + log1p(e)`, `log_sigmoid(x) = min(x, 0) − log1p(e)`.
//! * Bernoulli sampling `u < sigmoid(x)` without a division: with
//!   `s = exp(−x)` (+inf for x < −88.7), it is `u + u·s < 1`.
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

use super::scalar::U1;
use super::vector::{FVec, U64Vec};

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `exp(x)` for `x ∈ [−104, 104]` (and NaN): Cody–Waite reduction, the
/// degree-6 Cephes polynomial, and a scaling by `2^n` that reaches the
/// subnormal range (and overflows to +inf above `ln(f32::MAX)`).
#[inline(always)]
unsafe fn exp_core<V: FVec>(x: V) -> V {
    // SAFETY: the caller runs with V's instruction set enabled (trait contract).
    unsafe {
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
        p.ldexp(n)
    }
}

/// `exp(x)` for `x ≤ 0` (and NaN). Larger inputs are not supported.
#[inline(always)]
unsafe fn exp_nonpos<V: FVec>(x: V) -> V {
    // SAFETY: forwarded from the caller. Constant first: x86 max returns its
    // second operand for NaN, so NaN propagates.
    unsafe { exp_core(V::splat(-104.0).max(x)) }
}

/// `exp(x)` for the Bernoulli test: inputs below −87 give `exp(−87)`
/// (≈ 1.6e-38, the smallest value that is not subnormal: subnormal results
/// cost a ~100-cycle microcode assist per instruction on x86), +inf above
/// 88.7, NaN for NaN. The clamp cannot change a sample: `u + u·s < 1` with
/// `s ≤ 1.6e-38` and `u ≤ 1 − 2⁻²⁴` is true either way.
#[inline(always)]
unsafe fn exp_any<V: FVec>(x: V) -> V {
    // SAFETY: forwarded from the caller; min/max keep NaN (constant first).
    unsafe { exp_core(V::splat(104.0).min(V::splat(FLUSH_BELOW).max(x))) }
}

/// Inputs below this give 0 from the flushing variants ([`Flush`]):
/// `exp(−87) ≈ 1.6e-38` is just above `f32::MIN_POSITIVE`.
pub(crate) const FLUSH_BELOW: f32 = -87.0;

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

/// `exp(x)`, with inputs under −87 giving exactly 0 (no subnormal result)
/// and inputs above 104 not supported; for the max-pooling block weights,
/// whose arguments are ≤ 0.
#[derive(Debug)]
pub(crate) struct ExpFlush;

impl Unary for ExpFlush {
    #[inline(always)]
    unsafe fn apply<V: FVec>(x: V) -> V {
        // SAFETY: forwarded from the caller; NaN propagates as in `Flush`.
        unsafe {
            let lo = V::splat(FLUSH_BELOW);
            V::select(x.lt(lo), V::splat(0.0), exp_core(lo.max(x)))
        }
    }
}

/// `F` with outputs that would be below ≈ 1.6e-38 (inputs under −87)
/// flushed to exactly 0 and no subnormal number ever computed. Used for
/// probabilities and free-energy terms inside the library, where subnormal
/// values would only slow the products that consume them (x86 handles them
/// in microcode, ~3× slower training was measured) and change nothing
/// measurable. For sigmoid and softplus only (both → 0 as x → −∞).
#[derive(Debug)]
pub(crate) struct Flush<F>(std::marker::PhantomData<F>);

impl<F: Unary> Unary for Flush<F> {
    #[inline(always)]
    unsafe fn apply<V: FVec>(x: V) -> V {
        // SAFETY: forwarded from the caller. max with the constant first
        // keeps NaN; `lt` is false for NaN, so NaN propagates.
        unsafe {
            let lo = V::splat(FLUSH_BELOW);
            V::select(x.lt(lo), V::splat(0.0), F::apply(lo.max(x)))
        }
    }
}

/// `expm1(d)` for `|d| ≤ 0.35`: the Taylor series through `d⁸/8!`
/// (truncation < 7e-10 relative).
#[inline(always)]
unsafe fn expm1_small<V: FVec>(d: V) -> V {
    // SAFETY: the caller runs with V's instruction set enabled.
    unsafe {
        let mut p = V::splat(1.0 / 40320.0);
        p = p.mul_add(d, V::splat(1.0 / 5040.0));
        p = p.mul_add(d, V::splat(1.0 / 720.0));
        p = p.mul_add(d, V::splat(1.0 / 120.0));
        p = p.mul_add(d, V::splat(1.0 / 24.0));
        p = p.mul_add(d, V::splat(1.0 / 6.0));
        p = p.mul_add(d, V::splat(0.5));
        p = p.mul_add(d, V::splat(1.0));
        p.mul(d)
    }
}

/// Largest `|δ|` handled by the relative-accuracy branch of
/// [`softplus_step_sum_body`].
const STEP_SMALL: f32 = 0.35;

/// `Σᵢ softplus((β₀+Δβ)·xᵢ) − softplus(β₀·xᵢ)` with `xᵢ = x[i] + bias[i]`
/// (the AIS weight increment of one chain's hidden units), accurate
/// *relative to each difference* even when `Δβ·x` is tiny, where
/// subtracting two softplus values would cancel:
///
/// * `|δ| ≤ 0.35` (`δ = Δβ·x`): `log1p(σ(β₀x)·expm1(δ))`, an exact identity;
///   `expm1` by its series, `log1p` by the `atanh` series (its argument stays
///   in (−0.3, 0.42)).
/// * otherwise: `[max(a,0) − max(b,0)] + log1p(e^{−|a|}) − log1p(e^{−|b|})`
///   with `b = β₀x`, `a = b + δ` (the difference is not small, so the
///   absolute error of a few ulp of ln 2 is negligible beside it).
///
/// Each lane accumulates at most 8 terms in f32 before they move to an f64
/// total. Padding lanes contribute exactly 0.
///
/// # Safety
/// V's instruction set must be enabled; `x` and `bias` valid for `n` reads.
#[inline(always)]
pub(super) unsafe fn softplus_step_sum_body<V: FVec>(
    x: *const f32,
    bias: *const f32,
    n: usize,
    b0: f32,
    db: f32,
) -> f64 {
    #[inline(always)]
    unsafe fn term<V: FVec>(x: V, b0: V, db: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            let zero = V::splat(0.0);
            let b = b0.mul(x);
            let d = db.mul(x);
            // Small step: relative accuracy.
            let y =
                Sigmoid::apply(b).mul(expm1_small(V::splat(-STEP_SMALL).max(V::splat(STEP_SMALL).min(d))));
            let small = log1p_unit(y);
            let is_small = d.abs().lt(V::splat(STEP_SMALL));
            // Every lane small (always on fine annealing steps): the large
            // form would only be selected away.
            if V::select(is_small, zero, V::splat(1.0)).nonzero_bits() == 0 {
                return small;
            }
            // Large step.
            let a = b.add(d);
            let lin = V::select(x.ge(zero), d, zero);
            let la = log1p_unit(exp_nonpos(zero.sub(a.abs())));
            let lb = log1p_unit(exp_nonpos(zero.sub(b.abs())));
            let large = lin.add(la.sub(lb));
            V::select(is_small, small, large)
        }
    }
    let l = V::LANES;
    // SAFETY: accesses stay within `n` elements or the stack buffers.
    unsafe {
        let (vb0, vdb) = (V::splat(b0), V::splat(db));
        let mut lanes = [0.0f32; 16];
        let mut total = 0.0f64;
        let mut acc = V::splat(0.0);
        let mut i = 0;
        let mut since_flush = 0;
        while i + l <= n {
            acc = acc.add(term(V::load(x.add(i)).add(V::load(bias.add(i))), vb0, vdb));
            i += l;
            since_flush += 1;
            // At most 8 terms per f32 lane before moving them to f64.
            if since_flush == 8 {
                acc.store(lanes.as_mut_ptr());
                total += lanes[..l].iter().map(|&v| v as f64).sum::<f64>();
                acc = V::splat(0.0);
                since_flush = 0;
            }
        }
        if i < n {
            let rem = n - i;
            let (mut xb, mut bb) = ([0.0f32; 16], [0.0f32; 16]);
            std::ptr::copy_nonoverlapping(x.add(i), xb.as_mut_ptr(), rem);
            std::ptr::copy_nonoverlapping(bias.add(i), bb.as_mut_ptr(), rem);
            acc = acc.add(term(V::load(xb.as_ptr()).add(V::load(bb.as_ptr())), vb0, vdb));
        }
        acc.store(lanes.as_mut_ptr());
        total + lanes[..l].iter().map(|&v| v as f64).sum::<f64>()
    }
}

/// Columns per weight panel of the binary products: one 64-byte cache line
/// per weight row, so a 784-row panel (49 KiB) about fills L1. (32 columns
/// were measured 1.5–2× slower: the panel no longer stays in L1.)
pub(crate) const PANEL: usize = 16;

/// Accumulators per column (independent additions in flight).
const ACC: usize = 8;

/// For one panel (`k × PANEL` floats, row `i` = the panel's columns of
/// weight row `i`) and each of `rows` binary rows (set positions
/// `indices[offsets[r]..offsets[r+1]]`, all `< k`):
/// `out[r·ldo + c] = Σ_t panel[idx[t]·PANEL + c]` for `c < ncols ≤ PANEL`.
///
/// Columns go `G` vectors at a time (`G·LANES` columns; the whole panel for
/// AVX-512), and each column's sum uses eight accumulators,
/// `a[t mod 8] += w(idx[t])`, combined as
/// `((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7))` — in this fixed order on every
/// ISA, so all ISAs give the same bits.
///
/// # Safety
/// V's instruction set must be enabled; `G·LANES` divides `PANEL`; `panel`
/// readable for `k·PANEL` floats with every index `< k`; `offsets` has
/// `rows + 1` entries indexing `indices`; `out` writable at `r·ldo + c` for
/// `r < rows`, `c < ncols`.
#[inline(always)]
pub(super) unsafe fn binary_panel_body<V: FVec, const G: usize>(
    panel: *const f32,
    offsets: &[usize],
    indices: &[u32],
    rows: usize,
    ncols: usize,
    out: *mut f32,
    ldo: usize,
) {
    let l = V::LANES;
    // SAFETY: forwarded from the caller.
    unsafe {
        let mut tmp = [0.0f32; PANEL];
        for r in 0..rows {
            let idx = &indices[offsets[r]..offsets[r + 1]];
            for g0 in (0..PANEL / l).step_by(G) {
                let s = panel_sums::<V, G>(panel.add(g0 * l), idx);
                for (g, s) in s.into_iter().enumerate() {
                    if ncols == PANEL {
                        s.store(out.add(r * ldo + (g0 + g) * l));
                    } else {
                        s.store(tmp.as_mut_ptr().add((g0 + g) * l));
                    }
                }
            }
            if ncols < PANEL {
                for (c, &x) in tmp[..ncols].iter().enumerate() {
                    *out.add(r * ldo + c) = x;
                }
            }
        }
    }
}

/// The update of binary products after their rows changed: for each `r <
/// out_rows.len()`, `out[out_rows[r]·ldo + c] += Σ_{i ∈ on(r)}
/// panel[i·PANEL + c] − Σ_{i ∈ off(r)} panel[i·PANEL + c]` for `c < ncols`,
/// where `on(r)` / `off(r)` are the set positions of row `r` of the two
/// index lists. The difference is formed in [`binary_panel_body`]'s
/// accumulators (the `on` rows added in its order, then the `off` rows
/// subtracted in the same rotation), so a zeroed output row with an empty
/// `off` gets exactly that kernel's value (`0 + s = s`).
///
/// # Safety
/// V's instruction set must be enabled; as `binary_panel_body` for the
/// panel and both index lists (`rows = out_rows.len()`); `out` readable and
/// writable at `out_rows[r]·ldo + c` for `c < ncols ≤ PANEL`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn binary_panel_delta_body<V: FVec, const G: usize>(
    panel: *const f32,
    on_offsets: &[usize],
    on_indices: &[u32],
    off_offsets: &[usize],
    off_indices: &[u32],
    out_rows: &[u32],
    ncols: usize,
    out: *mut f32,
    ldo: usize,
) {
    let l = V::LANES;
    // SAFETY: forwarded from the caller; a partial panel goes through a
    // stack copy and touches only its `ncols` columns.
    unsafe {
        let mut tmp = [0.0f32; PANEL];
        for (r, &o) in out_rows.iter().enumerate() {
            let on = &on_indices[on_offsets[r]..on_offsets[r + 1]];
            let off = &off_indices[off_offsets[r]..off_offsets[r + 1]];
            let dst = out.add(o as usize * ldo);
            // The output rows are `ldo` floats apart (one cache line of
            // each per panel): ask for a later row's line now, so that its
            // load is not waited for (no effect on the values).
            if let Some(&later) = out_rows.get(r + PREFETCH_ROWS) {
                prefetch(out.add(later as usize * ldo));
            }
            for g0 in (0..PANEL / l).step_by(G) {
                let s = panel_sums_signed::<V, G>(panel.add(g0 * l), on, off);
                for (g, s) in s.into_iter().enumerate() {
                    let at = (g0 + g) * l;
                    if ncols == PANEL {
                        V::load(dst.add(at)).add(s).store(dst.add(at));
                    } else {
                        s.store(tmp.as_mut_ptr().add(at));
                    }
                }
            }
            if ncols < PANEL {
                for (c, &x) in tmp[..ncols].iter().enumerate() {
                    *dst.add(c) += x;
                }
            }
        }
    }
}

/// How many output rows ahead [`binary_panel_delta_body`] prefetches.
const PREFETCH_ROWS: usize = 8;

/// A hint to bring the cache line at `p` into the caches (a no-op off
/// x86-64); it never faults and changes no value.
#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing into the program
    // and does not fault, whatever the address (SSE, part of x86-64).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The sums of [`binary_panel_body`] for one binary row (set positions
/// `idx`) over `G` vectors of a panel starting at `base`, in its documented
/// order.
///
/// # Safety
/// As `binary_panel_body`.
#[inline(always)]
unsafe fn panel_sums<V: FVec, const G: usize>(base: *const f32, idx: &[u32]) -> [V; G] {
    // SAFETY: forwarded from the caller.
    unsafe {
        let mut a = [[V::splat(0.0); G]; ACC];
        accumulate::<V, G, false>(&mut a, base, idx);
        reduce(&a)
    }
}

/// [`panel_sums`] of `plus` minus the rows `minus`, subtracted from the same
/// accumulators after the additions (in the same rotation); with `minus`
/// empty, exactly [`panel_sums`].
///
/// # Safety
/// As `binary_panel_body`, for both index lists.
#[inline(always)]
unsafe fn panel_sums_signed<V: FVec, const G: usize>(
    base: *const f32,
    plus: &[u32],
    minus: &[u32],
) -> [V; G] {
    // SAFETY: forwarded from the caller.
    unsafe {
        let mut a = [[V::splat(0.0); G]; ACC];
        accumulate::<V, G, false>(&mut a, base, plus);
        accumulate::<V, G, true>(&mut a, base, minus);
        reduce(&a)
    }
}

/// Adds (`SUB`: subtracts) the panel rows `idx` into the `ACC` accumulator
/// sets, row `t` of `idx` into set `t mod ACC`.
///
/// # Safety
/// As `binary_panel_body`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops over accumulator sets mirror the documented order
unsafe fn accumulate<V: FVec, const G: usize, const SUB: bool>(
    a: &mut [[V; G]; ACC],
    base: *const f32,
    idx: &[u32],
) {
    let l = V::LANES;
    // SAFETY: forwarded from the caller.
    unsafe {
        let chunks = idx.chunks_exact(ACC);
        let rem = chunks.remainder();
        for ch in chunks {
            for u in 0..ACC {
                let row = base.add(ch[u] as usize * PANEL);
                for g in 0..G {
                    let x = V::load(row.add(g * l));
                    a[u][g] = if SUB { a[u][g].sub(x) } else { a[u][g].add(x) };
                }
            }
        }
        for (u, &i) in rem.iter().enumerate() {
            let row = base.add(i as usize * PANEL);
            for g in 0..G {
                let x = V::load(row.add(g * l));
                a[u][g] = if SUB { a[u][g].sub(x) } else { a[u][g].add(x) };
            }
        }
    }
}

/// The accumulator sets summed in the documented order.
///
/// # Safety
/// V's instruction set must be enabled.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn reduce<V: FVec, const G: usize>(a: &[[V; G]; ACC]) -> [V; G] {
    // SAFETY: arithmetic only.
    unsafe {
        let mut s = [V::splat(0.0); G];
        for g in 0..G {
            let lo = a[0][g].add(a[1][g]).add(a[2][g].add(a[3][g]));
            let hi = a[4][g].add(a[5][g]).add(a[6][g].add(a[7][g]));
            s[g] = lo.add(hi);
        }
        s
    }
}

/// The fused half-step on one panel: for each of `rows` binary rows, the
/// panel's sums as [`binary_panel_body`], then the Bernoulli samples of
/// `bernoulli_body` in `LOGITS` mode (`u < σ(sum + bias)`, the same
/// arithmetic, so the same samples), packed straight into bits: the
/// `ncols` sample bits of row `r` are ORed into `out[r·wpr + word]` at
/// `shift`. No pre-activation or state matrix is written.
///
/// # Safety
/// As `binary_panel_body` for the sums; `bias` readable for `PANEL` floats;
/// `bits.add(r·stride)` readable for `ncols` u32 per row (`PANEL` when
/// `ncols == PANEL`); `out` writable at `r·wpr + word`; `shift + ncols ≤ 64`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn binary_panel_sample_body<V: FVec, const G: usize>(
    panel: *const f32,
    offsets: &[usize],
    indices: &[u32],
    rows: usize,
    ncols: usize,
    bias: *const f32,
    bits: *const u32,
    stride: usize,
    out: *mut u64,
    wpr: usize,
    word: usize,
    shift: u32,
) {
    let l = V::LANES;
    // SAFETY: forwarded from the caller; uniforms of a partial panel are
    // read from a stack copy.
    unsafe {
        let mut tail = [0u32; PANEL];
        let keep = if ncols == PANEL { u64::MAX } else { (1u64 << ncols) - 1 };
        for r in 0..rows {
            let idx = &indices[offsets[r]..offsets[r + 1]];
            let mut u = bits.add(r * stride);
            if ncols < PANEL {
                std::ptr::copy_nonoverlapping(u, tail.as_mut_ptr(), ncols);
                u = tail.as_ptr();
            }
            let mut mask = 0u64;
            for g0 in (0..PANEL / l).step_by(G) {
                let s = panel_sums::<V, G>(panel.add(g0 * l), idx);
                for (g, s) in s.into_iter().enumerate() {
                    let at = (g0 + g) * l;
                    let x = bernoulli_one::<V, { mode::LOGITS }>(
                        s,
                        V::load(bias.add(at)),
                        V::load_uniform(u.add(at)),
                    )
                    .0;
                    mask |= x.nonzero_bits() << at;
                }
            }
            *out.add(r * wpr + word) |= (mask & keep) << shift;
        }
    }
}

/// Packs the row `x` (`n` floats) into bits, `out[w]` bit `b` set iff
/// `x[64w + b] != 0.0` (NaN counts as set), for `n.div_ceil(64)` words.
///
/// # Safety
/// V's instruction set must be enabled; `x` readable for `n` floats, `out`
/// writable for `n.div_ceil(64)` words.
#[inline(always)]
pub(super) unsafe fn pack_bits_body<V: FVec>(x: *const f32, n: usize, out: *mut u64) {
    let l = V::LANES;
    // SAFETY: reads below n, writes below n.div_ceil(64).
    unsafe {
        let full = n / 64;
        for w in 0..full {
            let mut m = 0u64;
            for g in 0..64 / l {
                m |= V::load(x.add(w * 64 + g * l)).nonzero_bits() << (g * l);
            }
            *out.add(w) = m;
        }
        if full * 64 < n {
            let mut m = 0u64;
            for b in 0..n - full * 64 {
                m |= ((*x.add(full * 64 + b) != 0.0) as u64) << b;
            }
            *out.add(full) = m;
        }
    }
}

/// `out[i] = F(x[i] + bias[i])` (bias optional). `out` may alias `x`.
///
/// # Safety
/// V's instruction set must be enabled; `x`, `bias` (if non-null) must be
/// valid for `n` reads and `out` for `n` writes.
#[inline(always)]
pub(super) unsafe fn unary_body<V: FVec, F: Unary>(x: *const f32, bias: *const f32, out: *mut f32, n: usize) {
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

/// Rows of a matrix scaled into one packed panel, with f64 column sums
/// (the scaled gradient factor of the trainer's sparse weight gradient).
/// Row `r < panel.len() / PANEL` of `x` starts at `r·ldx`; with `(s, s32) =
/// scales[0]` for `r < split` and `scales[1]` after, for each column `c <
/// ncols`: `sums[c] += (x as f64)·s`, `panel[r·PANEL + c] = x·s32` (0 where
/// its magnitude is below `tiny`), and for `r < split`, with `mean`,
/// `mean[c] += (x as f64)·scales[0].0`. Columns `ncols..PANEL` of the panel
/// are not written. Plain Rust: every operation is one IEEE operation per
/// element, rows in order within each column (no reassociation, no fused
/// multiply-add), so the compiler's vectors give the scalar loop's bits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn scale_panel_body(
    x: &[f32],
    ldx: usize,
    ncols: usize,
    split: usize,
    scales: [(f64, f32); 2],
    tiny: f32,
    panel: &mut [f32],
    sums: &mut [f64; PANEL],
    mut mean: Option<&mut [f64; PANEL]>,
) {
    for (r, out) in panel.chunks_exact_mut(PANEL).enumerate() {
        let (s, s32) = scales[usize::from(r >= split)];
        let mean = if r < split { mean.as_deref_mut() } else { None };
        if ncols == PANEL {
            // Whole rows of a known length: the loops become whole vectors.
            let xr: &[f32; PANEL] = x[r * ldx..r * ldx + PANEL].try_into().expect("PANEL floats");
            scale_row(xr, out, (s, s32), tiny, sums, mean);
        } else {
            scale_row(&x[r * ldx..r * ldx + ncols], out, (s, s32), tiny, sums, mean);
        }
    }
}

/// One row of [`scale_panel_body`]: its `xr.len()` columns.
#[inline(always)]
fn scale_row(
    xr: &[f32],
    out: &mut [f32],
    (s, s32): (f64, f32),
    tiny: f32,
    sums: &mut [f64; PANEL],
    mean: Option<&mut [f64; PANEL]>,
) {
    for ((g, o), &x) in sums.iter_mut().zip(out.iter_mut()).zip(xr) {
        *g += x as f64 * s;
        let y = x * s32;
        *o = if y.abs() < tiny { 0.0 } else { y };
    }
    if let Some(m) = mean {
        for (m, &x) in m.iter_mut().zip(xr) {
            *m += x as f64 * s;
        }
    }
}

/// The scalars of one momentum-SGD step over weights (see
/// [`momentum_step_body`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MomentumStep {
    /// Momentum `μ`.
    pub(crate) mu: f32,
    /// Learning rate.
    pub(crate) lr: f32,
    /// L2 and L1 weight decay.
    pub(crate) l2: f32,
    pub(crate) l1: f32,
    /// Velocities with `|Δ| <` this become 0 (no subnormal numbers).
    pub(crate) tiny: f32,
    /// Weights beyond `±max` (or NaN) are reported.
    pub(crate) max: f32,
    /// Whether the velocities are read and written. Without them (only at
    /// `μ = 0`) the step is `Δ ← lr·g` and `m` is left as it is: the same
    /// weights, bit for bit, as `μ·m + lr·g` with `μ = 0` and finite `m`
    /// (`0·m` is a signed zero, and `±0 + x = x` for every `x`), without
    /// the velocities' read and write.
    pub(crate) velocity: bool,
}

/// Up to two extra terms `a·u[j] + b·v[j]` of a momentum step (see
/// [`momentum_step_body`]): `u`, `v` per element (null: absent; `v` only
/// with `u`), `a`, `b` one scalar each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepTerms {
    pub(crate) u: *const f32,
    pub(crate) a: f32,
    pub(crate) v: *const f32,
    pub(crate) b: f32,
}

impl StepTerms {
    /// No extra terms.
    pub(crate) const NONE: StepTerms = StepTerms { u: std::ptr::null(), a: 0.0, v: std::ptr::null(), b: 0.0 };
}

/// One momentum-SGD step, element-wise over `n` weights `w` with
/// velocities `m` and gradients `g` (the ascent direction):
/// `Δ ← μΔ + lr·g` (`Δ ← lr·g`, `m` untouched, without `s.velocity`);
/// then, if `l2`, `l1` or an extra term is present,
/// `Δ ← Δ − lr·(((l2·w + l1·sign w) + a·u) + b·v)` (the terms of `t`
/// present); `Δ ← 0 where |Δ| < tiny`; `w ← w + Δ`. Each operation is one
/// IEEE operation in this order (no fused multiply-add), so every
/// instruction set gives the scalar loop's bits. Returns whether any new
/// weight is NaN or beyond `±max`.
///
/// # Safety
/// V's instruction set must be enabled; `w` and `m` valid for `n` reads
/// and writes, `g` and the non-null pointers of `t` for `n` reads; the
/// read-only inputs may not alias `w` or `m`.
#[inline(always)]
pub(super) unsafe fn momentum_step_body<V: FVec>(
    w: *mut f32,
    m: *mut f32,
    g: *const f32,
    n: usize,
    s: &MomentumStep,
    t: StepTerms,
) -> bool {
    let l = V::LANES;
    // SAFETY: every access is within `n` elements (main loop) or within the
    // stack buffers (tail), as the caller guarantees.
    unsafe {
        let mut bad = V::splat(0.0);
        let mut i = 0;
        let at = |p: *const f32, i: usize| if p.is_null() { p } else { p.add(i) };
        while i + l <= n {
            let ti = StepTerms { u: at(t.u, i), v: at(t.v, i), ..t };
            momentum_step_vec::<V>(w.add(i), m.add(i), g.add(i), s, ti, &mut bad);
            i += l;
        }
        if i < n {
            let rem = n - i;
            let mut buf = [[0.0f32; 16]; 5];
            for (k, p) in [w.cast_const(), m.cast_const(), g, t.u, t.v].into_iter().enumerate() {
                if !p.is_null() {
                    std::ptr::copy_nonoverlapping(p.add(i), buf[k].as_mut_ptr(), rem);
                }
            }
            let [bw, bm, bg, bu, bv] = &mut buf;
            let opt = |p: *const f32, b: &[f32; 16]| if p.is_null() { p } else { b.as_ptr() };
            let ti = StepTerms { u: opt(t.u, bu), v: opt(t.v, bv), ..t };
            momentum_step_vec::<V>(bw.as_mut_ptr(), bm.as_mut_ptr(), bg.as_ptr(), s, ti, &mut bad);
            std::ptr::copy_nonoverlapping(bw.as_ptr(), w.add(i), rem);
            if s.velocity {
                std::ptr::copy_nonoverlapping(bm.as_ptr(), m.add(i), rem);
            }
        }
        bad.nonzero_bits() != 0
    }
}

/// [`momentum_step_body`] on one vector at `w`, `m`, `g` (and `t`'s
/// vectors); `bad` collects 1 in the lanes of a weight out of bounds.
///
/// # Safety
/// As [`momentum_step_body`] for `V::LANES` elements.
#[inline(always)]
unsafe fn momentum_step_vec<V: FVec>(
    w: *mut f32,
    m: *mut f32,
    g: *const f32,
    s: &MomentumStep,
    t: StepTerms,
    bad: &mut V,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let (zero, one) = (V::splat(0.0), V::splat(1.0));
        let (wv, lr) = (V::load(w), V::splat(s.lr));
        let mut d = if s.velocity {
            V::splat(s.mu).mul(V::load(m)).add(lr.mul(V::load(g)))
        } else {
            lr.mul(V::load(g))
        };
        if s.l2 != 0.0 || s.l1 != 0.0 || !t.u.is_null() {
            let sign = V::select(zero.lt(wv), one, zero).sub(V::select(wv.lt(zero), one, zero));
            let mut e = V::splat(s.l2).mul(wv).add(V::splat(s.l1).mul(sign));
            if !t.u.is_null() {
                e = e.add(V::splat(t.a).mul(V::load(t.u)));
                if !t.v.is_null() {
                    e = e.add(V::splat(t.b).mul(V::load(t.v)));
                }
            }
            d = d.sub(lr.mul(e));
        }
        let d = V::select(d.abs().lt(V::splat(s.tiny)), zero, d);
        let nw = wv.add(d);
        // Not `max ≥ |w|`: beyond the bound, or NaN (the compare is ordered).
        *bad = bad.max(V::select(V::splat(s.max).ge(nw.abs()), zero, one));
        nw.store(w);
        if s.velocity {
            d.store(m);
        }
    }
}

/// The scalars of one Adam step over weights (see [`adam_step_body`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamStep {
    /// Moment decays `β₁`, `β₂` and `ε`.
    pub(crate) beta1: f32,
    pub(crate) beta2: f32,
    pub(crate) eps: f32,
    /// Bias corrections `1 − β₁ᵗ`, `1 − β₂ᵗ`.
    pub(crate) c1: f32,
    pub(crate) c2: f32,
    /// Learning rate.
    pub(crate) lr: f32,
    /// L2 and L1 weight decay.
    pub(crate) l2: f32,
    pub(crate) l1: f32,
    /// Moments with `|x| <` this become 0 (no subnormal numbers).
    pub(crate) tiny: f32,
    /// Weights beyond `±max` (or NaN) are reported.
    pub(crate) max: f32,
}

/// One Adam step, element-wise over `n` weights `w` with first and second
/// moments `m`, `v` and gradients `g` (the ascent direction):
/// `a ← ((g − l2·w) − l1·sign w) + 0`, `m ← β₁m + (1 − β₁)a`,
/// `v ← β₂v + ((1 − β₂)a)·a` (each flushed to 0 below `tiny`),
/// `w ← w + (lr·(m/c1)) / (√(v/c2) + ε)`. One IEEE operation each, in this
/// order (square root and division are correctly rounded on every
/// instruction set), so every ISA gives the scalar loop's bits. Returns
/// whether any new weight is NaN or beyond `±max`.
///
/// # Safety
/// V's instruction set must be enabled; `w`, `m`, `v` valid for `n` reads
/// and writes, `g` for `n` reads, none aliasing another.
#[inline(always)]
pub(super) unsafe fn adam_step_body<V: FVec>(
    w: *mut f32,
    m: *mut f32,
    v: *mut f32,
    g: *const f32,
    n: usize,
    s: &AdamStep,
) -> bool {
    let l = V::LANES;
    // SAFETY: every access is within `n` elements (main loop) or within the
    // stack buffers (tail), as the caller guarantees.
    unsafe {
        let mut bad = V::splat(0.0);
        let mut i = 0;
        while i + l <= n {
            adam_step_vec::<V>(w.add(i), m.add(i), v.add(i), g.add(i), s, &mut bad);
            i += l;
        }
        if i < n {
            let rem = n - i;
            let mut buf = [[0.0f32; 16]; 4];
            for (k, p) in [w.cast_const(), m.cast_const(), v.cast_const(), g].into_iter().enumerate() {
                std::ptr::copy_nonoverlapping(p.add(i), buf[k].as_mut_ptr(), rem);
            }
            let [bw, bm, bv, bg] = &mut buf;
            adam_step_vec::<V>(bw.as_mut_ptr(), bm.as_mut_ptr(), bv.as_mut_ptr(), bg.as_ptr(), s, &mut bad);
            std::ptr::copy_nonoverlapping(bw.as_ptr(), w.add(i), rem);
            std::ptr::copy_nonoverlapping(bm.as_ptr(), m.add(i), rem);
            std::ptr::copy_nonoverlapping(bv.as_ptr(), v.add(i), rem);
        }
        bad.nonzero_bits() != 0
    }
}

/// [`adam_step_body`] on one vector; `bad` collects 1 in the lanes of a
/// weight out of bounds.
///
/// # Safety
/// As [`adam_step_body`] for `V::LANES` elements.
#[inline(always)]
unsafe fn adam_step_vec<V: FVec>(
    w: *mut f32,
    m: *mut f32,
    v: *mut f32,
    g: *const f32,
    s: &AdamStep,
    bad: &mut V,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let (zero, one, tiny) = (V::splat(0.0), V::splat(1.0), V::splat(s.tiny));
        let wv = V::load(w);
        let sign = V::select(zero.lt(wv), one, zero).sub(V::select(wv.lt(zero), one, zero));
        let a = V::load(g).sub(V::splat(s.l2).mul(wv)).sub(V::splat(s.l1).mul(sign)).add(zero);
        let mv = V::splat(s.beta1).mul(V::load(m)).add(V::splat(1.0 - s.beta1).mul(a));
        let mv = V::select(mv.abs().lt(tiny), zero, mv);
        let vv = V::splat(s.beta2).mul(V::load(v)).add(V::splat(1.0 - s.beta2).mul(a).mul(a));
        let vv = V::select(vv.abs().lt(tiny), zero, vv);
        let den = vv.div(V::splat(s.c2)).sqrt().add(V::splat(s.eps));
        let nw = wv.add(V::splat(s.lr).mul(mv.div(V::splat(s.c1))).div(den));
        // Not `max ≥ |w|`: beyond the bound, or NaN (the compare is ordered).
        *bad = bad.max(V::select(V::splat(s.max).ge(nw.abs()), zero, one));
        nw.store(w);
        mv.store(m);
        vv.store(v);
    }
}

/// What a Bernoulli kernel reads and writes.
pub(crate) mod mode {
    /// `x = pre + bias`, sample `u < σ(x)` (division-free test).
    pub(crate) const LOGITS: u8 = 0;
    /// As `LOGITS`, and also store `σ(x)` (flushed to 0 below x = −87, see
    /// `Flush`) to the `probs` output; the sample is `u < σ(x)` on that
    /// stored value.
    pub(crate) const LOGITS_WITH_PROBS: u8 = 1;
    /// `pre` holds probabilities `p` (bias unused): sample `u < p`.
    pub(crate) const PROBS: u8 = 2;
}

/// For each of `rows` rows of length `n`, with `x = pre[r][i] + bias[i]`:
/// `out[r][i] = 1.0 if u(bits[r][i]) < σ(x) else 0.0` (see [`mode`]), where
/// `bits` rows are `bits_stride` words apart.
///
/// # Safety
/// V's instruction set must be enabled; `pre`, `out` and (for
/// `LOGITS_WITH_PROBS`) `probs` valid for `rows·n` elements, `bias` for `n`
/// (unless `PROBS`), `bits` for `(rows−1)·bits_stride + n`. `out` may alias
/// `pre`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn bernoulli_body<V: FVec, const MODE: u8>(
    pre: *const f32,
    bias: *const f32,
    bits: *const u32,
    bits_stride: usize,
    probs: *mut f32,
    out: *mut f32,
    rows: usize,
    n: usize,
) {
    let l = V::LANES;
    let has_bias = MODE != mode::PROBS;
    // SAFETY: all accesses are in bounds as the caller guarantees, or in the
    // stack buffers for the tail.
    unsafe {
        for r in 0..rows {
            let (pre, bits, out) = (pre.add(r * n), bits.add(r * bits_stride), out.add(r * n));
            let probs = if MODE == mode::LOGITS_WITH_PROBS { probs.add(r * n) } else { probs };
            let mut i = 0;
            while i + l <= n {
                let b = if has_bias { V::load(bias.add(i)) } else { V::splat(0.0) };
                let (x, p) = bernoulli_one::<V, MODE>(V::load(pre.add(i)), b, V::load_uniform(bits.add(i)));
                x.store(out.add(i));
                if MODE == mode::LOGITS_WITH_PROBS {
                    p.store(probs.add(i));
                }
                i += l;
            }
            if i < n {
                let rem = n - i;
                let mut bp = [0.0f32; 16];
                let mut bb = [0.0f32; 16];
                let mut bu = [0u32; 16];
                std::ptr::copy_nonoverlapping(pre.add(i), bp.as_mut_ptr(), rem);
                if has_bias {
                    std::ptr::copy_nonoverlapping(bias.add(i), bb.as_mut_ptr(), rem);
                }
                std::ptr::copy_nonoverlapping(bits.add(i), bu.as_mut_ptr(), rem);
                let (x, p) = bernoulli_one::<V, MODE>(
                    V::load(bp.as_ptr()),
                    V::load(bb.as_ptr()),
                    V::load_uniform(bu.as_ptr()),
                );
                x.store(bp.as_mut_ptr());
                std::ptr::copy_nonoverlapping(bp.as_ptr(), out.add(i), rem);
                if MODE == mode::LOGITS_WITH_PROBS {
                    p.store(bb.as_mut_ptr());
                    std::ptr::copy_nonoverlapping(bb.as_ptr(), probs.add(i), rem);
                }
            }
        }
    }
}

/// One vector of Bernoulli samples (see [`mode`]): returns (sample,
/// probability); the probability only in `LOGITS_WITH_PROBS` mode.
///
/// # Safety
/// V's instruction set must be enabled.
#[inline(always)]
pub(super) unsafe fn bernoulli_one<V: FVec, const MODE: u8>(pre: V, bias: V, u: V) -> (V, V) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let (one, zero) = (V::splat(1.0), V::splat(0.0));
        match MODE {
            mode::LOGITS => {
                // u < σ(x) = 1/(1+s), s = exp(−x)  ⟺  u + u·s < 1. s = +inf
                // (x < −88.7) gives +inf, never true; NaN compares false.
                let s = exp_any(zero.sub(pre.add(bias)));
                let t = u.mul_add(s, u);
                (V::select(t.lt(one), one, zero), zero)
            }
            mode::LOGITS_WITH_PROBS => {
                let p = Flush::<Sigmoid>::apply(pre.add(bias));
                (V::select(u.lt(p), one, zero), p)
            }
            _ => (V::select(u.lt(pre), one, zero), zero),
        }
    }
}

/// One xoshiro256++ step on `LANES` independent generators held
/// structure-of-arrays in `s`; returns the outputs.
#[inline(always)]
pub(super) unsafe fn xoshiro_step<U: U64Vec>(s: &mut [U; 4]) -> U {
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
pub(super) unsafe fn xoshiro_fill_body<U: U64Vec>(states: &mut [[u64; 4]], words: usize, out: *mut u64) {
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

/// Normals per Box–Muller block: every ISA pairs the same words, so the
/// values agree across ISAs up to rounding.
pub(crate) const NORMAL_BLOCK: usize = 32;

/// Box–Muller on `blocks` blocks of [`NORMAL_BLOCK`] random words: in each
/// block, word `i < 16` gives the radius uniform `u₁` and word `16 + i` the
/// angle uniform `u₂` of pair `i` (uniforms as [`FVec::load_uniform`]);
/// `out[i] = r·cos θ`, `out[16 + i] = r·sin θ` with `r = √(−2 ln u₁)`,
/// `θ = 2π u₂`.
///
/// `ln u₁ = e·ln 2 + log1p(m − 1)` from `u₁ = m·2^e` (`u₁ ≥ 2⁻²⁴` is never
/// subnormal), the `log1p_unit` series; `θ` is reduced exactly to a
/// quarter turn `q ∈ {−2, …, 2}` plus `φ ∈ [−π/4, π/4]`, the Cephes
/// `sinf`/`cosf` polynomials on `φ`, rotated by `q` quarter turns. Largest
/// output: `√(2·24·ln 2) ≈ 5.77`.
///
/// # Safety
/// V's instruction set must be enabled; `bits` valid for `32·blocks`
/// reads, `out` for `32·blocks` writes.
#[inline(always)]
pub(super) unsafe fn normal_body<V: FVec>(bits: *const u32, out: *mut f32, blocks: usize) {
    const HALF: usize = NORMAL_BLOCK / 2;
    // SAFETY: V's ISA is enabled (caller); every access is within the
    // 32·blocks elements the caller guarantees.
    unsafe {
        let one = V::splat(1.0);
        for b in 0..blocks {
            let (src, dst) = (bits.add(b * NORMAL_BLOCK), out.add(b * NORMAL_BLOCK));
            let mut l = 0;
            while l < HALF {
                let u1 = V::load_uniform(src.add(l));
                let u2 = V::load_uniform(src.add(HALF + l));
                let (e, m) = u1.frexp_normal();
                let ln = e.mul_add(V::splat(std::f32::consts::LN_2), log1p_unit(m.sub(one)));
                let r = ln.mul(V::splat(-2.0)).sqrt();
                let t = u2.sub(u2.round());
                let q = t.mul(V::splat(4.0)).round();
                let phi = q.mul_add(V::splat(-0.25), t).mul(V::splat(std::f32::consts::TAU));
                let z = phi.mul(phi);
                let mut sp = V::splat(-1.951_529_6e-4);
                sp = sp.mul_add(z, V::splat(8.332_161e-3));
                sp = sp.mul_add(z, V::splat(-1.666_665_5e-1));
                let sin = sp.mul(z).mul_add(phi, phi);
                let mut cp = V::splat(2.443_315_7e-5);
                cp = cp.mul_add(z, V::splat(-1.388_731_6e-3));
                cp = cp.mul_add(z, V::splat(4.166_664_6e-2));
                let cos = cp.mul(z).mul(z).mul_add(one, V::splat(-0.5).mul_add(z, one));
                // cos/sin of q quarter turns, exact for q ∈ {−2, …, 2}:
                // (x − 1)(x − 6)/6 and q(4 − x)/3 with x = q².
                let x = q.mul(q);
                let cq = x.sub(one).mul(x.sub(V::splat(6.0))).mul(V::splat(1.0 / 6.0));
                let sq = q.mul(V::splat(4.0).sub(x)).mul(V::splat(1.0 / 3.0));
                let c = cq.mul(cos).sub(sq.mul(sin));
                let s = sq.mul(cos).add(cq.mul(sin));
                r.mul(c).store(dst.add(l));
                r.mul(s).store(dst.add(HALF + l));
                l += V::LANES;
            }
        }
    }
}
