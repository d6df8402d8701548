//! Block-Gibbs half-steps over row slices of chain states, split into row
//! blocks that run in parallel on the current rayon pool.
//!
//! [`crate::Chains`] keeps the states; the trainer's contrastive-divergence
//! phase runs these same functions on its own buffers. Every chain (row)
//! uses only its own stream, and every kernel computes each element
//! independently of the block it sits in, so results do not depend on the
//! block size or the thread count.

use crate::error::{Error, Result};
use crate::kernels::gemm::{BinaryScratch, HalfStepProducts, ProductBuffers};
use crate::kernels::{check_len, mul_dims};
use crate::model::Rbm;
use crate::rng::{self, StreamState};
use crate::simd::{self, Isa};
use rayon::prelude::*;
use std::sync::Mutex;
use std::time::Instant;

/// Rows per parallel block for `batch` chains of a `d × h` model on
/// `threads` threads.
///
/// Large blocks amortise the packing of `W` that each matrixmultiply call
/// does (≈ D·H floats per call); small ones keep a block's states in L2 and
/// balance the threads: `⌈B / threads⌉`, at most `max(512, 64 Ki / (D+H))`.
pub fn block_rows(batch: usize, d: usize, h: usize, threads: usize) -> usize {
    let per_thread = batch.div_ceil(threads.max(1));
    let l2_rows = (64 * 1024) / (d + h).max(1);
    per_thread.clamp(1, l2_rows.max(512))
}

/// Per-block scratch: pre-activations and raw random bits.
#[derive(Debug)]
pub(crate) struct Workspace {
    pre_h: Vec<f32>,
    pre_v: Vec<f32>,
    bits: Vec<u64>,
    binary: BinaryScratch,
}

impl Workspace {
    pub(crate) fn new(rows: usize, d: usize, h: usize) -> Workspace {
        let words = d.div_ceil(2).max(h.div_ceil(2));
        // The states these rows belong to were checked against memory when
        // allocated; a block is a small slice of that.
        Workspace {
            pre_h: vec![0.0; rows * h],
            pre_v: vec![0.0; rows * d],
            bits: vec![0; rows * words],
            binary: BinaryScratch::default(),
        }
    }

    fn bytes(&self) -> usize {
        4 * (self.pre_h.capacity() + self.pre_v.capacity()) + 8 * self.bits.capacity()
    }
}

/// Reusable scratch memory for [`sweep_with`] (and what a [`crate::Chains`]
/// keeps between its sweeps), in the manner of faer's explicit workspaces.
///
/// It holds one block's pre-activations and random bits per thread of the
/// pool that runs the sweep, and the packed copies of `W` that the binary
/// products read. The first call with a given model size, chain count and
/// thread count allocates; later calls with the same ones allocate nothing
/// of their own (the dense products are matrixmultiply's, which packs into
/// its own buffers). Scratch is not state: it never changes a result, and a
/// clone starts empty.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, rng, sampler::gibbs::{self, SweepWorkspace}};
/// let rbm = Rbm::random(12, 5, 0.5, 0.0, 3)?;
/// let mut streams = rng::chain_streams(42, 8)?;
/// let (mut v, mut h) = (vec![0.0f32; 8 * 12], vec![0.0f32; 8 * 5]);
/// let mut ws = SweepWorkspace::new();
/// for _ in 0..100 {
///     // Allocates on the first pass only.
///     gibbs::sweep_with(&rbm, &mut v, &mut h, &mut streams, 1, &mut ws)?;
/// }
/// assert!(ws.bytes() > 0);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct SweepWorkspace {
    /// Rows per block, `D`, `H` of the blocks in `slots`.
    shape: (usize, usize, usize),
    /// One block's scratch per thread, indexed by the rayon thread index.
    slots: Vec<Mutex<Workspace>>,
    products: ProductBuffers,
}

impl Clone for SweepWorkspace {
    /// An empty workspace: scratch is not state.
    fn clone(&self) -> Self {
        SweepWorkspace::default()
    }
}

impl SweepWorkspace {
    /// An empty workspace; it grows on first use.
    pub fn new() -> SweepWorkspace {
        SweepWorkspace::default()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        let blocks: usize = self.slots.iter().map(|m| m.lock().map_or(0, |w| w.bytes())).sum();
        blocks + self.products.bytes()
    }

