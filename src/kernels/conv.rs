//! Convolution and probabilistic max-pooling kernels for convolutional RBMs,
//! one image at a time (callers run images in parallel, so every result is
//! the same for any thread count).
//!
//! Layouts, all row-major and channel-last ("NHWC" without the N):
//! * visible image `Hv × Wv × C`: `v[(y·Wv + x)·C + c]`;
//! * filters `r × r × C × K`: `w[((a·r + b)·C + c)·K + k]`, i.e. a
//!   `(r·r·C) × K` matrix whose row `q = (a·r + b)·C + c` is one filter tap;
//! * detection maps `Hh × Wh × K` (`Hh = Hv − r + 1`, valid correlation):
//!   `h[(y·Wh + x)·K + k]`;
//! * pooled units `Hp × Wp × K` (`Hp = Hh / P`): block `(py, px)` of filter
//!   `k` holds the detection units `y ∈ [py·P, py·P + P)`,
//!   `x ∈ [px·P, px·P + P)`.
//!
//! With the channel last, one im2col row is `r` contiguous runs of `r·C`
//! pixels, and the transposed filter row of one (position, filter) pair is
//! added to the image as `r` contiguous runs too (the binary path below).
//!
//! Products: `v → h` is im2col + one matrix product (`(Hh·Wh) × (r²C)` by
//! `(r²C) × K`); `h → v` for *binary* detection maps (what Gibbs sampling
//! produces, at most one unit per pooling block on) adds the filter of each
//! active unit, which costs `nnz · r²C` instead of `Hh·Wh·K·r²C`; for real
//! maps (probabilities) a product followed by col2im. Naive twins are in
//! [`crate::reference`] and compared in `tests/conv.rs`.

use crate::error::{Error, Result};
use crate::kernels::check_len;

/// The geometry of a convolutional RBM layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvShape {
    /// Image height `Hv`.
    pub height: usize,
    /// Image width `Wv`.
    pub width: usize,
    /// Channels `C`.
    pub channels: usize,
    /// Filters (detection maps) `K`.
    pub filters: usize,
    /// Filter side `r` (filters are `r × r × C`).
    pub filter_size: usize,
    /// Pooling block side `P` (`P = 1`: no pooling constraint).
    pub pool: usize,
}

/// Largest image side, filter side and filter count accepted: far above any
/// use, low enough that no product of them overflows.
const MAX_SIDE: usize = 1 << 14;

/// Largest buffer (image, im2col, detection maps, filters) in elements.
const MAX_ELEMS: usize = 1 << 40;

impl ConvShape {
    /// Checks the geometry: every size ≥ 1, `r ≤ min(Hv, Wv)`, and the
    /// detection maps tile exactly into `P × P` blocks.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the problem.
    pub fn check(&self) -> Result<()> {
        let s = self;
        let bad = |reason: String| Err(Error::InvalidParam { name: "convolution shape", reason });
        if [s.height, s.width, s.channels, s.filters, s.filter_size, s.pool].contains(&0) {
            return bad(format!("{s}: every size must be ≥ 1"));
        }
        if [s.height, s.width, s.channels, s.filters, s.filter_size].iter().any(|&x| x > MAX_SIDE) {
            return bad(format!("{s}: sizes above {MAX_SIDE}"));
        }
        if s.filter_size > s.height || s.filter_size > s.width {
            return bad(format!("{s}: the filter is larger than the image"));
        }
        // Every buffer size the kernels use (the im2col buffer is the
        // largest) must be a number of elements far from overflow.
        let elems = [s.height, s.width, s.channels]
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .zip(s.filter_size.checked_mul(s.filter_size).and_then(|r2| r2.checked_mul(s.channels)))
            .and_then(|(img, taps)| {
                let pos = (s.height + 1 - s.filter_size).checked_mul(s.width + 1 - s.filter_size)?;
                [img, pos.checked_mul(taps)?, pos.checked_mul(s.filters)?, taps.checked_mul(s.filters)?]
                    .into_iter()
                    .max()
            });
        if elems.is_none_or(|n| n > MAX_ELEMS) {
            return bad(format!("{s}: its buffers would exceed 2^40 elements"));
        }
        let (hh, wh) = (s.hidden_height(), s.hidden_width());
        if !hh.is_multiple_of(s.pool) || !wh.is_multiple_of(s.pool) {
            return bad(format!(
                "{s}: the {hh} × {wh} detection maps do not tile into {p} × {p} pooling blocks \
                 (need image side − filter side + 1 divisible by the pool side)",
                p = s.pool
            ));
        }
        Ok(())
    }

