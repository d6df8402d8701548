//! Parallel tempering on bit-packed states, for many chains.
//!
//! [`PackedTemperedChains`] is [`super::TemperedChains`] with every
//! replica's visible and hidden states kept as bits (⌈D/64⌉ + ⌈H/64⌉ words)
//! beside its stream and energy difference: 208 bytes per replica for a
//! 784 × 500 model instead of ≈ 7 KB of f32 states and cached products, so
//! 10,000 chains × 10 temperatures hold 21 MB. A sweep unpacks one block of
//! rows at a time into per-thread scratch, runs the same block sweep as
//! the f32 ensemble (binary or dense products per row, the β-scaled
//! sampling, the energies), packs the rows back, then runs the same swap
//! round on the packed rows. So with the same seed it gives **the same
//! bits as [`super::TemperedChains`]** — states, swap decisions and
//! round trips — for any thread count (`tests/tempering.rs`); see
//! [`super::tempering`] for the method and its sources.

use super::exchange::{self, BlockScratch, Exchange, RowBytes};
use super::{PackedChains, gibbs};
use crate::error::{Error, Result};
use crate::kernels::binary::{pack_row, unpack_row, words_per_row};
use crate::kernels::gemm::HalfStepProducts;
use crate::model::Rbm;
use crate::rng::StreamState;
use crate::simd::{self, Isa};
use rayon::prelude::*;

/// Replica rows per block of a packed tempered sweep (bounds the scratch).
const BLOCK: usize = super::packed::BLOCK;

/// `n` chains of an RBM, each with a replica at every temperature of a
/// ladder, states bit-packed; see the [module documentation](self).
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, TemperedChains};
/// use boltzmann::sampler::{PackedTemperedChains, tempering::geometric_ladder};
/// let rbm = Rbm::random(30, 12, 0.5, 0.0, 1)?;
/// let ladder = geometric_ladder(4, 0.2)?;
/// let mut packed = PackedTemperedChains::new(&rbm, 16, ladder.clone(), 7)?;
/// let mut plain = TemperedChains::new(&rbm, 16, ladder, 7)?;
/// packed.sweep(&rbm, 50)?;
/// plain.sweep(&rbm, 50)?;
/// assert_eq!(packed.visible(), plain.visible());          // same bits
/// assert_eq!(packed.swap_rates(), plain.tempering().swap_rates());
/// assert_eq!(packed.bytes_per_replica(), 8 + 8 + 32 + 8);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PackedTemperedChains {
    n_visible: usize,
    n_hidden: usize,
    /// `K·n × ⌈D/64⌉` and `K·n × ⌈H/64⌉` words, replica-major.
    visible: Vec<u64>,
    hidden: Vec<u64>,
    streams: Vec<StreamState>,
    isa: Isa,
    sweeps: u64,
    x: Exchange,
}

impl PackedTemperedChains {
    /// `n` chains at the temperatures `betas` (checked by
    /// [`super::tempering::check_ladder`]): the states and streams of
    /// [`super::TemperedChains::new`] with the same seed (visible states
    /// uniform at random, hidden states 0; row `(r, c)`'s stream is stream
    /// `r·n + c` of [`crate::rng::chain_streams`]`(seed, ·)`).
    ///
    /// # Errors
    /// A bad ladder, `n = 0`, or states that do not fit in memory.
    pub fn new(rbm: &Rbm, n: usize, betas: Vec<f32>, seed: u64) -> Result<PackedTemperedChains> {
        if n == 0 {
            return Err(Error::InvalidParam { name: "chains", reason: "need at least one chain".into() });
        }
        let x = Exchange::new(n, betas, rbm.n_visible())?;
        let total = x.diff.len();
        let (visible, streams, _) = PackedChains::new(rbm, total, seed)?.into_parts();
        let wh = words_per_row(rbm.n_hidden());
        let hidden = crate::alloc::try_vec(
            crate::kernels::mul_dims("packed states", total, wh)?,
            0u64,
            "packed states",
        )?;
        Ok(PackedTemperedChains {
            n_visible: rbm.n_visible(),
            n_hidden: rbm.n_hidden(),
            visible,
            hidden,
            streams,
            isa: simd::active_isa(),
            sweeps: 0,
            x,
        })
    }

