//! Chain ensembles with bit-packed states, for millions of chains.
//!
//! [`PackedChains`] keeps each chain's visible state as bits (⌈D/64⌉ u64
//! words: 104 bytes for D = 784) and its xoshiro256++ stream (32 bytes) —
//! 136 bytes per chain instead of ≈ 5 KB for [`crate::Chains`]' f32 states,
//! so 1,000,000 chains of a 784 × 500 model hold 136 MB. Hidden states are
//! not kept: each sweep starts by resampling them from the visible ones
//! (`h ~ p(h|v)`, then `v ~ p(v|h)`), so they carry no information between
//! sweeps.
//!
//! A sweep works on one block of chains at a time. When the weights are
//! packed for binary products (a call of ≥ 512 chain-sweeps on a model
//! above the no-packing size) each half-step is **fused**: set positions
//! straight from the bits, then per weight panel the product, bias,
//! sigmoid, uniform, compare and packing of the 16 new states in registers
//! (`kernels::binary::packed_sample_unchecked`) — no pre-activation or f32
//! state matrix — whenever every chain of the block is sparse enough; a
//! block with denser chains goes through f32 rows and the per-chain choice
//! of [`crate::Chains`]. Otherwise the block is unpacked into f32 scratch,
//! swept with the kernels of [`crate::Chains`], and packed back. Scratch is
//! per block (a few MB per thread), independent of the number of chains. Blocks run in parallel; each chain
//! uses only its own stream, so the result is bit-identical for any thread
//! count — and equal to [`crate::Chains`] with the same seed
//! (`tests/packed.rs`).

use super::gibbs;
use crate::error::{Error, Result};
use crate::kernels::binary::{self, BinaryRows, PackedWeights, pack_row, unpack_row, words_per_row};
use crate::kernels::gemm::{BinaryScratch, HalfStepProducts};
use crate::kernels::mul_dims;
use crate::model::Rbm;
use crate::rng::{self, StreamState};
use crate::simd::{self, Isa};
use rayon::prelude::*;

/// Chains per block of a packed sweep (bounds the scratch memory).
pub const BLOCK: usize = 256;

/// `B` block-Gibbs chains with bit-packed visible states.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, sampler::PackedChains};
/// let rbm = Rbm::random(784, 500, 0.01, 0.0, 1).unwrap();
/// let mut chains = PackedChains::new(&rbm, 10_000, 42).unwrap();
/// chains.sweep(&rbm, 2).unwrap();
/// assert_eq!(chains.bytes_per_chain(), 13 * 8 + 32);
/// assert!((chains.visible_density() - 0.5).abs() < 0.05);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PackedChains {
    n_visible: usize,
    n_hidden: usize,
    batch: usize,
    /// `batch × words_per_row(D)` words.
    visible: Vec<u64>,
    streams: Vec<StreamState>,
    isa: Isa,
    sweeps: u64,
}

impl PackedChains {
    /// `batch` chains with visible states drawn uniformly at random from
    /// each chain's stream — the same states and stream positions as
    /// [`crate::Chains::new`] with the same seed.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `batch == 0`, [`Error::TooLarge`] when the
    /// states would not fit in memory.
    pub fn new(rbm: &Rbm, batch: usize, seed: u64) -> Result<PackedChains> {
        Self::shard(rbm, batch, 0, batch, seed)
    }