    /// Detection-map height `Hv − r + 1`.
    pub fn hidden_height(&self) -> usize {
        self.height + 1 - self.filter_size
    }

    /// Detection-map width `Wv − r + 1`.
    pub fn hidden_width(&self) -> usize {
        self.width + 1 - self.filter_size
    }

    /// Visible units per image `Hv·Wv·C`.
    pub fn n_visible(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Detection positions per map `Hh·Wh`.
    pub fn positions(&self) -> usize {
        self.hidden_height() * self.hidden_width()
    }

    /// Detection units per image `Hh·Wh·K`.
    pub fn n_hidden(&self) -> usize {
        self.positions() * self.filters
    }

    /// Pooling blocks per map `(Hh/P)·(Wh/P)`.
    pub fn blocks(&self) -> usize {
        (self.hidden_height() / self.pool) * (self.hidden_width() / self.pool)
    }

    /// Pooling units per image `(Hh/P)·(Wh/P)·K`.
    pub fn n_pooled(&self) -> usize {
        self.blocks() * self.filters
    }

    /// Filter taps `r·r·C` (rows of the filter matrix).
    pub fn taps(&self) -> usize {
        self.filter_size * self.filter_size * self.channels
    }

    /// Filter weights `r·r·C·K`.
    pub fn n_weights(&self) -> usize {
        self.taps() * self.filters
    }
}

impl std::fmt::Display for ConvShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self;
        write!(
            f,
            "{}×{}×{} image, {} filters of {}×{}, pool {}",
            s.height, s.width, s.channels, s.filters, s.filter_size, s.filter_size, s.pool
        )
    }
}

/// im2col: `cols[p·r²C + q] = v[(y+a, x+b, c)]` for position `p = y·Wh + x`
/// and tap `q = (a·r + b)·C + c`.
///
/// # Errors
/// [`Error::ShapeMismatch`] for wrong lengths.
pub fn im2col(s: &ConvShape, v: &[f32], cols: &mut [f32]) -> Result<()> {
    check_len("image", s.n_visible(), v.len())?;
    check_len("im2col buffer", s.positions() * s.taps(), cols.len())?;
    im2col_raw(s, v, cols);
    Ok(())
}

fn im2col_raw(s: &ConvShape, v: &[f32], cols: &mut [f32]) {
    let (r, c, wv, wh) = (s.filter_size, s.channels, s.width, s.hidden_width());
    let run = r * c;
    for (p, row) in cols.chunks_exact_mut(s.taps()).enumerate() {
        let (y, x) = (p / wh, p % wh);
        for (a, dst) in row.chunks_exact_mut(run).enumerate() {
            let start = ((y + a) * wv + x) * c;
            dst.copy_from_slice(&v[start..start + run]);
        }
    }
}

/// `C = A·B + beta·C` for `A` `m × k` (strides `rsa`, `csa`), `B` row-major
/// `k × n`, `beta` ∈ {0, 1}.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    debug_assert!(c.len() >= m * n && b.len() >= k * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: callers pass `a` with `m × k` elements addressed by the strides
    // (checked by their length checks), `b` with `k × n`, `c` with `m × n`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            n as isize,
            1,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// The detection pre-activations of one image, without bias:
/// `out[p·K + k] = Σ_q cols[p][q]·w[q·K + k]` (valid cross-correlation of the
/// image with each filter). `cols` is scratch of `positions × taps`.
///
/// # Errors
/// [`Error::ShapeMismatch`] for wrong lengths.
pub fn correlate(s: &ConvShape, v: &[f32], w: &[f32], cols: &mut [f32], out: &mut [f32]) -> Result<()> {
    check_len("filters", s.n_weights(), w.len())?;
    check_len("detection maps", s.n_hidden(), out.len())?;
    im2col(s, v, cols)?;
    sgemm(s.positions(), s.taps(), s.filters, cols, s.taps(), 1, w, 0.0, out);
    Ok(())
}

/// The visible pre-activations from *binary* detection maps, without bias:
/// `out[(y+a, x+b, c)] = Σ_{k, (y,x) on} w[(a·r+b)·C + c][k]`, i.e. the full
/// convolution, computed by adding the filter of every unit that is on
/// (`h ≠ 0`; its value is not read) in the order position, filter, tap.
/// `wt` is the filter matrix transposed, `K × r²C`.
///
/// # Errors
/// [`Error::ShapeMismatch`] for wrong lengths.
pub fn convolve_binary(s: &ConvShape, h: &[f32], wt: &[f32], out: &mut [f32]) -> Result<()> {
    check_len("detection maps", s.n_hidden(), h.len())?;
    check_len("transposed filters", s.n_weights(), wt.len())?;
    check_len("image", s.n_visible(), out.len())?;
    convolve_binary_raw(s, h, wt, out);
    Ok(())
}