    /// Sets the base model's visible biases `b_A` (see
    /// [`super::Tempering::set_base`]).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a wrong length, [`Error::InvalidParam`]
    /// for non-finite values.
    pub fn set_base(&mut self, base_bias: &[f32]) -> Result<()> {
        self.x.set_base(base_bias)
    }

    /// Uses `isa` for the element-wise kernels from now on.
    ///
    /// # Errors
    /// [`Error::IsaUnavailable`] if the CPU lacks it.
    pub fn set_isa(&mut self, isa: Isa) -> Result<()> {
        self.isa = isa.check()?;
        Ok(())
    }

    /// Starts every replica of chain `c` at row `c` of `visible` (`n × D`,
    /// binary), as [`super::TemperedChains::set_visible`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NotBinary`].
    pub fn set_visible(&mut self, visible: &[f32]) -> Result<()> {
        let (d, n) = (self.n_visible, self.x.n);
        crate::kernels::check_len("visible states (chains × n_visible)", visible.len(), n * d)?;
        if let Some(index) = visible.iter().position(|&x| x != 0.0 && x != 1.0) {
            return Err(Error::NotBinary { what: "visible states", index, value: visible[index] });
        }
        let w = words_per_row(d);
        for (i, out) in self.visible.chunks_mut(w).enumerate() {
            pack_row(&visible[(i % n) * d..(i % n + 1) * d], out);
        }
        Ok(())
    }

