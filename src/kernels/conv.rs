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

/// The off-state and unit weights of one pooling block, stably:
/// `m = max(0, max ℓ)`, `e_off = exp(−m)`, `eᵢ = exp(ℓᵢ − m)`; returns
/// `(e_off, Z = e_off + Σ eᵢ)` and writes the `eᵢ` to `e` in raster order.
#[inline]
fn block_weights(logits: &[f32], s: &ConvShape, base: usize, e: &mut [f32]) -> (f32, f32) {
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let mut m = 0.0f32;
    for dy in 0..p {
        for dx in 0..p {
            let l = logits[base + (dy * wh + dx) * kk];
            m = if l > m { l } else { m };
        }
    }
    let e_off = (-m).exp();
    let mut z = e_off;
    for dy in 0..p {
        for dx in 0..p {
            let ei = (logits[base + (dy * wh + dx) * kk] - m).exp();
            e[dy * p + dx] = ei;
            z += ei;
        }
    }
    (e_off, z)
}

/// Iterates the pooling blocks: `(block index b = (py·Wp + px)·K + k,
/// index of the block's first detection unit)`.
fn blocks(s: &ConvShape) -> impl Iterator<Item = (usize, usize)> + '_ {
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let (hp, wp) = (s.hidden_height() / p, wh / p);
    (0..hp).flat_map(move |py| {
        (0..wp).flat_map(move |px| {
            (0..kk).map(move |k| (((py * wp + px) * kk + k), ((py * p * wh + px * p) * kk + k)))
        })
    })
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
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let mut e = vec![0.0f32; p * p];
    for (b, base) in blocks(s) {
        let (e_off, z) = block_weights(logits, s, base, &mut e);
        if want_h {
            for dy in 0..p {
                for dx in 0..p {
                    probs[base + (dy * wh + dx) * kk] = e[dy * p + dx] / z;
                }
            }
        }
        if want_p {
            pooled[b] = 1.0 - e_off / z;
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
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let mut e = vec![0.0f32; p * p];
    for (b, base) in blocks(s) {
        let (e_off, z) = block_weights(logits, s, base, &mut e);
        let target = u[b] * z;
        let mut acc = e_off;
        let mut chosen = usize::MAX;
        if target >= acc {
            for (i, &ei) in e.iter().enumerate() {
                acc += ei;
                if target < acc {
                    chosen = i;
                    break;
                }
            }
            if chosen == usize::MAX {
                // u·Z rounded to the top of the last interval: the last unit
                // with non-zero weight.
                chosen = e.iter().rposition(|&x| x > 0.0).unwrap_or(usize::MAX);
            }
        }
        for dy in 0..p {
            for dx in 0..p {
                let i = dy * p + dx;
                let at = base + (dy * wh + dx) * kk;
                h[at] = if i == chosen { 1.0 } else { 0.0 };
                if want_p {
                    probs[at] = e[i] / z;
                }
            }
        }
        pooled[b] = if chosen == usize::MAX { 0.0 } else { 1.0 };
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
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let mut total = 0.0f64;
    for (_, base) in blocks(s) {
        let mut m = 0.0f64;
        for dy in 0..p {
            for dx in 0..p {
                m = m.max(logits[base + (dy * wh + dx) * kk] as f64);
            }
        }
        let mut z = (-m).exp();
        for dy in 0..p {
            for dx in 0..p {
                z += (logits[base + (dy * wh + dx) * kk] as f64 - m).exp();
            }
        }
        total += m + z.ln();
    }
    Ok(total)
}
