//! Ensembles of block-Gibbs chains for an [`Rbm`].
//!
//! A [`Chains`] value holds `B` chains: their visible states (`B × D`),
//! hidden states (`B × H`), both f32 0/1 row-major, and one xoshiro256++
//! stream each. [`Chains::sweep`] runs `k` block-Gibbs sweeps on every chain:
//!
//! ```text
//! h ~ p(h | v) = σ(c + vᵀW)      (uses ⌈H/2⌉ outputs of the chain's stream)
//! v ~ p(v | h) = σ(b + W h)      (uses ⌈D/2⌉ outputs)
//! ```
//!
//! # Parallelism and reproducibility
//!
//! Chains are split into row blocks that run in parallel on the current rayon
//! pool (use [`rayon::ThreadPool::install`] to pick the thread count). A block
//! runs all `k` sweeps of its chains back to back, so its states stay in
//! cache and threads never wait for each other inside a call. The block size
//! adapts to the thread count, but no result depends on it: each chain draws
//! from its own stream, every element-wise kernel computes each element
//! independently of its neighbours, and each product element is accumulated
//! in an order fixed by the model's sizes. The same seed therefore gives
//! bit-identical states for 1, 2 or 16 threads (`tests/determinism.rs`).
//! Results may differ between ISAs (FMA rounding), which is why the ISA is
//! recorded in every Chains value and can be fixed with [`Chains::set_isa`].

use super::gibbs::{self, StageTimes, SweepWorkspace};
use super::incremental;
use crate::alloc::try_vec;
use crate::error::{Error, Result};
use crate::kernels::binary;
use crate::kernels::gemm::HalfStepProducts;
use crate::kernels::{check_len, mul_dims};
use crate::model::Rbm;
use crate::rng::{self, StreamState};
use crate::simd::{self, Isa};
use rayon::prelude::*;

/// `B` block-Gibbs chains of a Bernoulli–Bernoulli RBM.
///
/// # Examples
/// ```
/// use boltzmann::{Chains, Rbm};
/// let rbm = Rbm::random(784, 500, 0.01, 0.0, 1).unwrap();
/// let mut chains = Chains::new(&rbm, 100, 42).unwrap();
/// chains.sweep(&rbm, 10).unwrap();
/// assert_eq!(chains.visible().len(), 100 * 784);
/// ```
#[derive(Debug, Clone)]
pub struct Chains {
    n_visible: usize,
    n_hidden: usize,
    batch: usize,
    visible: Vec<f32>,
    hidden: Vec<f32>,
    streams: Vec<StreamState>,
    isa: Isa,
    sweeps: u64,
    /// Scratch of the sweeps, kept between them (not state).
    ws: SweepWorkspace,
    /// The products [`Chains::sweep_incremental`] keeps between calls.
    kept: Option<Box<KeptProducts>>,
}

/// What [`Chains::sweep_incremental`] keeps between calls: the weights the
/// products belong to (compared on every call), their packing, and per
/// chain `vW`, `hWᵀ` and the states (as bits) they are the products of.
#[derive(Debug, Clone, Default)]
struct KeptProducts {
    weights: Vec<f32>,
    buffers: crate::kernels::gemm::ProductBuffers,
    vw: Vec<f32>,
    hwt: Vec<f32>,
    bits_v: Vec<u64>,
    bits_h: Vec<u64>,
    valid: bool,
}

impl KeptProducts {
    fn new(b: usize, d: usize, h: usize) -> Result<Self> {
        Ok(KeptProducts {
            vw: try_vec(mul_dims("kept products", b, h)?, 0.0, "kept products")?,
            hwt: try_vec(mul_dims("kept products", b, d)?, 0.0, "kept products")?,
            bits_v: try_vec(b * binary::words_per_row(d), 0, "kept states")?,
            bits_h: try_vec(b * binary::words_per_row(h), 0, "kept states")?,
            ..KeptProducts::default()
        })
    }
}

impl PartialEq for Chains {
    /// Equal states, streams, ISA and sweep counts (scratch aside).
    fn eq(&self, o: &Chains) -> bool {
        (self.n_visible, self.n_hidden, self.batch, self.isa, self.sweeps)
            == (o.n_visible, o.n_hidden, o.batch, o.isa, o.sweeps)
            && self.visible == o.visible
            && self.hidden == o.hidden
            && self.streams == o.streams
    }
}