    /// `k` sweeps, each one Gibbs sweep of every replica then one swap
    /// round.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `rbm` does not have the chains' sizes.
    pub fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        let (d, h) = (self.n_visible, self.n_hidden);
        if rbm.n_visible() != d || rbm.n_hidden() != h {
            return Err(Error::ShapeMismatch {
                what: "model sizes (chains' n_visible + n_hidden)",
                expected: d + h,
                got: rbm.n_visible() + rbm.n_hidden(),
            });
        }
        // The products' choice as in `Tempering::sweep`, for the same bits.
        let mut products = HalfStepProducts::new(self.isa, rbm.weights(), d, h);
        if k.saturating_mul(self.streams.len()) >= gibbs::BINARY_MIN_CHAIN_SWEEPS {
            products = products.with_packed();
        }
        for _ in 0..k {
            self.sweep_once(rbm, &products);
        }
        Ok(())
    }

    fn sweep_once(&mut self, rbm: &Rbm, products: &HalfStepProducts<'_>) {
        let (d, h, isa) = (self.n_visible, self.n_hidden, self.isa);
        let (wd, wh) = (words_per_row(d), words_per_row(h));
        let terms = self.x.terms(rbm);
        self.visible
            .par_chunks_mut(BLOCK * wd)
            .zip(self.hidden.par_chunks_mut(BLOCK * wh))
            .zip(self.streams.par_chunks_mut(BLOCK))
            .zip(self.x.diff.par_chunks_mut(BLOCK))
            .enumerate()
            .for_each_init(Scratch::default, |ws, (blk, (((vb, hb), s), diff))| {
                let m = s.len();
                ws.v.resize(m * d, 0.0);
                ws.h.resize(m * h, 0.0);
                ws.pre_h.resize(m * h, 0.0);
                for (words, row) in vb.chunks(wd).zip(ws.v.chunks_mut(d)) {
                    unpack_row(words, row);
                }
                for (words, row) in hb.chunks(wh.max(1)).zip(ws.h.chunks_mut(h.max(1))) {
                    unpack_row(words, row);
                }
                exchange::sweep_rows(
                    isa,
                    products,
                    &terms,
                    blk * BLOCK,
                    &mut ws.v,
                    &mut ws.h,
                    s,
                    &mut ws.pre_h,
                    diff,
                    &mut ws.block,
                );
                for (row, words) in ws.v.chunks(d).zip(vb.chunks_mut(wd)) {
                    pack_row(row, words);
                }
                for (row, words) in ws.h.chunks(h.max(1)).zip(hb.chunks_mut(wh.max(1))) {
                    pack_row(row, words);
                }
            });
        self.sweeps += 1;
        let sweep = self.sweeps;
        let bufs = [RowBytes::of(&mut self.visible, wd), RowBytes::of(&mut self.hidden, wh)];
        self.x.swap_round(&mut self.streams, &bufs, (sweep - 1) % 2 == 1, sweep);
    }

    /// Visible states of the β = 1 replicas (`n × D`, 0.0/1.0).
    pub fn visible(&self) -> Vec<f32> {
        self.replica_visible(self.x.betas.len() - 1)
    }

    /// Visible states of replica `r` (0: the hottest), `n × D`.
    ///
    /// # Panics
    /// If `r` is not below the number of temperatures.
    pub fn replica_visible(&self, r: usize) -> Vec<f32> {
        assert!(r < self.x.betas.len(), "replica {r} of {}", self.x.betas.len());
        let (d, n, w) = (self.n_visible, self.x.n, words_per_row(self.n_visible));
        let mut out = vec![0.0f32; n * d];
        for (words, row) in self.visible[r * n * w..(r + 1) * n * w].chunks(w).zip(out.chunks_mut(d)) {
            unpack_row(words, row);
        }
        out
    }

    /// Every replica's packed visible states (`K·n × ⌈D/64⌉` words,
    /// replica-major; layout of [`crate::kernels::binary::pack_rows`]).
    pub fn visible_bits(&self) -> &[u64] {
        &self.visible
    }

    /// Every replica's packed hidden states (`K·n × ⌈H/64⌉` words).
    pub fn hidden_bits(&self) -> &[u64] {
        &self.hidden
    }

    /// Every replica's stream, replica-major.
    pub fn streams(&self) -> &[StreamState] {
        &self.streams
    }

    /// The ladder.
    pub fn betas(&self) -> &[f32] {
        &self.x.betas
    }

    /// Chains per temperature.
    pub fn n_chains(&self) -> usize {
        self.x.n
    }

    /// Visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.n_visible
    }

    /// The ISA of the element-wise kernels.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Acceptance rate of the swaps between `β_r` and `β_{r+1}` for each `r`
    /// (NaN before the first attempt); see [`super::Tempering::swap_rates`].
    pub fn swap_rates(&self) -> Vec<f64> {
        self.x.swap_rates()
    }

    /// Completed round trips and their mean length in sweeps; see
    /// [`super::Tempering::round_trips`].
    pub fn round_trips(&self) -> (u64, f64) {
        self.x.round_trips()
    }

    /// Moves the inner temperatures toward equal swap acceptance; see
    /// [`super::Tempering::adapt_ladder`].
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `step` outside (0, 1].
    pub fn adapt_ladder(&mut self, step: f64) -> Result<bool> {
        self.x.adapt_ladder(step)
    }

    /// Clears the swap and round-trip counters.
    pub fn reset_statistics(&mut self) {
        self.x.reset_statistics()
    }

    /// Sweeps done.
    pub fn sweeps_done(&self) -> u64 {
        self.sweeps
    }

    /// Bytes of state per replica row: packed visible and hidden words, the
    /// stream and the energy difference (the walker bookkeeping adds 21).
    pub fn bytes_per_replica(&self) -> usize {
        (words_per_row(self.n_visible) + words_per_row(self.n_hidden)) * 8
            + std::mem::size_of::<StreamState>()
            + 8
    }

    /// Fraction of visible units that are on, over every replica.
    pub fn visible_density(&self) -> f64 {
        let ones: u64 = self.visible.iter().map(|w| w.count_ones() as u64).sum();
        ones as f64 / (self.streams.len() as f64 * self.n_visible as f64)
    }
}

/// Per-thread scratch of a packed tempered sweep: one block's rows as f32.
#[derive(Default)]
struct Scratch {
    v: Vec<f32>,
    h: Vec<f32>,
    pre_h: Vec<f32>,
    block: BlockScratch,
}