    /// Chains `start .. start + len` of the ensemble `PackedChains::new(rbm,
    /// total, seed)`, with the states and streams they have there (for an
    /// ensemble split over processes, [`crate::Chains::shard`] for packed
    /// states).
    ///
    /// # Errors
    /// As [`PackedChains::new`], and [`Error::InvalidParam`] for a range
    /// outside the ensemble.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::{Rbm, sampler::PackedChains};
    /// let rbm = Rbm::random(70, 8, 0.1, 0.0, 1)?;
    /// let all = PackedChains::new(&rbm, 10, 3)?;
    /// let part = PackedChains::shard(&rbm, 10, 6, 4, 3)?;
    /// assert_eq!(part.visible_bits(), &all.visible_bits()[6 * 2..]);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn shard(rbm: &Rbm, total: usize, start: usize, len: usize, seed: u64) -> Result<PackedChains> {
        if start.checked_add(len).is_none_or(|end| end > total) {
            return Err(Error::InvalidParam {
                name: "shard",
                reason: format!("chains {start}..{start}+{len} are not within the {total} chains"),
            });
        }
        let batch = len;
        if batch == 0 {
            return Err(Error::InvalidParam { name: "batch", reason: "need at least one chain".into() });
        }
        let d = rbm.n_visible();
        let w = words_per_row(d);
        let per_chain = (w * 8 + std::mem::size_of::<StreamState>()) as u128;
        crate::alloc::check_bytes("packed chain states", batch as u128 * per_chain, 1)?;
        let mut c = PackedChains {
            n_visible: d,
            n_hidden: rbm.n_hidden(),
            batch,
            visible: crate::alloc::try_vec(mul_dims("packed states", batch, w)?, 0u64, "packed states")?,
            streams: rng::chain_streams_range(seed, start, batch)?,
            isa: simd::active_isa(),
            sweeps: 0,
        };
        // Uniform start, as Chains::new: u < σ(0) = ½, ⌈D/2⌉ outputs per chain.
        let isa = c.isa;
        let words = d.div_ceil(2);
        let zeros = vec![0.0f32; d];
        c.visible.par_chunks_mut(w * BLOCK).zip(c.streams.par_chunks_mut(BLOCK)).for_each(|(vb, s)| {
            let mut bits = vec![0u64; s.len() * words];
            simd::xoshiro_fill(isa, s, words, &mut bits);
            let pre = vec![0.0f32; s.len() * d];
            let mut v = vec![0.0f32; s.len() * d];
            simd::bernoulli(isa, &pre, &zeros, bytemuck::cast_slice(&bits), 2 * words, &mut v);
            for (row, out) in v.chunks(d).zip(vb.chunks_mut(w)) {
                pack_row(row, out);
            }
        });
        Ok(c)
    }

    /// Chains from parts you keep — packed visible states (`batch ×
    /// ⌈D/64⌉` words, the layout of [`binary::pack_rows`]: unit `i` of a
    /// row is bit `i % 64` of word `i / 64`, bits past `D` zero), one
    /// stream per chain, and the sweeps done — e.g. streams from
    /// [`rng::chain_streams`] or your own generator, or what
    /// [`PackedChains::into_parts`] gave back.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for no streams or an all-zero stream state
    /// (which xoshiro cannot leave); [`Error::ShapeMismatch`] for a state
    /// length other than `batch × ⌈D/64⌉` or a bit set past `D`.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::{Rbm, rng, sampler::PackedChains};
    /// let rbm = Rbm::random(100, 20, 0.1, 0.0, 1)?;
    /// // 8 chains from all-zero states, streams of your own seed.
    /// let mut a = PackedChains::from_parts(&rbm, vec![0; 8 * 2], rng::chain_streams(5, 8)?, 0)?;
    /// a.sweep(&rbm, 3)?;
    /// let (bits, streams, sweeps) = a.clone().into_parts();
    /// let b = PackedChains::from_parts(&rbm, bits, streams, sweeps)?;
    /// assert_eq!(a, b);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn from_parts(
        rbm: &Rbm,
        visible: Vec<u64>,
        streams: Vec<StreamState>,
        sweeps: u64,
    ) -> Result<PackedChains> {
        let (d, batch) = (rbm.n_visible(), streams.len());
        if batch == 0 {
            return Err(Error::InvalidParam { name: "batch", reason: "need at least one chain".into() });
        }
        let w = words_per_row(d);
        crate::kernels::check_len(
            "packed visible states (batch × ⌈D/64⌉ words)",
            mul_dims("packed states", batch, w)?,
            visible.len(),
        )?;
        if d % 64 != 0 {
            let tail = !0u64 << (d % 64);
            if let Some(r) = visible.chunks_exact(w).position(|row| row[w - 1] & tail != 0) {
                return Err(Error::ShapeMismatch {
                    what: "packed visible states (a bit set past n_visible; row index in `got`)",
                    expected: d,
                    got: r,
                });
            }
        }
        rng::check_streams(&streams)?;
        Ok(PackedChains {
            n_visible: d,
            n_hidden: rbm.n_hidden(),
            batch,
            visible,
            streams,
            isa: simd::active_isa(),
            sweeps,
        })
    }

    /// The parts [`PackedChains::from_parts`] takes: packed visible states,
    /// streams and the number of sweeps done.
    pub fn into_parts(self) -> (Vec<u64>, Vec<StreamState>, u64) {
        (self.visible, self.streams, self.sweeps)
    }

    /// Uses `isa` for the element-wise kernels from now on.
    ///
    /// # Errors
    /// [`Error::IsaUnavailable`] if the CPU lacks it.
    pub fn set_isa(&mut self, isa: Isa) -> Result<()> {
        self.isa = isa.check()?;
        Ok(())
    }

    /// Sets every chain's visible state from row-major 0/1 values
    /// (`batch × D`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a wrong length, [`Error::NotBinary`] for
    /// other values.
    pub fn set_visible(&mut self, visible: &[f32]) -> Result<()> {
        let d = self.n_visible;
        crate::kernels::check_len("visible states (batch × n_visible)", self.batch * d, visible.len())?;
        if let Some(index) = visible.iter().position(|&x| x != 0.0 && x != 1.0) {
            return Err(Error::NotBinary { what: "visible states", index, value: visible[index] });
        }
        binary::pack_rows(visible, d, &mut self.visible)
    }

    /// Starts chain `i` at row `i mod n` of `data` (binary, `D` wide),
    /// packing row by row (no `batch × D` float buffer).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for data of another width,
    /// [`Error::InvalidParam`] for no rows, [`Error::NotBinary`].
    pub fn set_visible_cycled(&mut self, data: &crate::data::Dataset) -> Result<()> {
        let d = self.n_visible;
        super::check_start_rows(data, d)?;
        let w = words_per_row(d);
        let n = data.len();
        self.visible.par_chunks_mut(w).enumerate().for_each(|(i, out)| pack_row(data.row(i % n), out));
        Ok(())
    }

    /// `k` sweeps `h ~ p(h|v)`, `v ~ p(v|h)` of every chain.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `rbm`'s sizes differ from the chains'.
    pub fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        self.sweep_in_ensemble(rbm, k, self.batch)
    }

    /// [`PackedChains::sweep`] of a share of an ensemble of `ensemble`
    /// chains: the choice that depends on the chain count is made for the
    /// whole ensemble (as [`crate::Chains`] does for its shares).
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn sweep_in_ensemble(&mut self, rbm: &Rbm, k: usize, ensemble: usize) -> Result<()> {
        let (d, h) = (self.n_visible, self.n_hidden);
        if rbm.n_visible() != d || rbm.n_hidden() != h {
            return Err(Error::ShapeMismatch {
                what: "model sizes (n_visible·n_hidden of the chains)",
                expected: d * h,
                got: rbm.n_visible() * rbm.n_hidden(),
            });
        }
        if k == 0 {
            return Ok(());
        }
        let isa = self.isa;
        let w = words_per_row(d);
        let mut products = HalfStepProducts::new(isa, rbm.weights(), d, h);
        if k.saturating_mul(ensemble) >= gibbs::BINARY_MIN_CHAIN_SWEEPS {
            products = products.with_packed();
        }
        if let Some((pw, pwt)) = products.binary_weights() {
            // Fused half-steps on the bits (f32 only for blocks with dense
            // rows).
            let pad = |b: &[f32]| {
                let mut p = b.to_vec();
                p.resize(b.len().next_multiple_of(simd::PANEL), 0.0);
                p
            };
            let halves = [
                Half { k: d, n: h, packed: pw, bias: rbm.hidden_bias(), bias_padded: pad(rbm.hidden_bias()) },
                Half {
                    k: h,
                    n: d,
                    packed: pwt,
                    bias: rbm.visible_bias(),
                    bias_padded: pad(rbm.visible_bias()),
                },
            ];
            self.visible.par_chunks_mut(w * BLOCK).zip(self.streams.par_chunks_mut(BLOCK)).for_each_init(
                || BitsWorkspace::new(d, h),
                |ws, (vb, s)| {
                    for _ in 0..k {
                        half_step_bits(isa, &products, &halves[0], true, vb, s, ws);
                        half_step_bits(isa, &products, &halves[1], false, vb, s, ws);
                    }
                },
            );
            self.sweeps += k as u64;
            return Ok(());
        }
        self.visible.par_chunks_mut(w * BLOCK).zip(self.streams.par_chunks_mut(BLOCK)).for_each_init(
            || (gibbs::Workspace::new(BLOCK, d, h), vec![0.0f32; BLOCK * d], vec![0.0f32; BLOCK * h]),
            |(ws, v, hs), (vb, s)| {
                let rows = s.len();
                let (v, hs) = (&mut v[..rows * d], &mut hs[..rows * h]);
                for (words, row) in vb.chunks(w).zip(v.chunks_mut(d)) {
                    unpack_row(words, row);
                }
                gibbs::sweep_block(isa, rbm, &products, v, hs, s, ws, k);
                for (row, words) in v.chunks(d).zip(vb.chunks_mut(w)) {
                    pack_row(row, words);
                }
            },
        );
        self.sweeps += k as u64;
        Ok(())
    }

    /// The ISA used by [`PackedChains::sweep`].
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Number of chains.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Number of chains (the same as [`PackedChains::batch`]).
    pub fn len(&self) -> usize {
        self.batch
    }

    /// Never true: an ensemble holds at least one chain.
    pub fn is_empty(&self) -> bool {
        self.batch == 0
    }

    /// Visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.n_visible
    }

    /// The packed visible states (`batch × ⌈D/64⌉` words; see
    /// [`binary::pack_rows`] for the layout).
    pub fn visible_bits(&self) -> &[u64] {
        &self.visible
    }

    /// Chain `i`'s visible state as 0.0/1.0.
    ///
    /// # Panics
    /// If `i >= self.batch()`.
    pub fn visible_row(&self, i: usize) -> Vec<f32> {
        let w = words_per_row(self.n_visible);
        let mut out = vec![0.0f32; self.n_visible];
        unpack_row(&self.visible[i * w..(i + 1) * w], &mut out);
        out
    }

    /// The chains' streams.
    pub fn streams(&self) -> &[StreamState] {
        &self.streams
    }

    /// Sweeps done so far.
    pub fn sweeps_done(&self) -> u64 {
        self.sweeps
    }

    /// Bytes of state per chain (packed visible words and the stream).
    pub fn bytes_per_chain(&self) -> usize {
        words_per_row(self.n_visible) * 8 + std::mem::size_of::<StreamState>()
    }

    /// Fraction of visible units that are on, over all chains (popcount).
    pub fn visible_density(&self) -> f64 {
        let ones: u64 =
            self.visible.par_chunks(4096).map(|c| c.iter().map(|w| w.count_ones() as u64).sum::<u64>()).sum();
        ones as f64 / (self.batch as f64 * self.n_visible as f64)
    }

    /// Number of visible units in which chains `i` and `j` differ (popcount
    /// of the XOR).
    ///
    /// # Panics
    /// If `i` or `j` is out of range.
    pub fn hamming(&self, i: usize, j: usize) -> u32 {
        let w = words_per_row(self.n_visible);
        let (a, b) = (&self.visible[i * w..(i + 1) * w], &self.visible[j * w..(j + 1) * w]);
        a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
    }
}

