//! The register-blocked dense product over packed weight panels, with the
//! Gibbs sampling epilogue fused: the generic body, instantiated per ISA in
//! `entry.rs` (AVX2+FMA and AVX-512 only; the scalar path keeps
//! matrixmultiply).
//!
//! `C = A · W` where `A` is row-major (`m × k`, row stride `lda`, read in
//! place: no packing of the states) and `W` is packed as the binary
//! products pack it ([`crate::kernels::PackedWeights`]): panels of
//! [`PANEL`] columns, each `k` rows of `PANEL` floats, the last panel
//! zero-padded. A tile of `R` rows × `NV` vectors accumulates in `R·NV`
//! registers over the whole `k`: per step, `NV` weight vectors are loaded
//! and each of the `R` elements of `A` is broadcast into `NV` FMAs. Then,
//! while the sums are still in registers, the tile is either stored, or
//! turned into Bernoulli samples `u < σ(sum + bias)` by the same arithmetic
//! as the separate sampling kernel (`bodies::bernoulli_body`), so the
//! pre-activations never go to memory.
//!
//! Each output is the sequential fused multiply-add sum
//! `fma(a[k−1], w[k−1], … fma(a[0], w[0], 0))`, whatever the tile shape,
//! the vector width, the row blocking or the column range: AVX2 and AVX-512
//! give the same bits, and so does any split of rows or columns over
//! threads.

#![allow(clippy::needless_range_loop)] // tile loops index register arrays by row and vector

use super::bodies::{PANEL, bernoulli_one, mode};
use super::vector::FVec;

/// What a tile writes (the `OUT` parameter).
pub(crate) mod out {
    /// The sums, to `out`.
    pub(crate) const STORE: u8 = 0;
    /// `1.0` where `u < σ(sum + bias)`, else `0.0`, to `out`.
    pub(crate) const SAMPLE: u8 = 1;
    /// As `SAMPLE`, and `σ(sum + bias)` to `probs` (the sample is drawn on
    /// that stored value, as `bodies::mode::LOGITS_WITH_PROBS`).
    pub(crate) const SAMPLE_PROBS: u8 = 2;
}

/// Pointers and sizes of one product (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tiles {
    /// Rows of `A` and of the outputs.
    pub(crate) m: usize,
    /// Shared dimension.
    pub(crate) k: usize,
    /// `A`, `m` rows of `k`, `lda` apart.
    pub(crate) a: *const f32,
    pub(crate) lda: usize,
    /// The packed panels (`n.div_ceil(PANEL)` of `k × PANEL`).
    pub(crate) panels: *const f32,
    /// Columns of the outputs.
    pub(crate) n: usize,
    /// The columns computed, `j0..j1` (`j0` a multiple of `PANEL`).
    pub(crate) j0: usize,
    pub(crate) j1: usize,
    /// Output rows `ldo` apart (column `j` at `out + r·ldo + j`); `probs`
    /// likewise (sampling with probabilities only).
    pub(crate) out: *mut f32,
    pub(crate) ldo: usize,
    pub(crate) probs: *mut f32,
    /// Sampling only: `n` biases, and the raw 32-bit uniforms of row `r`
    /// at `bits + r·bits_stride`.
    pub(crate) bias: *const f32,
    pub(crate) bits: *const u32,
    pub(crate) bits_stride: usize,
}

/// The whole product: rows in tiles of `MR` (then 4, 2, 1 for the last
/// rows), each tile against every column tile of `NV` vectors in turn (the
/// tile's rows of `A` stay in L1 while the panels stream by).
///
/// # Safety
/// V's instruction set must be enabled; `NV ≤ 2` and `NV·LANES` a multiple
/// or a divisor of `PANEL`; every pointer valid for the extents above
/// (`a` for `m` rows, `panels` for all panels, `out`/`probs` for `m` rows
/// of columns `j0..min(j1, n)`, `bias` for those columns, `bits` for `m`
/// rows of those columns); `j0 % PANEL == 0`.
#[inline(always)]
pub(super) unsafe fn dense_tiles_body<V: FVec, const MR: usize, const NV: usize, const OUT: u8>(t: &Tiles) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let mut r0 = 0;
        while r0 < t.m {
            let left = t.m - r0;
            r0 += if left >= MR {
                row_tile::<V, MR, NV, OUT>(t, r0)
            } else if left >= 4 {
                row_tile::<V, 4, NV, OUT>(t, r0)
            } else if left >= 2 {
                row_tile::<V, 2, NV, OUT>(t, r0)
            } else {
                row_tile::<V, 1, NV, OUT>(t, r0)
            };
        }
    }
}