    /// Makes room for `threads` blocks of `rows` chains of a `d × h` model.
    fn prepare(&mut self, rows: usize, d: usize, h: usize, threads: usize) {
        if self.shape != (rows, d, h) {
            self.slots.clear();
            self.shape = (rows, d, h);
        }
        while self.slots.len() < threads {
            self.slots.push(Mutex::new(Workspace::new(rows, d, h)));
        }
    }

    /// Runs `f` on the current thread's block scratch; on a fresh one when
    /// that is busy (a nested job of the same thread) or missing.
    fn with_block<R>(&self, f: impl FnOnce(&mut Workspace) -> R) -> R {
        let slot =
            rayon::current_thread_index().and_then(|i| self.slots.get(i)).and_then(|m| m.try_lock().ok());
        match slot {
            Some(mut ws) => f(&mut ws),
            None => f(&mut Workspace::new(self.shape.0, self.shape.1, self.shape.2)),
        }
    }
}

/// `h ~ p(h|v)` for one block; with `probs`, also stores `p(h|v)`.
#[allow(clippy::too_many_arguments)]
fn hidden_step(
    isa: Isa,
    rbm: &Rbm,
    products: &HalfStepProducts<'_>,
    v: &[f32],
    h: &mut [f32],
    streams: &mut [StreamState],
    ws: &mut Workspace,
    probs: Option<&mut [f32]>,
    times: &mut StageTimes,
    clock: &mut Clock,
) {
    let rows = streams.len();
    let nh = rbm.n_hidden();
    let words = nh.div_ceil(2);
    let bits = &mut ws.bits[..rows * words];
    simd::xoshiro_fill(isa, streams, words, bits);
    clock.lap(&mut times.rng);
    let u: &[u32] = bytemuck::cast_slice(bits);
    // The product with the sampling fused in where the tile kernels apply
    // (timed as products); else the product, then the sampling kernel.
    let bias = rbm.hidden_bias();
    let mut probs = probs;
    if products.visible_to_hidden_sample(rows, v, bias, u, 2 * words, h, probs.as_deref_mut()) {
        clock.lap(&mut times.products);
        return;
    }
    let pre = &mut ws.pre_h[..rows * nh];
    products.visible_to_hidden_rows(isa, rows, v, pre, &mut ws.binary);
    clock.lap(&mut times.products);
    match probs {
        None => simd::bernoulli(isa, pre, bias, u, 2 * words, h),
        Some(p) => simd::bernoulli_with_probs(isa, pre, bias, u, 2 * words, p, h),
    }
    clock.lap(&mut times.sampling);
}

/// `v ~ p(v|h)` for one block.
#[allow(clippy::too_many_arguments)]
fn visible_step(
    isa: Isa,
    rbm: &Rbm,
    products: &HalfStepProducts<'_>,
    v: &mut [f32],
    h: &[f32],
    streams: &mut [StreamState],
    ws: &mut Workspace,
    times: &mut StageTimes,
    clock: &mut Clock,
) {
    let rows = streams.len();
    let d = rbm.n_visible();
    let words = d.div_ceil(2);
    let bits = &mut ws.bits[..rows * words];
    simd::xoshiro_fill(isa, streams, words, bits);
    clock.lap(&mut times.rng);
    let u: &[u32] = bytemuck::cast_slice(bits);
    if products.hidden_to_visible_sample(rows, h, rbm.visible_bias(), u, 2 * words, v) {
        clock.lap(&mut times.products);
        return;
    }
    let pre = &mut ws.pre_v[..rows * d];
    products.hidden_to_visible_rows(isa, rows, h, pre, &mut ws.binary);
    clock.lap(&mut times.products);
    simd::bernoulli(isa, pre, rbm.visible_bias(), u, 2 * words, v);
    clock.lap(&mut times.sampling);
}