fn convolve_binary_raw(s: &ConvShape, h: &[f32], wt: &[f32], out: &mut [f32]) {
    let (r, c, wv, wh, kk, taps) =
        (s.filter_size, s.channels, s.width, s.hidden_width(), s.filters, s.taps());
    let run = r * c;
    out.fill(0.0);
    for (p, units) in h.chunks_exact(kk).enumerate() {
        let (y, x) = (p / wh, p % wh);
        for (k, &on) in units.iter().enumerate() {
            if on == 0.0 {
                continue;
            }
            let filter = &wt[k * taps..(k + 1) * taps];
            for (a, src) in filter.chunks_exact(run).enumerate() {
                let start = ((y + a) * wv + x) * c;
                for (o, &wq) in out[start..start + run].iter_mut().zip(src) {
                    *o += wq;
                }
            }
        }
    }
}

/// The visible pre-activations from real-valued detection maps (e.g.
/// probabilities), without bias: `cols = h·wᵀ` (`positions × taps`), then
/// col2im adds `cols[p][q]` into pixel `(y+a, x+b, c)` in the order
/// position, tap. `cols` is scratch.
///
/// # Errors
/// [`Error::ShapeMismatch`] for wrong lengths.
pub fn convolve_dense(s: &ConvShape, h: &[f32], w: &[f32], cols: &mut [f32], out: &mut [f32]) -> Result<()> {
    check_len("detection maps", s.n_hidden(), h.len())?;
    check_len("filters", s.n_weights(), w.len())?;
    check_len("im2col buffer", s.positions() * s.taps(), cols.len())?;
    check_len("image", s.n_visible(), out.len())?;
    let (taps, kk) = (s.taps(), s.filters);
    // cols = h (positions × K) · wᵀ (K × taps): B = wᵀ read through strides.
    // SAFETY: `h` holds positions × K, `w` taps × K, `cols` positions × taps
    // (all checked above).
    unsafe {
        matrixmultiply::sgemm(
            s.positions(),
            kk,
            taps,
            1.0,
            h.as_ptr(),
            kk as isize,
            1,
            w.as_ptr(),
            1,
            kk as isize,
            0.0,
            cols.as_mut_ptr(),
            taps as isize,
            1,
        );
    }
    let (r, c, wv, wh) = (s.filter_size, s.channels, s.width, s.hidden_width());
    let run = r * c;
    out.fill(0.0);
    for (p, row) in cols.chunks_exact(taps).enumerate() {
        let (y, x) = (p / wh, p % wh);
        for (a, src) in row.chunks_exact(run).enumerate() {
            let start = ((y + a) * wv + x) * c;
            for (o, &v) in out[start..start + run].iter_mut().zip(src) {
                *o += v;
            }
        }
    }
    Ok(())
}

/// Adds one image's filter statistics `colsᵀ·h` (`taps × K`) to `acc`:
/// `acc[q·K + k] += Σ_p cols[p][q]·h[p·K + k]`, with `cols` the image's
/// im2col (from [`im2col`]).
///
/// # Errors
/// [`Error::ShapeMismatch`] for wrong lengths.
pub fn add_filter_stats(s: &ConvShape, cols: &[f32], h: &[f32], acc: &mut [f32]) -> Result<()> {
    check_len("im2col buffer", s.positions() * s.taps(), cols.len())?;
    check_len("detection maps", s.n_hidden(), h.len())?;
    check_len("filter statistics", s.n_weights(), acc.len())?;
    let taps = s.taps();
    // Aᵀ with A = cols (positions × taps): row stride 1, column stride taps.
    sgemm(taps, s.positions(), s.filters, cols, 1, taps, h, 1.0, acc);
    Ok(())
}

/// The weights of every pooling block, stably and vectorized: per block
/// `m = max(0, max ℓ)`, the unit weights `e[i] = exp(ℓᵢ − m)` (in place of
/// the logits' layout) and the off-state weights `e_off[b] = exp(−m)`. The
/// exponentials run on the SIMD path (`ExpFlush`: arguments below −87 give
/// 0), one pass over all units; the rest is comparisons and subtractions.
fn block_weights(s: &ConvShape, logits: &[f32], e: &mut Vec<f32>, e_off: &mut Vec<f32>) {
    block_weights_on(crate::simd::active_isa(), s, logits, e, e_off)
}

