//! What parallel tempering does the same way on f32 and on bit-packed
//! states: the ladder and its swap statistics ([`Exchange`]), one Gibbs
//! sweep of a block of replica rows at their temperatures
//! ([`sweep_rows`]), and the swap round over rows of any element type
//! ([`Exchange::swap_round`]). [`super::Tempering`] and
//! [`super::PackedTemperedChains`] own the states and call these, so both
//! draw the same numbers from the same streams and give the same bits.

use super::gibbs;
use super::tempering::check_ladder;
use crate::error::{Error, Result};
use crate::kernels::gemm::{BinaryScratch, HalfStepProducts};
use crate::model::Rbm;
use crate::rng::{self, StreamState};
use crate::simd::Isa;
use rand_core::Rng;
use rayon::prelude::*;
use std::marker::PhantomData;

/// The ladder, the base model, each row's energy difference and walker,
/// and the swap and round-trip counters.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Exchange {
    /// Chains per temperature.
    pub(super) n: usize,
    pub(super) betas: Vec<f32>,
    pub(super) base: Vec<f32>,
    /// `D = E(v,h) − E_A(v)` per row.
    pub(super) diff: Vec<f64>,
    /// Walker at each row, and each walker's direction (+1 going up to β=1
    /// after last touching the bottom, −1 going down, 0 not yet at an end)
    /// and the sweep of its last visit to the bottom.
    walker: Vec<u32>,
    direction: Vec<i8>,
    left_bottom: Vec<u64>,
    accepted: Vec<u64>,
    attempted: Vec<u64>,
    trips: u64,
    trip_sweeps: u64,
}

/// The per-replica biases of one sweep and the f64 terms of the energies.
pub(super) struct Terms {
    /// Chains per temperature, the ladder and `D`.
    n: usize,
    betas: Vec<f32>,
    d: usize,
    /// Per replica: visible biases `(1−β)b_A + βb` (`K × D`).
    vbias: Vec<f32>,
    /// Per replica: hidden biases `βc` (`K × H`).
    hbias: Vec<f32>,
    /// `b − b_A` and `c` in f64.
    bdiff: Vec<f64>,
    c64: Vec<f64>,
}

impl Exchange {
    /// `n` chains per temperature of `betas` (checked), `d` visible units.
    pub(super) fn new(n: usize, betas: Vec<f32>, d: usize) -> Result<Exchange> {
        check_ladder(&betas)?;
        let k = betas.len();
        let total = n.checked_mul(k).ok_or_else(|| Error::InvalidParam {
            name: "chains",
            reason: "too many chains × replicas".into(),
        })?;
        Ok(Exchange {
            n,
            base: vec![0.0; d],
            diff: vec![0.0; total],
            walker: (0..total as u32).collect(),
            direction: (0..total).map(|i| if i < n { 1 } else { 0 }).collect(),
            left_bottom: vec![0; total],
            accepted: vec![0; k - 1],
            attempted: vec![0; k - 1],
            trips: 0,
            trip_sweeps: 0,
            betas,
        })
    }