/// `k` block-Gibbs sweeps (`h ~ p(h|v)`, then `v ~ p(v|h)`) on chain states
/// the caller owns: `visible` (`B × D`) and `hidden` (`B × H`) hold 0/1
/// values, row `c` of each belongs to chain `c`, whose random numbers come
/// from `streams[c]` only. Runs in parallel on the current rayon pool (call
/// it inside your own `ThreadPool::install` to choose the threads) with the
/// products [`crate::Chains::sweep`] would choose, so the same states and
/// streams give the same bits as a [`crate::Chains`] ensemble, for any
/// thread count. Scratch memory is allocated per call (per parallel block,
/// and a packed copy of `W` when binary products pay).
///
/// # Errors
/// [`Error::ShapeMismatch`] if the lengths do not fit `rbm` and
/// `streams.len()` chains; [`Error::NotBinary`] for a state other than 0
/// or 1; [`Error::InvalidParam`] for an all-zero stream state.
///
/// # Examples
/// ```
/// use boltzmann::{Chains, Rbm, rng, sampler::gibbs};
/// let rbm = Rbm::random(12, 5, 0.5, 0.0, 3)?;
/// // Your own buffers: 8 chains from all-zero states, streams from a seed.
/// let mut streams = rng::chain_streams(42, 8)?;
/// let (mut v, mut h) = (vec![0.0f32; 8 * 12], vec![0.0f32; 8 * 5]);
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// pool.install(|| gibbs::sweep(&rbm, &mut v, &mut h, &mut streams, 10))?;
/// // The same as an owned ensemble started the same way.
/// let mut chains = Chains::from_parts(&rbm, vec![0.0; 8 * 12], vec![0.0; 8 * 5], rng::chain_streams(42, 8)?, 0)?;
/// chains.sweep(&rbm, 10)?;
/// assert_eq!(chains.visible(), &v[..]);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn sweep(
    rbm: &Rbm,
    visible: &mut [f32],
    hidden: &mut [f32],
    streams: &mut [StreamState],
    k: usize,
) -> Result<()> {
    sweep_with(rbm, visible, hidden, streams, k, &mut SweepWorkspace::new())
}

/// [`sweep`] with scratch memory the caller keeps between calls: after the
/// first call with given sizes and thread count, no allocation (see
/// [`SweepWorkspace`]). Same results as [`sweep`].
///
/// # Errors
/// As [`sweep`].
pub fn sweep_with(
    rbm: &Rbm,
    visible: &mut [f32],
    hidden: &mut [f32],
    streams: &mut [StreamState],
    k: usize,
    ws: &mut SweepWorkspace,
) -> Result<()> {
    check_parts(rbm, visible, hidden, streams)?;
    sweep_hv::<false>(simd::active_isa(), rbm, visible, hidden, streams, k, streams.len(), ws);
    Ok(())
}

/// Checks chain parts against `rbm`: `streams.len()` chains of 0/1 states,
/// no all-zero stream (xoshiro cannot leave it). Shared by [`sweep`] and
/// [`crate::Chains::from_parts`].
pub(crate) fn check_parts(rbm: &Rbm, visible: &[f32], hidden: &[f32], streams: &[StreamState]) -> Result<()> {
    let b = streams.len();
    check_len("visible states", mul_dims("visible", b, rbm.n_visible())?, visible.len())?;
    check_len("hidden states", mul_dims("hidden", b, rbm.n_hidden())?, hidden.len())?;
    for (what, s) in [("visible states", visible), ("hidden states", hidden)] {
        if let Some(index) = s.iter().position(|&x| x != 0.0 && x != 1.0) {
            return Err(Error::NotBinary { what, index, value: s[index] });
        }
    }
    rng::check_streams(streams)
}