fn block_weights_on(isa: crate::Isa, s: &ConvShape, logits: &[f32], e: &mut Vec<f32>, e_off: &mut Vec<f32>) {
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let wp = wh / p;
    e_off.clear();
    e_off.resize(s.n_pooled(), 0.0);
    let m = e_off;
    for (pos, l) in logits.chunks_exact(kk).enumerate() {
        let (y, x) = (pos / wh, pos % wh);
        let mb = &mut m[((y / p) * wp + x / p) * kk..][..kk];
        for (mv, &lv) in mb.iter_mut().zip(l) {
            *mv = if lv > *mv { lv } else { *mv };
        }
    }
    e.clear();
    e.extend_from_slice(logits);
    for (pos, ev) in e.chunks_exact_mut(kk).enumerate() {
        let (y, x) = (pos / wh, pos % wh);
        let mb = &m[((y / p) * wp + x / p) * kk..][..kk];
        for (v, &mv) in ev.iter_mut().zip(mb) {
            *v -= mv;
        }
    }
    crate::simd::unary_in_place::<crate::simd::ExpFlush>(isa, e, None);
    m.iter_mut().for_each(|v| *v = -*v);
    crate::simd::unary_in_place::<crate::simd::ExpFlush>(isa, m, None);
}

/// For pooled position `bp = py·Wp + px`, the first indices of the `P²`
/// rows of `K` detection units of its blocks, in raster order:
/// `rows[dy·P + dx] = ((py·P + dy)·Wh + px·P + dx)·K`.
pub(crate) fn block_rows(s: &ConvShape, bp: usize, rows: &mut [usize]) {
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let wp = wh / p;
    let (py, px) = (bp / wp, bp % wp);
    for (i, r) in rows.iter_mut().enumerate() {
        *r = ((py * p + i / p) * wh + px * p + i % p) * kk;
    }
}

fn check_pool(s: &ConvShape, logits: &[f32]) -> Result<()> {
    check_len("detection logits", s.n_hidden(), logits.len())?;
    if let Some(index) = logits.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { what: "detection logits", index });
    }
    Ok(())
}

/// Probabilistic max-pooling (Lee et al. 2009, eq. 2–3) from detection
/// logits `ℓ = bias + W̃ * v`: each `P × P` block plus an "off" state is one
/// multinomial, `p(h = 1) = e^ℓ / (1 + Σ_block e^ℓ)`,
/// `p(pool = 0) = 1 / (1 + Σ_block e^ℓ)`. Writes the unit probabilities to
/// `probs` and the pooling-unit probabilities to `pooled` (either may be
/// empty to skip it).
///
/// # Errors
/// [`Error::ShapeMismatch`] for wrong lengths, [`Error::NonFinite`] for
/// logits that are NaN or infinite.
pub fn max_pool_probs(s: &ConvShape, logits: &[f32], probs: &mut [f32], pooled: &mut [f32]) -> Result<()> {
    check_pool(s, logits)?;
    let (want_h, want_p) = (!probs.is_empty(), !pooled.is_empty());
    if want_h {
        check_len("detection probabilities", s.n_hidden(), probs.len())?;
    }
    if want_p {
        check_len("pooling probabilities", s.n_pooled(), pooled.len())?;
    }
    let (mut e, mut e_off) = (Vec::new(), Vec::new());
    block_weights(s, logits, &mut e, &mut e_off);
    let kk = s.filters;
    let mut z = vec![0.0f32; kk];
    // Blocks of all K filters at one pooled position at a time: the K
    // values of a unit are contiguous, so the loops over k vectorize.
    let mut rows = vec![0usize; s.pool * s.pool];
    for bp in 0..s.blocks() {
        block_rows(s, bp, &mut rows);
        let off = &e_off[bp * kk..(bp + 1) * kk];
        z.copy_from_slice(off);
        for &r in &rows {
            z.iter_mut().zip(&e[r..r + kk]).for_each(|(z, &x)| *z += x);
        }
        if want_h {
            for &r in &rows {
                probs[r..r + kk].iter_mut().zip(&e[r..r + kk]).zip(&z).for_each(|((p, &x), &z)| *p = x / z);
            }
        }
        if want_p {
            pooled[bp * kk..(bp + 1) * kk]
                .iter_mut()
                .zip(off)
                .zip(&z)
                .for_each(|((p, &o), &z)| *p = 1.0 - o / z);
        }
    }
    Ok(())
}

