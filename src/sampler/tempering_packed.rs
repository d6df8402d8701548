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
use crate::kernels::binary::{self, BinaryRows, PackedWeights, pack_row, unpack_row, words_per_row};
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
        let fused = products.binary_weights().map(|(pw, pwt)| Fused::new(&terms, pw, pwt, h));
        self.visible
            .par_chunks_mut(BLOCK * wd)
            .zip(self.hidden.par_chunks_mut(BLOCK * wh))
            .zip(self.streams.par_chunks_mut(BLOCK))
            .zip(self.x.diff.par_chunks_mut(BLOCK))
            .enumerate()
            .for_each_init(Scratch::default, |ws, (blk, (((vb, hb), s), diff))| {
                let first = blk * BLOCK;
                match &fused {
                    Some(f) => f.sweep(isa, products, &terms, first, vb, hb, s, diff, ws),
                    None => unpacked_sweep(isa, products, &terms, first, (d, h), vb, hb, s, diff, ws),
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

/// Per-thread scratch of a packed tempered sweep: one block's rows as f32,
/// and the set positions and random bits of the fused half-steps.
#[derive(Default)]
struct Scratch {
    v: Vec<f32>,
    h: Vec<f32>,
    pre_h: Vec<f32>,
    block: BlockScratch,
    rows: Option<BinaryRows>,
    random: Vec<u64>,
    gathered: Gathered,
}

/// The block sweep through f32 rows: unpack, the f32 ensemble's block
/// sweep ([`exchange::sweep_rows`]), pack.
#[allow(clippy::too_many_arguments)]
fn unpacked_sweep(
    isa: Isa,
    products: &HalfStepProducts<'_>,
    terms: &exchange::Terms,
    first: usize,
    (d, h): (usize, usize),
    vb: &mut [u64],
    hb: &mut [u64],
    s: &mut [StreamState],
    diff: &mut [f64],
    ws: &mut Scratch,
) {
    let m = s.len();
    unpack(vb, d, m, &mut ws.v);
    unpack(hb, h, m, &mut ws.h);
    ws.pre_h.resize(m * h, 0.0);
    exchange::sweep_rows(
        isa,
        products,
        terms,
        first,
        &mut ws.v,
        &mut ws.h,
        s,
        &mut ws.pre_h,
        diff,
        &mut ws.block,
    );
    pack(&ws.v, d, vb);
    pack(&ws.h, h, hb);
}

/// `m` packed rows of width `k` into `out` as 0.0/1.0.
fn unpack(bits: &[u64], k: usize, m: usize, out: &mut Vec<f32>) {
    out.resize(m * k, 0.0);
    for (words, row) in bits.chunks(words_per_row(k).max(1)).zip(out.chunks_mut(k.max(1))) {
        unpack_row(words, row);
    }
}

/// Rows of width `k` into packed words.
fn pack(x: &[f32], k: usize, bits: &mut [u64]) {
    for (row, words) in x.chunks(k.max(1)).zip(bits.chunks_mut(words_per_row(k).max(1))) {
        pack_row(row, words);
    }
}

/// The half-steps on bits when the weights are packed for binary products.
/// Per replica segment of a block, the rows sparse enough for the binary
/// kernel (the f32 ensemble's per-row test) are **fused** — binary product,
/// `β·` scaling, bias, sigmoid, uniform compare and packing in registers
/// ([`binary::packed_sample_unchecked`]), the hidden step also writing
/// `Wᵀv` for the energies — and the denser rows go through f32 and the dense
/// product, as in the f32 ensemble. Each row draws its uniforms from its own
/// stream, so the bits equal the f32 ensemble's.
struct Fused<'a> {
    pw: &'a PackedWeights,
    pwt: &'a PackedWeights,
    /// Per replica, the biases padded to a multiple of the panel width.
    vbias: Vec<Vec<f32>>,
    hbias: Vec<Vec<f32>>,
}

/// Per-thread scratch of [`Fused`]: one subset of a segment's rows gathered.
#[derive(Default)]
struct Gathered {
    input: Vec<u64>,
    uniforms: Vec<u64>,
    output: Vec<u64>,
    pre: Vec<f32>,
    x: Vec<f32>,
    y: Vec<f32>,
    rows: Vec<usize>,
    sparse: Vec<bool>,
}

impl<'a> Fused<'a> {
    fn new(terms: &exchange::Terms, pw: &'a PackedWeights, pwt: &'a PackedWeights, h: usize) -> Fused<'a> {
        let d = terms.d;
        let pad = |b: &[f32]| {
            let mut p = b.to_vec();
            p.resize(b.len().next_multiple_of(simd::PANEL), 0.0);
            p
        };
        let k = terms.betas.len();
        Fused {
            pw,
            pwt,
            vbias: (0..k).map(|r| pad(&terms.vbias[r * d..(r + 1) * d])).collect(),
            hbias: (0..k).map(|r| pad(&terms.hbias[r * h..(r + 1) * h])).collect(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn sweep(
        &self,
        isa: Isa,
        products: &HalfStepProducts<'_>,
        terms: &exchange::Terms,
        first: usize,
        vb: &mut [u64],
        hb: &mut [u64],
        s: &mut [StreamState],
        diff: &mut [f64],
        ws: &mut Scratch,
    ) {
        let (d, h, m) = (self.pw.k(), self.pw.n(), s.len());
        // v ~ p_β(v|h), then h ~ p_β(h|v) keeping Wᵀv in ws.pre_h.
        self.half(isa, products, terms, first, false, hb, vb, s, ws);
        ws.pre_h.resize(m * h, 0.0);
        self.half(isa, products, terms, first, true, vb, hb, s, ws);
        // The energies, from the rows as f32 (the f32 ensemble's sums).
        unpack(vb, d, m, &mut ws.v);
        unpack(hb, h, m, &mut ws.h);
        for (e, ((vr, hr), pr)) in
            diff.iter_mut().zip(ws.v.chunks_exact(d).zip(ws.h.chunks_exact(h)).zip(ws.pre_h.chunks_exact(h)))
        {
            *e = terms.energy_difference(vr, hr, pr);
        }
    }

    /// One half-step of the block: `hidden` (visible bits `input` → hidden
    /// bits `output`, `Wᵀv` into `ws.pre_h`) or not (hidden → visible).
    #[allow(clippy::too_many_arguments)]
    fn half(
        &self,
        isa: Isa,
        products: &HalfStepProducts<'_>,
        terms: &exchange::Terms,
        first: usize,
        hidden: bool,
        input: &[u64],
        output: &mut [u64],
        s: &mut [StreamState],
        ws: &mut Scratch,
    ) {
        let (w, biases) = if hidden { (self.pw, &self.hbias) } else { (self.pwt, &self.vbias) };
        let (k, n, m) = (w.k(), w.n(), s.len());
        let (wk, wn) = (words_per_row(k).max(1), words_per_row(n).max(1));
        let words = n.div_ceil(2);
        let g = &mut ws.gathered;
        // Every row's uniforms, each from its own stream.
        ws.random.resize(m * words, 0);
        simd::xoshiro_fill(isa, s, words, &mut ws.random);
        g.sparse.clear();
        g.sparse.extend(input[..m * wk].chunks(wk).map(|r| {
            binary::sparse_wins(
                isa,
                r.iter().map(|x| x.count_ones() as usize).sum::<usize>() as f64 / k as f64,
            )
        }));
        for (r, i, j) in terms.segments(first, m) {
            for sparse in [true, false] {
                g.rows.clear();
                g.rows.extend((i..j).filter(|&t| g.sparse[t] == sparse));
                let c = g.rows.len();
                if c == 0 {
                    continue;
                }
                g.uniforms.clear();
                g.input.clear();
                for &t in &g.rows {
                    g.uniforms.extend_from_slice(&ws.random[t * words..(t + 1) * words]);
                    g.input.extend_from_slice(&input[t * wk..(t + 1) * wk]);
                }
                g.output.clear();
                g.output.resize(c * wn, 0);
                g.pre.resize(c * n, 0.0);
                let u: &[u32] = bytemuck::cast_slice(&g.uniforms);
                if sparse {
                    let rows = ws.rows.get_or_insert_with(|| BinaryRows::new(k));
                    rows.fill_from_bits_seq(&g.input, k);
                    let pre = hidden.then_some(&mut g.pre[..]);
                    binary::packed_sample_unchecked(
                        isa,
                        rows,
                        w,
                        &biases[r],
                        u,
                        2 * words,
                        terms.betas[r],
                        pre,
                        &mut g.output,
                    );
                } else {
                    // The f32 ensemble's path for these rows: its per-row
                    // choice picks the dense product for each of them.
                    unpack(&g.input, k, c, &mut g.x);
                    if hidden {
                        products.visible_to_hidden_rows(isa, c, &g.x, &mut g.pre, &mut ws.block.binary);
                    } else {
                        products.hidden_to_visible_rows(isa, c, &g.x, &mut g.pre, &mut ws.block.binary);
                    }
                    let beta = terms.betas[r];
                    g.y.clear();
                    g.y.extend(g.pre.iter().map(|&p| beta * p));
                    let bias = &biases[r][..n];
                    let mut out = std::mem::take(&mut g.x);
                    out.resize(c * n, 0.0);
                    simd::bernoulli(isa, &g.y, bias, u, 2 * words, &mut out);
                    pack(&out, n, &mut g.output);
                    g.x = out;
                }
                for (a, &t) in g.rows.iter().enumerate() {
                    output[t * wn..(t + 1) * wn].copy_from_slice(&g.output[a * wn..(a + 1) * wn]);
                    if hidden {
                        ws.pre_h[t * n..(t + 1) * n].copy_from_slice(&g.pre[a * n..(a + 1) * n]);
                    }
                }
            }
        }
    }
}