/// `k` sweeps `h ~ p(h|v)`, `v ~ p(v|h)` on all rows; with `TIMED`, also the
/// thread-seconds per stage. Slices must be consistent (`rows × D`,
/// `rows × H`, `rows` streams); the caller checks.
///
/// The binary products are allowed when `k × ensemble` reaches
/// [`BINARY_MIN_CHAIN_SWEEPS`]: `ensemble` is the number of chains whose
/// bits must agree — these rows, or all the chains of an ensemble split
/// over processes, so that every share makes the choice the whole would.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_hv<const TIMED: bool>(
    isa: Isa,
    rbm: &Rbm,
    v: &mut [f32],
    h: &mut [f32],
    streams: &mut [StreamState],
    k: usize,
    ensemble: usize,
    ws: &mut SweepWorkspace,
) -> StageTimes {
    let (d, nh) = (rbm.n_visible(), rbm.n_hidden());
    if k == 0 || streams.is_empty() {
        return StageTimes::default();
    }
    let threads = rayon::current_num_threads();
    let rows = block_rows(streams.len(), d, nh, threads);
    ws.prepare(rows, d, nh, threads);
    let bufs = std::mem::take(&mut ws.products);
    let mut products = HalfStepProducts::reusing(isa, rbm.weights(), d, nh, bufs);
    // Binary products choose per chain by its state density; packing `W`
    // and `Wᵀ` costs about 50 dense chain-sweeps, so only when many follow.
    if k.saturating_mul(ensemble) >= BINARY_MIN_CHAIN_SWEEPS {
        products = products.with_packed();
    }
    let blocks = &*ws;
    let t = v
        .par_chunks_mut(rows * d)
        .zip(h.par_chunks_mut(rows * nh))
        .zip(streams.par_chunks_mut(rows))
        .map(|((v, h), s)| {
            blocks.with_block(|ws| {
                let mut t = StageTimes::default();
                let mut clock = Clock::new(TIMED);
                for _ in 0..k {
                    hidden_step(isa, rbm, &products, v, h, s, ws, None, &mut t, &mut clock);
                    visible_step(isa, rbm, &products, v, h, s, ws, &mut t, &mut clock);
                }
                t
            })
        })
        .reduce(StageTimes::default, StageTimes::add);
    ws.products = products.into_buffers();
    t
}

/// `k` sweeps of one block of chains (`rows × D` and `rows × H` f32
/// states, `rows` streams) with the given products and scratch: the body of
/// [`sweep_hv`], for callers that keep states in another format between
/// calls ([`super::packed::PackedChains`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_block(
    isa: Isa,
    rbm: &Rbm,
    products: &HalfStepProducts<'_>,
    v: &mut [f32],
    h: &mut [f32],
    streams: &mut [StreamState],
    ws: &mut Workspace,
    k: usize,
) {
    let mut t = StageTimes::default();
    let mut clock = Clock::new(false);
    for _ in 0..k {
        hidden_step(isa, rbm, products, v, h, streams, ws, None, &mut t, &mut clock);
        visible_step(isa, rbm, products, v, h, streams, ws, &mut t, &mut clock);
    }
}

/// Fewest chain-sweeps in one [`sweep_hv`] call for which the weights are
/// packed for binary products. Packing `W` and `Wᵀ` of a 784 × 500 model
/// takes ≈ 0.56 ms on one core (≈ 50 dense chain-sweeps of that model; both
/// scale with D·H), so from 512 chain-sweeps on it costs at most ≈ 11 % when
/// the states turn out dense, and pays for itself when they are sparse.
pub(crate) const BINARY_MIN_CHAIN_SWEEPS: usize = 512;

/// Below this many chains per thread, [`sweep_vh`] (the negative phase of
/// training, typically 100 chains) splits each product over output columns (every thread packs only its part of `W`) and the sampling
/// over rows, instead of giving each thread whole rows (every thread packing
/// all of `W` for a few rows). Same results either way.
const WIDE_BELOW_ROWS_PER_THREAD: usize = 256;

fn use_wide(rows: usize, threads: usize, products: &HalfStepProducts<'_>) -> bool {
    threads > 1 && rows < WIDE_BELOW_ROWS_PER_THREAD * threads && !products.is_nopack()
}