/// Samples probabilistic max-pooling: one uniform `u[b]` per block picks the
/// off state if `u·Z < e_off`, otherwise the first unit (raster order) whose
/// cumulative weight exceeds `u·Z` — so at most one unit per block is on.
/// Writes 0/1 to `h` (detection) and `pooled`, and the unit probabilities to
/// `probs` when it is not empty.
///
/// # Errors
/// As [`max_pool_probs`]; also for `u` not one per block.
pub fn sample_max_pool(
    s: &ConvShape,
    logits: &[f32],
    u: &[f32],
    h: &mut [f32],
    pooled: &mut [f32],
    probs: &mut [f32],
) -> Result<()> {
    check_pool(s, logits)?;
    check_len("uniforms (one per block)", s.n_pooled(), u.len())?;
    check_len("detection states", s.n_hidden(), h.len())?;
    check_len("pooling states", s.n_pooled(), pooled.len())?;
    let want_p = !probs.is_empty();
    if want_p {
        check_len("detection probabilities", s.n_hidden(), probs.len())?;
    }
    let (mut e, mut e_off) = (Vec::new(), Vec::new());
    block_weights(s, logits, &mut e, &mut e_off);
    let kk = s.filters;
    let (mut z, mut target, mut acc) = (vec![0.0f32; kk], vec![0.0f32; kk], vec![0.0f32; kk]);
    // `chosen[k]`: OFF for the off state, UNSET while searching, else the
    // unit's position in the block (raster order).
    const OFF: u32 = u32::MAX;
    const UNSET: u32 = u32::MAX - 1;
    let mut chosen = vec![UNSET; kk];
    let mut rows = vec![0usize; s.pool * s.pool];
    for bp in 0..s.blocks() {
        block_rows(s, bp, &mut rows);
        let b0 = bp * kk;
        let off = &e_off[b0..b0 + kk];
        z.copy_from_slice(off);
        for &r in &rows {
            z.iter_mut().zip(&e[r..r + kk]).for_each(|(z, &x)| *z += x);
        }
        for k in 0..kk {
            target[k] = u[b0 + k] * z[k];
            acc[k] = off[k];
            chosen[k] = if target[k] < acc[k] { OFF } else { UNSET };
        }
        for (i, &r) in rows.iter().enumerate() {
            for k in 0..kk {
                acc[k] += e[r + k];
                if chosen[k] == UNSET && target[k] < acc[k] {
                    chosen[k] = i as u32;
                }
            }
        }
        for k in 0..kk {
            if chosen[k] == UNSET {
                // u·Z rounded to the top of the last interval: the last unit
                // with non-zero weight (off if there is none).
                chosen[k] = rows.iter().rposition(|&r| e[r + k] > 0.0).map_or(OFF, |i| i as u32);
            }
            pooled[b0 + k] = if chosen[k] == OFF { 0.0 } else { 1.0 };
        }
        for (i, &r) in rows.iter().enumerate() {
            for k in 0..kk {
                h[r + k] = if chosen[k] == i as u32 { 1.0 } else { 0.0 };
            }
            if want_p {
                probs[r..r + kk].iter_mut().zip(&e[r..r + kk]).zip(&z).for_each(|((p, &x), &z)| *p = x / z);
            }
        }
    }
    Ok(())
}