impl Chains {
    /// `batch` chains for `rbm`'s sizes, with visible states drawn uniformly
    /// at random (each unit 1 with probability ½) from each chain's stream,
    /// and hidden states 0 (they are resampled by the first sweep).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `batch == 0`, [`Error::TooLarge`] when the
    /// states would not fit in memory.
    pub fn new(rbm: &Rbm, batch: usize, seed: u64) -> Result<Chains> {
        Self::uniform(Chains::empty(rbm, batch, seed)?)
    }

    /// Chains `start .. start + len` of the ensemble `Chains::new(rbm,
    /// total, seed)`: the same states and streams, sweep after sweep, so an
    /// ensemble split into shards (over processes, e.g. MPI ranks) is the
    /// same ensemble whatever the split.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `len == 0` or a range past `total`, and
    /// as [`Chains::new`].
    ///
    /// # Examples
    /// ```
    /// use boltzmann::{Chains, Rbm};
    /// let rbm = Rbm::random(8, 4, 0.5, 0.0, 1)?;
    /// let mut all = Chains::new(&rbm, 10, 3)?;
    /// let mut part = Chains::shard(&rbm, 10, 6, 4, 3)?;
    /// all.sweep(&rbm, 5)?;
    /// part.sweep(&rbm, 5)?;
    /// assert_eq!(part.visible(), &all.visible()[6 * 8..]);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn shard(rbm: &Rbm, total: usize, start: usize, len: usize, seed: u64) -> Result<Chains> {
        if start.checked_add(len).is_none_or(|end| end > total) {
            return Err(Error::InvalidParam {
                name: "shard",
                reason: format!("chains {start}..{start}+{len} are not within the {total} chains"),
            });
        }
        let mut c = Chains::empty(rbm, len, seed)?;
        c.streams = rng::chain_streams_range(seed, start, len)?;
        Self::uniform(c)
    }

    /// Draws uniform visible states from each chain's stream.
    fn uniform(mut c: Chains) -> Result<Chains> {
        // Uniform start: u < σ(0) = ½ with the fused kernel.
        let d = c.n_visible;
        let zeros = vec![0.0f32; d];
        let isa = c.isa;
        let words = d.div_ceil(2);
        c.visible.par_chunks_mut(d * 64).zip(c.streams.par_chunks_mut(64)).for_each(|(v, s)| {
            let mut bits = vec![0u64; s.len() * words];
            simd::xoshiro_fill(isa, s, words, &mut bits);
            let pre = vec![0.0f32; v.len()];
            simd::bernoulli(isa, &pre, &zeros, bytemuck::cast_slice(&bits), 2 * words, v);
        });
        Ok(c)
    }

    /// Chains started at the given binary visible states (`batch × D`,
    /// row-major, `batch = visible.len() / D`), e.g. rows of a data set.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the length is not a positive multiple of
    /// `D`, [`Error::NotBinary`] for values other than 0 and 1.
    pub fn from_visible(rbm: &Rbm, visible: &[f32], seed: u64) -> Result<Chains> {
        let d = rbm.n_visible();
        let batch = visible.len() / d;
        if batch == 0 || batch * d != visible.len() {
            return Err(Error::ShapeMismatch {
                what: "visible states (a positive multiple of n_visible)",
                expected: batch.max(1) * d,
                got: visible.len(),
            });
        }
        if let Some(index) = visible.iter().position(|&x| x != 0.0 && x != 1.0) {
            return Err(Error::NotBinary { what: "visible states", index, value: visible[index] });
        }
        let mut c = Chains::empty(rbm, batch, seed)?;
        c.visible.copy_from_slice(visible);
        Ok(c)
    }

    fn empty(rbm: &Rbm, batch: usize, seed: u64) -> Result<Chains> {
        if batch == 0 {
            return Err(Error::InvalidParam { name: "batch", reason: "need at least one chain".into() });
        }
        let (d, h) = (rbm.n_visible(), rbm.n_hidden());
        let total = (batch as u128) * ((d + h) as u128 * 4 + 32);
        crate::alloc::check_bytes("chain states", total, 1)?;
        Ok(Chains {
            n_visible: d,
            n_hidden: h,
            batch,
            visible: try_vec(mul_dims("visible states", batch, d)?, 0.0, "visible states")?,
            hidden: try_vec(mul_dims("hidden states", batch, h)?, 0.0, "hidden states")?,
            streams: rng::chain_streams(seed, batch)?,
            isa: simd::active_isa(),
            sweeps: 0,
            ws: SweepWorkspace::new(),
            kept: None,
        })
    }

    /// Starts chain `i` at row `i mod n` of `data` (binary, `D` wide).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for data of another width,
    /// [`Error::InvalidParam`] for no rows, [`Error::NotBinary`].
    pub fn set_visible_cycled(&mut self, data: &crate::data::Dataset) -> Result<()> {
        let d = self.n_visible;
        super::check_start_rows(data, d)?;
        let n = data.len();
        self.visible.par_chunks_mut(d).enumerate().for_each(|(i, row)| row.copy_from_slice(data.row(i % n)));
        Ok(())
    }

    /// Uses `isa` for this ensemble's element-wise kernels from now on.
    ///
    /// # Errors
    /// [`Error::IsaUnavailable`] if the CPU lacks it.
    pub fn set_isa(&mut self, isa: Isa) -> Result<()> {
        self.isa = isa.check()?;
        Ok(())
    }

    /// The ISA used by [`Chains::sweep`].
    pub fn isa(&self) -> Isa {
        self.isa
    }
    /// Number of chains `B`.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Number of chains (the same as [`Chains::batch`]; the name the other
    /// chain types use).
    pub fn len(&self) -> usize {
        self.batch
    }
    /// Never true: an ensemble holds at least one chain.
    pub fn is_empty(&self) -> bool {
        self.batch == 0
    }
    /// Number of visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.n_visible
    }
    /// Number of hidden units `H`.
    pub fn n_hidden(&self) -> usize {
        self.n_hidden
    }
    /// Visible states, `B × D` row-major, each 0.0 or 1.0.
    pub fn visible(&self) -> &[f32] {
        &self.visible
    }
    /// Hidden states from the last half-step, `B × H` row-major.
    pub fn hidden(&self) -> &[f32] {
        &self.hidden
    }
    /// The chains' stream states (for checkpoints and replay).
    pub fn streams(&self) -> &[StreamState] {
        &self.streams
    }
    /// Total sweeps run so far.
    pub fn sweeps_done(&self) -> u64 {
        self.sweeps
    }
    /// Bytes of state per chain (visible + hidden f32, plus 32 bytes of RNG).
    pub fn bytes_per_chain(&self) -> usize {
        4 * (self.n_visible + self.n_hidden) + 32
    }

    /// Rows per parallel block for this ensemble on `threads` threads (see
    /// [`gibbs::block_rows`]). Results do not depend on this choice.
    pub fn block_rows(&self, threads: usize) -> usize {
        gibbs::block_rows(self.batch, self.n_visible, self.n_hidden, threads)
    }

    /// Runs `k` block-Gibbs sweeps (`h ~ p(h|v)`, then `v ~ p(v|h)`) on
    /// every chain, in parallel on the current rayon pool.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `rbm`'s sizes differ from the ensemble's.
    pub fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        self.sweep_impl::<false>(rbm, k, self.batch).map(|_| ())
    }

    /// [`Chains::sweep`] of a share of an ensemble of `ensemble` chains
    /// (split over processes): the kernel choices that depend on the chain
    /// count are made for the whole ensemble, so the share's bits are those
    /// it has in the whole.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn sweep_in_ensemble(&mut self, rbm: &Rbm, k: usize, ensemble: usize) -> Result<()> {
        self.sweep_impl::<false>(rbm, k, ensemble).map(|_| ())
    }

    /// [`Chains::sweep`], also returning the time spent in each stage,
    /// summed over all blocks (thread-seconds). The states produced are the
    /// same as [`Chains::sweep`]'s; the timers cost a few clock reads per
    /// block and half-step.
    ///
    /// # Errors
    /// As [`Chains::sweep`].
    pub fn sweep_timed(&mut self, rbm: &Rbm, k: usize) -> Result<StageTimes> {
        self.sweep_impl::<true>(rbm, k, self.batch)
    }

    fn sweep_impl<const TIMED: bool>(&mut self, rbm: &Rbm, k: usize, ensemble: usize) -> Result<StageTimes> {
        self.check_model(rbm)?;
        let t = gibbs::sweep_hv::<TIMED>(
            self.isa,
            rbm,
            &mut self.visible,
            &mut self.hidden,
            &mut self.streams,
            k,
            ensemble,
            &mut self.ws,
        );
        self.sweeps += k as u64;
        Ok(t)
    }

    /// [`Chains::sweep`] with the two products of each chain's states kept
    /// between sweeps — and between calls while `rbm`'s weights stay the
    /// same — and brought up to date by the units that changed, instead of
    /// recomputed ([`crate::kernels::binary`] row sums of the rows of `W` of
    /// units turned on, minus those turned off). On trained models far fewer
    /// units change per sweep than are on (about a fifth of the hidden
    /// units of a 784 × 500 MNIST model, while half are on), so the sweeps
    /// are faster; on dense random models they cost about what [`Chains::sweep`]
    /// costs. Per chain, the cheapest of: nothing, the update, a binary or a
    /// dense product; the products are recomputed exactly whenever the sweep
    /// count is a multiple of 64 (bounding the rounding drift of the
    /// updates), on the first call and after the weights changed.
    ///
    /// The uniforms and the sampling kernel are [`Chains::sweep`]'s, so the
    /// transition is the same up to the f32 rounding of the products — but
    /// not the same bits. The same seed gives the same bits for any thread
    /// count and any grouping of the sweeps into calls; the kept products
    /// are part of the state (kept by `clone`, not by
    /// [`Chains::into_parts`]), so a copy rebuilt from parts continues with
    /// the same bits only from a sweep count that is a multiple of 64.
    /// Memory: `(D + H) × 4 + (D + H)/8` bytes per chain, and three copies of
    /// `W` (one to compare with, two packed).
    ///
    /// # Errors
    /// As [`Chains::sweep`]; [`Error::TooLarge`] when the kept products do
    /// not fit in memory.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::{Chains, Rbm};
    /// let rbm = Rbm::random(784, 500, 0.01, 0.0, 1)?;
    /// let mut chains = Chains::new(&rbm, 100, 42)?;
    /// chains.sweep_incremental(&rbm, 10)?;
    /// chains.sweep_incremental(&rbm, 10)?; // continues from the kept products
    /// assert_eq!(chains.sweeps_done(), 20);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn sweep_incremental(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        self.check_model(rbm)?;
        if k == 0 {
            return Ok(());
        }
        let (d, h, b, isa) = (self.n_visible, self.n_hidden, self.batch, self.isa);
        let kept = match &mut self.kept {
            Some(kept) => kept,
            none => none.insert(Box::new(KeptProducts::new(b, d, h)?)),
        };
        let same = kept.valid && kept.weights == rbm.weights();
        let bufs = std::mem::take(&mut kept.buffers);
        let products = HalfStepProducts::reusing(isa, rbm.weights(), d, h, bufs);
        let products = if same { products.with_packed_unchanged() } else { products.with_packed() };
        if !same {
            kept.weights.clear();
            kept.weights.extend_from_slice(rbm.weights());
        }
        let rows = b.div_ceil(rayon::current_num_threads().max(1)).max(1);
        let (wv, wh) = (binary::words_per_row(d), binary::words_per_row(h));
        let (c, vb, start) = (rbm.hidden_bias(), rbm.visible_bias(), self.sweeps);
        self.visible
            .par_chunks_mut(rows * d)
            .zip(self.hidden.par_chunks_mut(rows * h))
            .zip(self.streams.par_chunks_mut(rows))
            .zip(kept.vw.par_chunks_mut(rows * h).zip(kept.hwt.par_chunks_mut(rows * d)))
            .zip(kept.bits_v.par_chunks_mut(rows * wv).zip(kept.bits_h.par_chunks_mut(rows * wh)))
            .for_each(|((((v, hs), streams), (vw, hwt)), (bits_v, bits_h))| {
                let mut r = incremental::Rows { v, h: hs, streams, vw, hwt, bits_v, bits_h };
                let mut s = incremental::Scratch::new(d, h);
                for i in 0..k {
                    let exact = (start + i as u64).is_multiple_of(64);
                    let valid = same || i > 0;
                    incremental::update_vw(isa, &products, &mut r, valid, exact, &mut s);
                    incremental::sweep(isa, &products, &mut r, 1.0, c, vb, valid, exact, &mut s);
                }
            });
        kept.buffers = products.into_buffers();
        kept.valid = true;
        self.sweeps += k as u64;
        Ok(())
    }

    /// `k` sweeps that start with the visible half-step — `v ~ p(v|h)`, then
    /// `h ~ p(h|v)` — writing `p(h|v)` of the final visible states to
    /// `hidden_probs` (`B × H`). This is the negative phase of persistent
    /// contrastive divergence: the probabilities are the model statistics and
    /// the sampled `h` carries the chain on.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a model of other sizes or a wrong
    /// `hidden_probs` length.
    pub fn sweep_vh(&mut self, rbm: &Rbm, k: usize, hidden_probs: &mut [f32]) -> Result<()> {
        self.check_model(rbm)?;
        check_len("hidden_probs (batch × n_hidden)", self.hidden.len(), hidden_probs.len())?;
        gibbs::sweep_vh(
            self.isa,
            rbm,
            &mut self.visible,
            &mut self.hidden,
            &mut self.streams,
            hidden_probs,
            k,
            &mut self.ws,
        );
        self.sweeps += k as u64;
        Ok(())
    }

    /// Replaces the visible states (binary, `B × D`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NotBinary`].
    pub fn set_visible(&mut self, visible: &[f32]) -> Result<()> {
        check_len("visible states", self.visible.len(), visible.len())?;
        if let Some(index) = visible.iter().position(|&x| x != 0.0 && x != 1.0) {
            return Err(Error::NotBinary { what: "visible states", index, value: visible[index] });
        }
        self.visible.copy_from_slice(visible);
        Ok(())
    }

    /// Samples the hidden states from given probabilities (`B × H`, each in
    /// [0, 1]) with the chains' streams, e.g. from `p(h|v)` of the data to
    /// start contrastive divergence.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; [`Error::InvalidParam`] for a value outside
    /// [0, 1].
    pub fn sample_hidden_from(&mut self, probs: &[f32]) -> Result<()> {
        check_len("hidden probabilities", self.hidden.len(), probs.len())?;
        check_probs(probs)?;
        gibbs::sample_from_probs(self.isa, probs, self.n_hidden, &mut self.hidden, &mut self.streams);
        Ok(())
    }

    /// Rebuilds chains from saved parts (a checkpoint).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for inconsistent lengths, [`Error::NotBinary`]
    /// for non-binary states, [`Error::InvalidParam`] for an all-zero stream
    /// state (which xoshiro cannot leave).
    pub fn from_parts(
        rbm: &Rbm,
        visible: Vec<f32>,
        hidden: Vec<f32>,
        streams: Vec<StreamState>,
        sweeps: u64,
    ) -> Result<Chains> {
        let (d, h) = (rbm.n_visible(), rbm.n_hidden());
        let batch = streams.len();
        if batch == 0 {
            return Err(Error::InvalidParam { name: "batch", reason: "need at least one chain".into() });
        }
        gibbs::check_parts(rbm, &visible, &hidden, &streams)?;
        Ok(Chains {
            n_visible: d,
            n_hidden: h,
            batch,
            visible,
            hidden,
            streams,
            isa: simd::active_isa(),
            sweeps,
            ws: SweepWorkspace::new(),
            kept: None,
        })
    }

    /// The parts [`Chains::from_parts`] takes: visible states, hidden
    /// states, streams and the number of sweeps done — to keep the states in
    /// your own buffers and sweep them with [`gibbs::sweep`].
    pub fn into_parts(self) -> (Vec<f32>, Vec<f32>, Vec<StreamState>, u64) {
        (self.visible, self.hidden, self.streams, self.sweeps)
    }

    /// The negative phase of CD-k on the first `m` chains (`m =
    /// hidden_probs.len() / H ≤ B`): their hidden states are drawn from
    /// `hidden_probs` (`p(h|v)` of `m` data rows), then `k` sweeps
    /// `v ~ p(v|h)`, `h ~ p(h|v)` run on them and `p(h|v)` of their final
    /// visible states goes to `probs` (`m × H`). Read the negative samples
    /// from the first `m` rows of [`Chains::visible`]. The other chains are
    /// untouched, and the sweep count is not advanced (these chains restart
    /// from data every time).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a model of other sizes, or lengths that
    /// do not describe the same `m` rows with `1 ≤ m ≤ B`;
    /// [`Error::InvalidParam`] for `k = 0` or probabilities outside [0, 1].
    pub fn contrastive(
        &mut self,
        rbm: &Rbm,
        hidden_probs: &[f32],
        k: usize,
        probs: &mut [f32],
    ) -> Result<()> {
        self.check_model(rbm)?;
        if k == 0 {
            return Err(Error::InvalidParam { name: "k", reason: "need at least one sweep".into() });
        }
        let (d, h) = (self.n_visible, self.n_hidden);
        let m = hidden_probs.len() / h.max(1);
        if m == 0 || m > self.batch || m * h != hidden_probs.len() {
            return Err(Error::ShapeMismatch {
                what: "hidden probabilities for contrastive divergence (1 to batch rows of n_hidden)",
                expected: m.clamp(1, self.batch) * h,
                got: hidden_probs.len(),
            });
        }
        check_len("probs (rows × n_hidden)", m * h, probs.len())?;
        check_probs(hidden_probs)?;
        let (cv, ch, cs) = (&mut self.visible[..m * d], &mut self.hidden[..m * h], &mut self.streams[..m]);
        gibbs::sample_from_probs(self.isa, hidden_probs, h, ch, cs);
        gibbs::sweep_vh(self.isa, rbm, cv, ch, cs, probs, k, &mut self.ws);
        Ok(())
    }

    /// The visible half-step from pre-activations the caller computed:
    /// `v ~ σ(pre + b)` for every chain, `pre` (`B × D`) being `h·Wᵀ` of the
    /// current hidden states by any product (for instance one shared with
    /// other rows, as the trainer does). With [`Chains::hidden_step_from`]
    /// it makes a `v → h` sweep.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a model or `pre` of other sizes.
    pub fn visible_step_from(&mut self, rbm: &Rbm, pre: &[f32]) -> Result<()> {
        self.check_model(rbm)?;
        check_len("visible pre-activations (batch × n_visible)", self.visible.len(), pre.len())?;
        let threads = rayon::current_num_threads();
        gibbs::sample_rows(
            self.isa,
            pre,
            rbm.visible_bias(),
            &mut self.visible,
            &mut self.streams,
            None,
            threads,
        );
        Ok(())
    }

    /// The hidden half-step from pre-activations the caller computed:
    /// `h ~ σ(pre + c)` for every chain, `pre` (`B × H`) being `v·W` of the
    /// current visible states; with `probs`, also writes `σ(pre + c)` there.
    /// Ends a sweep begun by [`Chains::visible_step_from`], so it advances
    /// [`Chains::sweeps_done`] by one.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a model, `pre` or `probs` of other sizes.
    pub fn hidden_step_from(&mut self, rbm: &Rbm, pre: &[f32], probs: Option<&mut [f32]>) -> Result<()> {
        self.check_model(rbm)?;
        check_len("hidden pre-activations (batch × n_hidden)", self.hidden.len(), pre.len())?;
        if let Some(p) = &probs {
            check_len("hidden probabilities (batch × n_hidden)", self.hidden.len(), p.len())?;
        }
        let threads = rayon::current_num_threads();
        gibbs::sample_rows(
            self.isa,
            pre,
            rbm.hidden_bias(),
            &mut self.hidden,
            &mut self.streams,
            probs,
            threads,
        );
        self.sweeps += 1;
        Ok(())
    }

    /// Visible states, hidden states and streams, for the samplers of this
    /// module built on an ensemble ([`super::Tempering`]).
    pub(super) fn parts_mut(&mut self) -> (&mut [f32], &mut [f32], &mut [StreamState]) {
        (&mut self.visible, &mut self.hidden, &mut self.streams)
    }

    /// Counts sweeps run through [`Chains::parts_mut`].
    pub(super) fn add_sweeps(&mut self, k: u64) {
        self.sweeps += k;
    }

    fn check_model(&self, rbm: &Rbm) -> Result<()> {
        check_len("model n_visible", self.n_visible, rbm.n_visible())?;
        check_len("model n_hidden", self.n_hidden, rbm.n_hidden())
    }
}

/// Probabilities in [0, 1] (NaN refused).
fn check_probs(probs: &[f32]) -> Result<()> {
    match probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(i) => Err(Error::InvalidParam { name: "probs", reason: format!("index {i} is {}", probs[i]) }),
        None => Ok(()),
    }
}