/// Rows `r0..r0 + R` against every column tile; returns `R`.
///
/// # Safety
/// As [`dense_tiles_body`], with `r0 + R ≤ m`.
#[inline(always)]
unsafe fn row_tile<V: FVec, const R: usize, const NV: usize, const OUT: u8>(t: &Tiles, r0: usize) -> usize {
    let l = V::LANES;
    let end = t.j1.min(t.n);
    let mut j = t.j0;
    // SAFETY: forwarded; the vectors a tile reads lie inside allocated
    // panels (`j + v·LANES < n ≤` the padded width).
    unsafe {
        while j < end {
            if end - j > (NV - 1) * l {
                tile::<V, R, NV, OUT>(t, r0, j, end);
            } else {
                // Fewer vectors than a full tile are left (AVX-512 next to
                // an odd last panel): the same sums, one vector wide.
                tile::<V, R, 1, OUT>(t, r0, j, end);
            }
            j += NV * l;
        }
    }
    R
}

/// One tile: rows `r0..r0 + R`, columns `j..j + W·LANES` (those `< end`
/// written).
///
/// # Safety
/// As [`row_tile`].
#[inline(always)]
unsafe fn tile<V: FVec, const R: usize, const W: usize, const OUT: u8>(
    t: &Tiles,
    r0: usize,
    j: usize,
    end: usize,
) {
    let l = V::LANES;
    // SAFETY: see `dense_tiles_body`; loads stay inside the row of `A` and
    // the allocated panels.
    unsafe {
        let mut w = [t.panels; W];
        for (v, p) in w.iter_mut().enumerate() {
            let c = j + v * l;
            *p = t.panels.add((c / PANEL) * t.k * PANEL + c % PANEL);
        }
        let a = t.a.add(r0 * t.lda);
        let mut acc = [[V::splat(0.0); W]; R];
        for p in 0..t.k {
            let mut b = [V::splat(0.0); W];
            for v in 0..W {
                b[v] = V::load(w[v].add(p * PANEL));
            }
            for r in 0..R {
                let x = V::splat(*a.add(r * t.lda + p));
                for v in 0..W {
                    acc[r][v] = x.mul_add(b[v], acc[r][v]);
                }
            }
        }
        for r in 0..R {
            for v in 0..W {
                let c = j + v * l;
                if c < end {
                    epilogue::<V, OUT>(t, r0 + r, c, end - c, acc[r][v]);
                }
            }
        }
    }
}

/// Writes one vector of sums (row `r`, columns `c..c + min(LANES, valid)`)
/// as `OUT` says.
///
/// # Safety
/// As [`row_tile`], for row `r` and those columns.
#[inline(always)]
unsafe fn epilogue<V: FVec, const OUT: u8>(t: &Tiles, r: usize, c: usize, valid: usize, sum: V) {
    let l = V::LANES;
    // SAFETY: full vectors read and write inside the valid columns; a
    // partial one goes through stack buffers.
    unsafe {
        let o = t.out.add(r * t.ldo + c);
        if OUT == out::STORE {
            if valid >= l {
                sum.store(o);
            } else {
                let mut buf = [0.0f32; 16];
                sum.store(buf.as_mut_ptr());
                std::ptr::copy_nonoverlapping(buf.as_ptr(), o, valid);
            }
            return;
        }
        let bits = t.bits.add(r * t.bits_stride + c);
        let (x, p) = if valid >= l {
            sample::<V, OUT>(sum, V::load(t.bias.add(c)), V::load_uniform(bits))
        } else {
            let (mut bb, mut bu) = ([0.0f32; 16], [0u32; 16]);
            std::ptr::copy_nonoverlapping(t.bias.add(c), bb.as_mut_ptr(), valid);
            std::ptr::copy_nonoverlapping(bits, bu.as_mut_ptr(), valid);
            sample::<V, OUT>(sum, V::load(bb.as_ptr()), V::load_uniform(bu.as_ptr()))
        };
        if valid >= l {
            x.store(o);
            if OUT == out::SAMPLE_PROBS {
                p.store(t.probs.add(r * t.ldo + c));
            }
        } else {
            let mut buf = [0.0f32; 16];
            x.store(buf.as_mut_ptr());
            std::ptr::copy_nonoverlapping(buf.as_ptr(), o, valid);
            if OUT == out::SAMPLE_PROBS {
                p.store(buf.as_mut_ptr());
                std::ptr::copy_nonoverlapping(buf.as_ptr(), t.probs.add(r * t.ldo + c), valid);
            }
        }
    }
}

/// The sampling kernel's arithmetic on one vector.
///
/// # Safety
/// V's instruction set must be enabled.
#[inline(always)]
unsafe fn sample<V: FVec, const OUT: u8>(sum: V, bias: V, u: V) -> (V, V) {
    // SAFETY: forwarded.
    unsafe {
        if OUT == out::SAMPLE_PROBS {
            bernoulli_one::<V, { mode::LOGITS_WITH_PROBS }>(sum, bias, u)
        } else {
            bernoulli_one::<V, { mode::LOGITS }>(sum, bias, u)
        }
    }
}