/// Probabilistic max-pooling given the pooling units as well: a block whose
/// pooling unit is off (`pooled = 0`) has every detection unit off; one
/// whose pooling unit is on (`pooled = 1`) has exactly one unit on, unit `i`
/// with probability `e^ℓᵢ / Σ_j e^ℓⱼ` (the off state excluded) — the
/// conditional `p(h | v, pooled)`. One uniform `u[b]` per block picks the
/// first unit (raster order) whose cumulative weight exceeds `u·Z`; where
/// every weight of an on block underflows, the unit of the largest logit.
/// This is the down pass of a convolutional DBN: the layer above fixes the
/// pooling units, the layer's own Gibbs steps fill in the rest.
///
/// # Errors
/// As [`sample_max_pool`]; [`Error::InvalidParam`] for a pooling state
/// other than 0 or 1.
pub fn sample_max_pool_clamped(
    s: &ConvShape,
    logits: &[f32],
    pooled: &[f32],
    u: &[f32],
    h: &mut [f32],
) -> Result<()> {
    check_pool(s, logits)?;
    check_len("uniforms (one per block)", s.n_pooled(), u.len())?;
    check_len("detection states", s.n_hidden(), h.len())?;
    check_len("pooling states", s.n_pooled(), pooled.len())?;
    if let Some(i) = pooled.iter().position(|&x| x != 0.0 && x != 1.0) {
        return Err(Error::InvalidParam {
            name: "pooled",
            reason: format!("pooling state {} at index {i} is not 0 or 1", pooled[i]),
        });
    }
    let (mut e, mut e_off) = (Vec::new(), Vec::new());
    block_weights(s, logits, &mut e, &mut e_off);
    let kk = s.filters;
    let mut rows = vec![0usize; s.pool * s.pool];
    for bp in 0..s.blocks() {
        block_rows(s, bp, &mut rows);
        for k in 0..kk {
            let b = bp * kk + k;
            let chosen = if pooled[b] == 0.0 {
                None
            } else {
                let z: f32 = rows.iter().map(|&r| e[r + k]).sum();
                let target = u[b] * z;
                let mut acc = 0.0f32;
                let hit = rows.iter().position(|&r| {
                    acc += e[r + k];
                    target < acc
                });
                // u·Z rounded to the top of the last interval: the last
                // unit with non-zero weight; if every weight underflowed,
                // the unit of the largest logit.
                hit.or_else(|| rows.iter().rposition(|&r| e[r + k] > 0.0)).or_else(|| {
                    (0..rows.len()).max_by(|&i, &j| logits[rows[i] + k].total_cmp(&logits[rows[j] + k]))
                })
            };
            for (i, &r) in rows.iter().enumerate() {
                h[r + k] = if chosen == Some(i) { 1.0 } else { 0.0 };
            }
        }
    }
    Ok(())
}

/// `Σ_blocks log(1 + Σ_block e^ℓ)` in f64, stably: the detection part of
/// the free energy (`F(v) = −Σ c·v − this`).
///
/// # Errors
/// As [`max_pool_probs`].
pub fn pool_log_partition(s: &ConvShape, logits: &[f32]) -> Result<f64> {
    check_pool(s, logits)?;
    let mut total = 0.0f64;
    let mut rows = vec![0usize; s.pool * s.pool];
    for bp in 0..s.blocks() {
        block_rows(s, bp, &mut rows);
        for k in 0..s.filters {
            let m = rows.iter().fold(0.0f64, |m, &r| m.max(logits[r + k] as f64));
            let z = rows.iter().fold((-m).exp(), |z, &r| z + (logits[r + k] as f64 - m).exp());
            total += m + z.ln();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block weights of every ISA match an f64 computation (the
    /// vectorized `exp` is accurate to a few ulp; arguments under −87 give 0).
    #[test]
    fn block_weights_match_f64_on_every_isa() {
        let s = ConvShape { height: 9, width: 11, channels: 1, filters: 5, filter_size: 2, pool: 2 };
        let logits: Vec<f32> = (0..s.n_hidden()).map(|i| ((i * 7919) % 2001) as f32 * 0.1 - 100.0).collect();
        let kk = s.filters;
        for isa in crate::Isa::available() {
            let (mut e, mut off) = (Vec::new(), Vec::new());
            block_weights_on(isa, &s, &logits, &mut e, &mut off);
            let mut rows = vec![0usize; s.pool * s.pool];
            for bp in 0..s.blocks() {
                block_rows(&s, bp, &mut rows);
                for k in 0..kk {
                    let m = rows.iter().fold(0.0f64, |m, &r| m.max(logits[r + k] as f64));
                    let want_off = (-m).exp();
                    let got = off[bp * kk + k] as f64;
                    // A few ulp of exp, plus the f32 rounding of the argument
                    // ℓ − m (relative error |ℓ − m|·2⁻²⁴ in the result).
                    let close = |g: f64, w: f64, arg: f64| {
                        (g - w).abs()
                            <= (4e-7 + arg.abs() * 1.2e-7) * w + if w < 1.7e-38 { 1.7e-38 } else { 0.0 }
                    };
                    assert!(close(got, want_off, m), "{isa}: off {got} vs {want_off}");
                    for &r in &rows {
                        let arg = logits[r + k] as f64 - m;
                        let w = arg.exp();
                        assert!(close(e[r + k] as f64, w, arg), "{isa}: {} vs {w}", e[r + k]);
                    }
                }
            }
        }
    }
}
