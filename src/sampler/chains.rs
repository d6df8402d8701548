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

use super::gibbs::{self, StageTimes};
use crate::alloc::try_vec;
use crate::error::{Error, Result};
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
#[derive(Debug, Clone, PartialEq)]
pub struct Chains {
    n_visible: usize,
    n_hidden: usize,
    batch: usize,
    visible: Vec<f32>,
    hidden: Vec<f32>,
    streams: Vec<StreamState>,
    isa: Isa,
    sweeps: u64,
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
        let mut c = Chains::empty(rbm, batch, seed)?;
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
        self.sweep_impl::<false>(rbm, k).map(|_| ())
    }

    /// [`Chains::sweep`], also returning the time spent in each stage,
    /// summed over all blocks (thread-seconds). The states produced are the
    /// same as [`Chains::sweep`]'s; the timers cost a few clock reads per
    /// block and half-step.
    ///
    /// # Errors
    /// As [`Chains::sweep`].
    pub fn sweep_timed(&mut self, rbm: &Rbm, k: usize) -> Result<StageTimes> {
        self.sweep_impl::<true>(rbm, k)
    }

    fn sweep_impl<const TIMED: bool>(&mut self, rbm: &Rbm, k: usize) -> Result<StageTimes> {
        self.check_model(rbm)?;
        let t = gibbs::sweep_hv::<TIMED>(
            self.isa,
            rbm,
            &mut self.visible,
            &mut self.hidden,
            &mut self.streams,
            k,
        );
        self.sweeps += k as u64;
        Ok(t)
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
        if let Some(i) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(Error::InvalidParam { name: "probs", reason: format!("index {i} is {}", probs[i]) });
        }
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
        })
    }

    /// The parts [`Chains::from_parts`] takes: visible states, hidden
    /// states, streams and the number of sweeps done — to keep the states in
    /// your own buffers and sweep them with [`gibbs::sweep`].
    pub fn into_parts(self) -> (Vec<f32>, Vec<f32>, Vec<StreamState>, u64) {
        (self.visible, self.hidden, self.streams, self.sweeps)
    }

    /// Visible states, hidden states and streams, for the trainer's
    /// contrastive-divergence phase (which runs on a prefix of the rows).
    pub(crate) fn parts_mut(&mut self) -> (&mut [f32], &mut [f32], &mut [StreamState]) {
        (&mut self.visible, &mut self.hidden, &mut self.streams)
    }

    /// Counts sweeps the trainer ran through [`Chains::parts_mut`].
    pub(crate) fn add_sweeps(&mut self, k: u64) {
        self.sweeps += k;
    }

    fn check_model(&self, rbm: &Rbm) -> Result<()> {
        check_len("model n_visible", self.n_visible, rbm.n_visible())?;
        check_len("model n_hidden", self.n_hidden, rbm.n_hidden())
    }
}