/// One direction of a sweep for [`half_step_bits`]: `k` inputs, `n`
/// outputs, the packed weights for it and the output bias.
struct Half<'a> {
    k: usize,
    n: usize,
    packed: &'a PackedWeights,
    bias: &'a [f32],
    bias_padded: Vec<f32>,
}

/// Per-thread scratch of the fused sweep: the hidden bits, random bits,
/// index lists, and f32 rows for blocks with dense rows.
struct BitsWorkspace {
    hidden: Vec<u64>,
    random: Vec<u64>,
    rows: BinaryRows,
    x: Vec<f32>,
    pre: Vec<f32>,
    out: Vec<f32>,
    binary: BinaryScratch,
}

impl BitsWorkspace {
    fn new(d: usize, h: usize) -> Self {
        let m = d.max(h);
        BitsWorkspace {
            hidden: vec![0; BLOCK * words_per_row(h)],
            random: vec![0; BLOCK * m.div_ceil(2)],
            rows: BinaryRows::new(m),
            x: vec![0.0; BLOCK * m],
            pre: vec![0.0; BLOCK * m],
            out: vec![0.0; BLOCK * m],
            binary: BinaryScratch::default(),
        }
    }
}

/// One half-step of a block on packed states: `hidden` (the visible bits
/// `vb` → the workspace's hidden bits) or not (hidden bits → `vb`). When
/// every row of the block is sparse enough for the binary kernel (the
/// per-row test of [`crate::Chains`]), the product, bias, sigmoid, uniform,
/// compare and packing happen in one pass per panel
/// ([`binary::packed_sample_unchecked`]); otherwise the rows go through
/// f32 and the same per-row choice as `Chains`. Either way the samples
/// equal `Chains`'.
fn half_step_bits(
    isa: Isa,
    products: &HalfStepProducts<'_>,
    half: &Half<'_>,
    hidden: bool,
    vb: &mut [u64],
    streams: &mut [StreamState],
    ws: &mut BitsWorkspace,
) {
    let rows = streams.len();
    let (k, n) = (half.k, half.n);
    let (wk, wn) = (words_per_row(k), words_per_row(n));
    let mut hb = std::mem::take(&mut ws.hidden);
    let (input, output): (&[u64], &mut [u64]) = if hidden {
        (&vb[..rows * wk], &mut hb[..rows * wn])
    } else {
        (&hb[..rows * wk], &mut vb[..rows * wn])
    };
    let words = n.div_ceil(2);
    let random = &mut ws.random[..rows * words];
    simd::xoshiro_fill(isa, streams, words, random);
    let u: &[u32] = bytemuck::cast_slice(random);
    let all_sparse = input.chunks(wk.max(1)).all(|r| {
        binary::sparse_wins(isa, r.iter().map(|w| w.count_ones() as usize).sum::<usize>() as f64 / k as f64)
    });
    if all_sparse {
        ws.rows.fill_from_bits_seq(input, k);
        binary::packed_sample_unchecked(isa, &ws.rows, half.packed, &half.bias_padded, u, 2 * words, output);
    } else {
        let (x, pre, out) = (&mut ws.x[..rows * k], &mut ws.pre[..rows * n], &mut ws.out[..rows * n]);
        for (words, row) in input.chunks(wk.max(1)).zip(x.chunks_mut(k)) {
            unpack_row(words, row);
        }
        if hidden {
            products.visible_to_hidden_rows(isa, rows, x, pre, &mut ws.binary);
        } else {
            products.hidden_to_visible_rows(isa, rows, x, pre, &mut ws.binary);
        }
        simd::bernoulli(isa, pre, half.bias, u, 2 * words, out);
        for (row, words) in out.chunks(n).zip(output.chunks_mut(wn.max(1))) {
            pack_row(row, words);
        }
    }
    ws.hidden = hb;
}