/// One Bernoulli half-step from pre-activations the caller computed, on the
/// caller's buffers: for each chain `r` and unit `i`,
/// `p = σ(pre[r][i] + bias[i])`, `out[r][i] = (u < p) as f32` with `u` from
/// chain `r`'s own stream (the same draws as the half-steps of [`sweep`]),
/// and `probs[r][i] = p` when given. Rows go in parallel blocks on the
/// current rayon pool, split into at most `threads` parts; the results do not
/// depend on `threads`.
///
/// This is the sampling half of a Gibbs step without the product, for
/// samplers that compute the pre-activations themselves (annealing, other
/// energies, GPU products).
///
/// # Errors
/// [`Error::ShapeMismatch`] if `pre`, `out` (and `probs`) are not
/// `streams.len() × bias.len()`; [`Error::InvalidParam`] if `threads` is 0
/// or a stream is all zero.
///
/// # Example
/// ```
/// use boltzmann::{rng, sampler::gibbs, simd::active_isa};
/// let mut streams = rng::chain_streams(7, 2).unwrap();
/// let (pre, bias) = (vec![0.0f32, 50.0, -50.0, 0.0, 50.0, -50.0], vec![0.0f32; 3]);
/// let mut out = vec![0.0f32; 6];
/// gibbs::sample_units(active_isa(), &pre, &bias, &mut out, &mut streams, None, 1).unwrap();
/// assert_eq!((out[1], out[2], out[4], out[5]), (1.0, 0.0, 1.0, 0.0));
/// ```
pub fn sample_units(
    isa: Isa,
    pre: &[f32],
    bias: &[f32],
    out: &mut [f32],
    streams: &mut [StreamState],
    probs: Option<&mut [f32]>,
    threads: usize,
) -> Result<()> {
    if threads == 0 {
        return Err(Error::InvalidParam { name: "threads", reason: "must be at least 1".into() });
    }
    let len = mul_dims("chains × units", streams.len(), bias.len())?;
    check_len("pre-activations", len, pre.len())?;
    check_len("samples", len, out.len())?;
    if let Some(p) = probs.as_deref() {
        check_len("probabilities", len, p.len())?;
    }
    rng::check_streams(streams)?;
    sample_rows(isa, pre, bias, out, streams, probs, threads);
    Ok(())
}

/// [`sample_units`] without the checks (lengths are the caller's invariant).
pub(crate) fn sample_rows(
    isa: Isa,
    pre: &[f32],
    bias: &[f32],
    out: &mut [f32],
    streams: &mut [StreamState],
    probs: Option<&mut [f32]>,
    threads: usize,
) {
    let n = bias.len();
    let words = n.div_ceil(2);
    let rb = streams.len().div_ceil(threads.max(1)).max(1);
    let run = |o: &mut [f32], p: &[f32], s: &mut [StreamState], pr: Option<&mut [f32]>| match pr {
        None => sample_rows_seq(isa, p, bias, o, s, &mut Vec::new()),
        Some(pr) => {
            let mut bits = vec![0u64; s.len() * words];
            simd::xoshiro_fill(isa, s, words, &mut bits);
            let u: &[u32] = bytemuck::cast_slice(&bits);
            simd::bernoulli_with_probs(isa, p, bias, u, 2 * words, pr, o)
        }
    };
    let it = out.par_chunks_mut(rb * n).zip(pre.par_chunks(rb * n)).zip(streams.par_chunks_mut(rb));
    match probs {
        None => it.for_each(|((o, p), s)| run(o, p, s, None)),
        Some(pp) => it.zip(pp.par_chunks_mut(rb * n)).for_each(|(((o, p), s), pr)| run(o, p, s, Some(pr))),
    }
}

/// [`sample_rows`] on the calling thread, the uniforms drawn into `bits`
/// (reused between calls; every word is overwritten): for callers that are
/// one of many parallel tasks.
pub(crate) fn sample_rows_seq(
    isa: Isa,
    pre: &[f32],
    bias: &[f32],
    out: &mut [f32],
    streams: &mut [StreamState],
    bits: &mut Vec<u64>,
) {
    let words = bias.len().div_ceil(2);
    bits.resize(streams.len() * words, 0);
    simd::xoshiro_fill(isa, streams, words, bits);
    let u: &[u32] = bytemuck::cast_slice(bits);
    simd::bernoulli(isa, pre, bias, u, 2 * words, out)
}

/// [`sweep_vh`] in the wide layout (see [`WIDE_BELOW_ROWS_PER_THREAD`]).
#[allow(clippy::too_many_arguments)]
fn sweep_vh_wide(
    isa: Isa,
    rbm: &Rbm,
    products: &HalfStepProducts<'_>,
    v: &mut [f32],
    h: &mut [f32],
    streams: &mut [StreamState],
    probs: &mut [f32],
    k: usize,
    threads: usize,
) {
    let (d, nh, rows) = (rbm.n_visible(), rbm.n_hidden(), streams.len());
    let mut pre_v = vec![0.0f32; rows * d];
    let mut pre_h = vec![0.0f32; rows * nh];
    for step in 0..k {
        products.hidden_to_visible_cols(rows, h, &mut pre_v, threads);
        sample_rows(isa, &pre_v, rbm.visible_bias(), v, streams, None, threads);
        products.visible_to_hidden_cols(rows, v, &mut pre_h, threads);
        let p = if step + 1 == k { Some(&mut *probs) } else { None };
        sample_rows(isa, &pre_h, rbm.hidden_bias(), h, streams, p, threads);
    }
}