    /// See [`super::Tempering::set_base`].
    pub(super) fn set_base(&mut self, base_bias: &[f32]) -> Result<()> {
        if base_bias.len() != self.base.len() {
            return Err(Error::ShapeMismatch {
                what: "base biases (n_visible)",
                expected: self.base.len(),
                got: base_bias.len(),
            });
        }
        if base_bias.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidParam { name: "base_bias", reason: "must be finite".into() });
        }
        self.base.copy_from_slice(base_bias);
        Ok(())
    }

    pub(super) fn swap_rates(&self) -> Vec<f64> {
        self.accepted.iter().zip(&self.attempted).map(|(&a, &t)| a as f64 / t as f64).collect()
    }

    pub(super) fn round_trips(&self) -> (u64, f64) {
        (self.trips, self.trip_sweeps as f64 / self.trips as f64)
    }

    /// See [`super::Tempering::adapt_ladder`].
    pub(super) fn adapt_ladder(&mut self, step: f64) -> Result<bool> {
        if !(step > 0.0 && step <= 1.0) {
            return Err(Error::InvalidParam {
                name: "step",
                reason: format!("must be in (0, 1], got {step}"),
            });
        }
        if self.attempted.iter().any(|&t| t < 20) {
            return Ok(false);
        }
        let k = self.betas.len();
        let ln: Vec<f64> = self.betas.iter().map(|&b| (b as f64).ln()).collect();
        let span = ln[k - 1] - ln[0];
        let mut gaps: Vec<f64> = (0..k - 1)
            .map(|r| {
                let a = (self.accepted[r] as f64 + 0.5) / (self.attempted[r] as f64 + 1.0);
                let rho = (-a.ln()).max(1e-3);
                (ln[r + 1] - ln[r]) * rho.powf(-0.5 * step)
            })
            .collect();
        let total: f64 = gaps.iter().sum();
        gaps.iter_mut().for_each(|g| *g *= span / total);
        let mut betas = self.betas.clone();
        let mut x = 0.0f64; // ln β of the top, 1
        for r in (1..k - 1).rev() {
            x -= gaps[r];
            betas[r] = x.exp() as f32;
        }
        // Rounding to f32 must not break the order; otherwise keep the old
        // ladder.
        if check_ladder(&betas).is_err() {
            return Ok(false);
        }
        // The energy differences are unscaled by β, so they stay valid for
        // the new ladder.
        self.betas = betas;
        Ok(true)
    }

    pub(super) fn reset_statistics(&mut self) {
        self.accepted.fill(0);
        self.attempted.fill(0);
        self.trips = 0;
        self.trip_sweeps = 0;
    }

    /// The biases of every replica for `rbm` on the current ladder.
    pub(super) fn terms(&self, rbm: &Rbm) -> Terms {
        let (b, c, base) = (rbm.visible_bias(), rbm.hidden_bias(), &self.base);
        Terms {
            n: self.n,
            betas: self.betas.clone(),
            d: b.len(),
            vbias: (self.betas.iter())
                .flat_map(|&beta| b.iter().zip(base).map(move |(&bi, &ai)| (1.0 - beta) * ai + beta * bi))
                .collect(),
            hbias: self.betas.iter().flat_map(|&beta| c.iter().map(move |&cj| beta * cj)).collect(),
            bdiff: b.iter().zip(base).map(|(&bi, &ai)| bi as f64 - ai as f64).collect(),
            c64: c.iter().map(|&x| x as f64).collect(),
        }
    }

    /// Swaps of the pairs `(r, r+1)` with `r` of the given parity, chain by
    /// chain (chains in parallel: each touches only its own rows), moving
    /// the rows of every buffer in `rows` (each `K·n` rows, replica-major),
    /// the energy differences and the walkers together; then the round-trip
    /// bookkeeping. The decision for pair `(r, r+1)` of chain `c` draws one
    /// word from row `(r, c)`'s stream.
    pub(super) fn swap_round(
        &mut self,
        streams: &mut [StreamState],
        rows: &[RowBytes<'_>],
        odd: bool,
        sweep: u64,
    ) {
        let (n, k) = (self.n, self.betas.len());
        let total = n * k;
        assert!(streams.len() == total && rows.iter().all(|b| b.rows == total), "tempered rows × replicas");
        let betas = &self.betas;
        let first = usize::from(odd);
        let pairs: Vec<usize> = (first..k - 1).step_by(2).collect();
        let sp = SyncPtr(streams.as_mut_ptr());
        let dp = SyncPtr(self.diff.as_mut_ptr());
        let wp = SyncPtr(self.walker.as_mut_ptr());
        let accepted: Vec<Vec<bool>> = (0..n)
            .into_par_iter()
            .map(|c| {
                let (sp, dp, wp) = (&sp, &dp, &wp);
                pairs
                    .iter()
                    .map(|&r| {
                        let (i, j) = (r * n + c, (r + 1) * n + c);
                        // SAFETY: rows i and j belong to chain c only
                        // (i ≡ j ≡ c mod n), and each chain runs in one task;
                        // i, j < K·n, the length of the streams, differences
                        // and walkers (asserted above for the streams, made
                        // so in `new` for the others) and the row count of
                        // every buffer in `rows` (asserted above).
                        unsafe {
                            let s = &mut *sp.0.add(i);
                            let mut g = rng::to_generator(*s);
                            let u = (g.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                            *s = rng::from_generator(&g);
                            let (di, dj) = (*dp.0.add(i), *dp.0.add(j));
                            let log_a = (betas[r + 1] as f64 - betas[r] as f64) * (dj - di);
                            let ok = log_a >= 0.0 || u < log_a.exp();
                            if ok {
                                for b in rows {
                                    b.swap(i, j);
                                }
                                std::ptr::swap(dp.0.add(i), dp.0.add(j));
                                std::ptr::swap(wp.0.add(i), wp.0.add(j));
                            }
                            ok
                        }
                    })
                    .collect()
            })
            .collect();
        for acc in &accepted {
            for (&r, &ok) in pairs.iter().zip(acc) {
                self.attempted[r] += 1;
                self.accepted[r] += ok as u64;
            }
        }
        // Round trips: a walker at the bottom turns up; at the top, down;
        // reaching the bottom again while going down completes a trip.
        for c in 0..n {
            let bottom = self.walker[c] as usize;
            if self.direction[bottom] == -1 {
                self.trips += 1;
                self.trip_sweeps += sweep - self.left_bottom[bottom];
            }
            if self.direction[bottom] != 1 {
                self.direction[bottom] = 1;
            }
            self.left_bottom[bottom] = sweep;
            let top = self.walker[(k - 1) * n + c] as usize;
            if self.direction[top] == 1 {
                self.direction[top] = -1;
            }
        }
    }
}

/// A buffer of equal-width rows whose rows [`Exchange::swap_round`] may
/// swap from several threads (each thread touching the rows of its own
/// chains only).
pub(super) struct RowBytes<'a> {
    ptr: *mut u8,
    width: usize,
    rows: usize,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: a `RowBytes` is only used by `Exchange::swap_round`, whose tasks
// swap disjoint pairs of rows (the rows of one chain each).
unsafe impl Sync for RowBytes<'_> {}

impl<'a> RowBytes<'a> {
    /// The rows of `buf`, `width` elements each.
    pub(super) fn of<T: bytemuck::Pod>(buf: &'a mut [T], width: usize) -> RowBytes<'a> {
        let rows = buf.len().checked_div(width).unwrap_or(0);
        RowBytes {
            ptr: buf.as_mut_ptr().cast(),
            width: width * std::mem::size_of::<T>(),
            rows,
            _borrow: PhantomData,
        }
    }

    /// Swaps rows `i` and `j`.
    ///
    /// # Safety
    /// `i ≠ j`, both below the row count, and no other thread touches either
    /// row meanwhile.
    unsafe fn swap(&self, i: usize, j: usize) {
        // SAFETY: by the caller's contract the two rows are distinct, in
        // bounds of the borrowed buffer, and not accessed elsewhere.
        unsafe {
            std::ptr::swap_nonoverlapping(
                self.ptr.add(i * self.width),
                self.ptr.add(j * self.width),
                self.width,
            )
        }
    }
}

/// One Gibbs sweep of a block of replica rows — `v ~ p_β(v|h)`, then
/// `h ~ p_β(h|v)` keeping `Wᵀv` in `pre_h` — and the rows' energy
/// differences. `first` is the block's first row in the replica-major
/// layout of `n` chains per temperature (a block may span replicas: each
/// replica's segment is scaled by its β and sampled with its biases).
/// Every row's result depends only on the row, its stream and the
/// products' per-row choice, so any blocking gives the same bits.
#[allow(clippy::too_many_arguments)]
pub(super) fn sweep_rows(
    isa: Isa,
    products: &HalfStepProducts<'_>,
    terms: &Terms,
    first: usize,
    v: &mut [f32],
    hs: &mut [f32],
    s: &mut [StreamState],
    pre_h: &mut [f32],
    diff: &mut [f64],
    ws: &mut BlockScratch,
) {
    let (n, betas) = (terms.n, &terms.betas);
    let (d, h, m) = (terms.d, terms.c64.len(), s.len());
    // Segments of the block, one per replica it touches.
    let segments = || {
        let mut start = 0;
        std::iter::from_fn(move || {
            (start < m).then(|| {
                let r = (first + start) / n;
                let end = ((r + 1) * n - first).min(m);
                let seg = (r, start, end);
                start = end;
                seg
            })
        })
    };
    // v ~ p_β(v|h).
    ws.pre.resize(m * d, 0.0);
    products.hidden_to_visible_rows(isa, m, hs, &mut ws.pre, &mut ws.binary);
    for (r, i, j) in segments() {
        let pre = &mut ws.pre[i * d..j * d];
        pre.iter_mut().for_each(|y| *y *= betas[r]);
        gibbs::sample_rows_seq(
            isa,
            pre,
            &terms.vbias[r * d..(r + 1) * d],
            &mut v[i * d..j * d],
            &mut s[i..j],
            &mut ws.bits,
        );
    }
    // h ~ p_β(h|v), keeping Wᵀv for the energies and the statistics.
    products.visible_to_hidden_rows(isa, m, v, pre_h, &mut ws.binary);
    ws.scaled.resize(m * h, 0.0);
    for (r, i, j) in segments() {
        let sc = &mut ws.scaled[i * h..j * h];
        sc.iter_mut().zip(&pre_h[i * h..j * h]).for_each(|(o, &y)| *o = betas[r] * y);
        gibbs::sample_rows_seq(
            isa,
            sc,
            &terms.hbias[r * h..(r + 1) * h],
            &mut hs[i * h..j * h],
            &mut s[i..j],
            &mut ws.bits,
        );
    }
    // D = E(v,h) − E_A(v) = −(b − b_A)ᵀv − hᵀ(c + Wᵀv), in f64.
    for ((e, vr), (hr, pr)) in
        diff.iter_mut().zip(v.chunks_exact(d)).zip(hs.chunks_exact(h).zip(pre_h.chunks_exact(h)))
    {
        *e = -binary_dot(vr, &terms.bdiff) - binary_dot_sum(hr, pr, &terms.c64);
    }
}

/// `Σᵢ xᵢ wᵢ` for binary `x` (0.0 or 1.0: the products are exact), in f64
/// with 8 partial sums added in a fixed order (vectorizes; the same bits for
/// any blocking or thread count).
fn binary_dot(x: &[f32], w: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (xc, wc) = (x.chunks_exact(8), w.chunks_exact(8));
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (xs, ws) in xc.zip(wc) {
        for k in 0..8 {
            acc[k] += xs[k] as f64 * ws[k];
        }
    }
    let tail: f64 = xr.iter().zip(wr).map(|(&x, &w)| x as f64 * w).sum();
    acc.iter().sum::<f64>() + tail
}

/// `Σⱼ hⱼ (pⱼ + cⱼ)` for binary `h`, as [`binary_dot`].
fn binary_dot_sum(h: &[f32], p: &[f32], c: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (hc, pc, cc) = (h.chunks_exact(8), p.chunks_exact(8), c.chunks_exact(8));
    let (hr, pr, cr) = (hc.remainder(), pc.remainder(), cc.remainder());
    for ((hs, ps), cs) in hc.zip(pc).zip(cc) {
        for k in 0..8 {
            acc[k] += hs[k] as f64 * (ps[k] as f64 + cs[k]);
        }
    }
    let tail: f64 = hr.iter().zip(pr).zip(cr).map(|((&h, &p), &c)| h as f64 * (p as f64 + c)).sum();
    acc.iter().sum::<f64>() + tail
}

/// Per-block scratch of a tempered sweep.
#[derive(Default)]
pub(super) struct BlockScratch {
    pre: Vec<f32>,
    scaled: Vec<f32>,
    bits: Vec<u64>,
    binary: BinaryScratch,
}

/// A raw pointer that may cross threads; every use says why its accesses
/// are disjoint.
struct SyncPtr<T>(*mut T);
// SAFETY: used only in `swap_round`, where each task touches the rows of
// one chain, disjoint from every other task's.
unsafe impl<T> Sync for SyncPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Send for SyncPtr<T> {}