/// `k` sweeps `v ~ p(v|h)`, `h ~ p(h|v)` on all rows, writing the last
/// `p(h|v)` to `probs` (`rows × H`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_vh(
    isa: Isa,
    rbm: &Rbm,
    v: &mut [f32],
    h: &mut [f32],
    streams: &mut [StreamState],
    probs: &mut [f32],
    k: usize,
    ws: &mut SweepWorkspace,
) {
    let (d, nh) = (rbm.n_visible(), rbm.n_hidden());
    if k == 0 || streams.is_empty() {
        return;
    }
    let threads = rayon::current_num_threads();
    let products = HalfStepProducts::reusing(isa, rbm.weights(), d, nh, std::mem::take(&mut ws.products));
    if use_wide(streams.len(), threads, &products) {
        sweep_vh_wide(isa, rbm, &products, v, h, streams, probs, k, threads);
        ws.products = products.into_buffers();
        return;
    }
    let rows = block_rows(streams.len(), d, nh, threads);
    ws.prepare(rows, d, nh, threads);
    let blocks = &*ws;
    v.par_chunks_mut(rows * d)
        .zip(h.par_chunks_mut(rows * nh))
        .zip(streams.par_chunks_mut(rows))
        .zip(probs.par_chunks_mut(rows * nh))
        .for_each(|(((v, h), s), p)| {
            blocks.with_block(|ws| {
                let mut t = StageTimes::default();
                let mut clock = Clock::new(false);
                for step in 0..k {
                    visible_step(isa, rbm, &products, v, h, s, ws, &mut t, &mut clock);
                    let last = step + 1 == k;
                    let probs = if last { Some(&mut *p) } else { None };
                    hidden_step(isa, rbm, &products, v, h, s, ws, probs, &mut t, &mut clock);
                }
            })
        });
    ws.products = products.into_buffers();
}

/// `out[r][j] = (u < probs[r][j])` with row `r`'s stream, rows of `n`.
pub(crate) fn sample_from_probs(
    isa: Isa,
    probs: &[f32],
    n: usize,
    out: &mut [f32],
    streams: &mut [StreamState],
) {
    if n == 0 || streams.is_empty() {
        return;
    }
    let words = n.div_ceil(2);
    let rows = block_rows(streams.len(), n, 0, rayon::current_num_threads());
    out.par_chunks_mut(rows * n).zip(probs.par_chunks(rows * n)).zip(streams.par_chunks_mut(rows)).for_each(
        |((o, p), s)| {
            let mut bits = vec![0u64; s.len() * words];
            simd::xoshiro_fill(isa, s, words, &mut bits);
            simd::bernoulli_from_probs(isa, p, n, bytemuck::cast_slice(&bits), 2 * words, o);
        },
    );
}

/// A lap timer; off (`None`) costs one branch per lap.
pub(crate) struct Clock(Option<Instant>);

impl Clock {
    fn new(on: bool) -> Self {
        Clock(on.then(Instant::now))
    }
    #[inline(always)]
    fn lap(&mut self, acc: &mut f64) {
        if let Some(t) = self.0 {
            let now = Instant::now();
            *acc += (now - t).as_secs_f64();
            self.0 = Some(now);
        }
    }
}

/// Thread-seconds spent in each stage of a sweep, from [`Chains::sweep_timed`](super::Chains::sweep_timed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// The two dense products.
    pub products: f64,
    /// Random-bit generation.
    pub rng: f64,
    /// Fused bias + sigmoid + compare.
    pub sampling: f64,
}

impl StageTimes {
    pub(crate) fn add(self, o: StageTimes) -> StageTimes {
        StageTimes {
            products: self.products + o.products,
            rng: self.rng + o.rng,
            sampling: self.sampling + o.sampling,
        }
    }
    /// Sum of the stages.
    pub fn total(&self) -> f64 {
        self.products + self.rng + self.sampling
    }
}
