//! Products of binary matrices with dense ones, without multiplications.
//!
//! Gibbs states are 0/1, and on data like MNIST mostly 0: the product of a
//! binary row with `W` is the sum of the rows of `W` selected by its set
//! bits. [`BinaryRows`] holds a binary matrix as the list of set positions
//! of each row (built once per state, `O(rows·k)` compares);
//! [`PackedWeights`] holds `W` (or `Wᵀ`) in panels of 16 columns, each
//! panel's `k` rows contiguous (one cache line per row, packed once per
//! model); [`binary_times`] sweeps every binary row over one panel before
//! moving to the next, so the panel stays in L1 while it is reused, with
//! eight accumulators per column in registers. The cost is `nnz × n`
//! additions instead of `rows × k × n` multiply-adds.
//!
//! Each output element is a sum in a fixed order (`a[t mod 8] += w(idx[t])`
//! over the row's set positions `idx`, then `((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7))`;
//! no FMA), so every ISA and every thread count gives the same bits (tested
//! against the same order in plain Rust and against f64 products). It
//! differs from a dense GEMM's result only by rounding.
//!
//! Measured single-threaded on the 2-core AVX-512 development VM
//! (`cargo bench --bench kernels -- binary_times`, perf-notes.md): at
//! 100 × 784 × 500 the AVX-512 kernel takes 55–80 / 91–147 / 164–277 µs at
//! 5 / 10 / 20 % density against 526–572 µs for matrixmultiply's dense
//! product (two runs on a noisy VM); the crossover lies between 40 and 70 %
//! (AVX2: 30–40 %).
//!
//! Users: AIS and RAISE ([`crate::eval`]), the Gibbs sweeps of
//! [`crate::Chains`] and [`crate::sampler::PackedChains`], which pick the
//! binary or the dense product per chain with [`sparse_wins`], and training
//! ([`crate::train`]), which repacks the changing weights every batch
//! ([`PackedWeights::repack`], [`PackedWeights::repack_transposed`]) and
//! takes the weight gradient `Vᵀ·P` as a binary product too (the rows of
//! [`BinaryRows::transposed`] select rows of the packed `P`).
//! [`pack_rows`] / [`unpack_rows`] store binary states as bits (the packed
//! ensembles' format); packing is one SIMD compare per vector of states.

use super::{SendPtr, check_len, mul_dims};
use crate::error::{Error, Result};
use crate::simd::{self, Isa};
use rayon::prelude::*;

/// A binary `rows × k` matrix stored as the set positions of each row
/// (compressed sparse rows without values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryRows {
    k: usize,
    /// `offsets[r]..offsets[r+1]` indexes `indices` for row `r`.
    offsets: Vec<usize>,
    indices: Vec<u32>,
}

impl BinaryRows {
    /// An empty matrix with rows of width `k`.
    pub fn new(k: usize) -> Self {
        BinaryRows { k, offsets: vec![0], indices: Vec::new() }
    }

    /// From a row-major `rows × k` matrix of exact 0.0/1.0 values.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x.len()` is not a multiple of `k`,
    /// [`Error::NotBinary`] at the first value other than 0 or 1,
    /// [`Error::InvalidParam`] if `k` exceeds `u32::MAX` or is 0.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::kernels::binary::BinaryRows;
    /// let b = BinaryRows::from_dense(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0], 3).unwrap();
    /// assert_eq!(b.row(0), &[0, 2]);
    /// assert_eq!(b.density(), 0.5);
    /// ```
    pub fn from_dense(x: &[f32], k: usize) -> Result<Self> {
        if k == 0 || k > u32::MAX as usize {
            return Err(Error::InvalidParam {
                name: "k", reason: format!("row width {k} not in 1..=2³²−1")
            });
        }
        if !x.len().is_multiple_of(k) {
            return Err(Error::ShapeMismatch {
                what: "binary matrix (multiple of k)",
                expected: k,
                got: x.len(),
            });
        }
        if let Some(i) = x.iter().position(|&v| v != 0.0 && v != 1.0) {
            return Err(Error::NotBinary { what: "binary matrix", index: i, value: x[i] });
        }
        let mut b = BinaryRows::new(k);
        b.fill_from(x);
        Ok(b)
    }

    /// Rebuilds from states known to be binary (any nonzero counts as 1),
    /// reusing the allocations. Rows are scanned in parallel.
    pub(crate) fn fill_from(&mut self, x: &[f32]) {
        let (k, wpr) = (self.k, words_per_row(self.k));
        let isa = simd::active_isa();
        let mut bits = vec![0u64; x.len() / k * wpr];
        bits.par_chunks_mut(wpr)
            .zip(x.par_chunks(k))
            .with_min_len(16)
            .for_each(|(b, r)| simd::pack_bits(isa, r, b));
        let counts: Vec<usize> = bits.chunks(wpr).map(count_ones).collect();
        let parts = self.layout(&counts);
        parts
            .into_par_iter()
            .zip(bits.par_chunks(wpr))
            .with_min_len(16)
            .for_each(|(out, b)| set_positions(b, out));
    }

    /// [`Self::fill_from`] on the calling thread (for callers that are
    /// already one of many parallel tasks).
    pub(crate) fn fill_from_seq(&mut self, x: &[f32]) {
        let (k, wpr) = (self.k, words_per_row(self.k));
        let isa = simd::active_isa();
        let mut bits = vec![0u64; x.len() / k * wpr];
        for (b, r) in bits.chunks_mut(wpr).zip(x.chunks(k)) {
            simd::pack_bits(isa, r, b);
        }
        let counts: Vec<usize> = bits.chunks(wpr).map(count_ones).collect();
        let parts = self.layout(&counts);
        for (out, b) in parts.into_iter().zip(bits.chunks(wpr)) {
            set_positions(b, out);
        }
    }

    /// Rebuilds from bit-packed rows (`words_per_row(k)` words each, as
    /// [`pack_rows`] writes them; bits beyond `k` must be 0), reusing the
    /// allocations, on the calling thread.
    pub(crate) fn fill_from_bits_seq(&mut self, bits: &[u64], k: usize) {
        self.k = k;
        let wpr = words_per_row(k);
        let counts: Vec<usize> = bits.chunks(wpr.max(1)).map(count_ones).collect();
        let parts = self.layout(&counts);
        for (out, b) in parts.into_iter().zip(bits.chunks(wpr.max(1))) {
            set_positions(b, out);
        }
    }

    /// Appends a row given as bits (`words_per_row(k)` words; bits beyond
    /// `k` must be 0): its set positions in increasing order.
    pub(crate) fn push_bits(&mut self, bits: impl IntoIterator<Item = u64>) {
        for (blk, w) in bits.into_iter().enumerate() {
            let mut m = w;
            while m != 0 {
                self.indices.push((blk * 64) as u32 + m.trailing_zeros());
                m &= m - 1;
            }
        }
        self.offsets.push(self.indices.len());
    }

    /// Empties the matrix and sets the row width.
    pub(crate) fn reset(&mut self, k: usize) {
        self.k = k;
        self.offsets.clear();
        self.offsets.push(0);
        self.indices.clear();
    }

    /// Sets the offsets from per-row counts; returns each row's slot.
    fn layout(&mut self, counts: &[usize]) -> Vec<&mut [u32]> {
        self.offsets.clear();
        self.offsets.reserve(counts.len() + 1);
        self.offsets.push(0);
        let mut acc = 0;
        for c in counts {
            acc += c;
            self.offsets.push(acc);
        }
        self.indices.resize(acc, 0);
        let mut parts: Vec<&mut [u32]> = Vec::with_capacity(counts.len());
        let mut rest: &mut [u32] = &mut self.indices;
        for &c in counts {
            let (a, b) = rest.split_at_mut(c);
            parts.push(a);
            rest = b;
        }
        parts
    }

    /// The transpose (`k × rows`): row `i` lists the rows of `self` whose
    /// position `i` is set, increasing.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::kernels::binary::BinaryRows;
    /// let b = BinaryRows::from_dense(&[1.0, 0.0, 1.0, 0.0, 1.0, 1.0], 3).unwrap();
    /// let t = b.transposed();
    /// assert_eq!((t.rows(), t.width()), (3, 2));
    /// assert_eq!((t.row(0), t.row(1), t.row(2)), (&[0u32][..], &[1u32][..], &[0u32, 1][..]));
    /// ```
    pub fn transposed(&self) -> BinaryRows {
        let mut t = BinaryRows::new(self.rows());
        self.transpose_into(&mut t);
        t
    }

    /// [`Self::transposed`] into `t`, reusing its allocations (a counting
    /// sort: one pass to count, one to place).
    pub(crate) fn transpose_into(&self, t: &mut BinaryRows) {
        let rows = self.rows();
        t.k = rows;
        t.offsets.clear();
        t.offsets.resize(self.k + 1, 0);
        for &i in &self.indices {
            t.offsets[i as usize + 1] += 1;
        }
        for i in 0..self.k {
            t.offsets[i + 1] += t.offsets[i];
        }
        t.indices.resize(self.indices.len(), 0);
        // `fill[i]`: the next free slot of row i (starts at its offset).
        let mut fill: Vec<usize> = t.offsets[..self.k].to_vec();
        for r in 0..rows {
            for &i in self.row(r) {
                t.indices[fill[i as usize]] = r as u32;
                fill[i as usize] += 1;
            }
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Row width.
    pub fn width(&self) -> usize {
        self.k
    }

    /// The set positions of row `r`, increasing.
    ///
    /// # Panics
    /// If `r >= self.rows()`.
    pub fn row(&self, r: usize) -> &[u32] {
        &self.indices[self.offsets[r]..self.offsets[r + 1]]
    }

    /// Number of ones.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Fraction of ones (0 for an empty matrix).
    pub fn density(&self) -> f64 {
        let cells = self.rows() * self.k;
        if cells == 0 { 0.0 } else { self.nnz() as f64 / cells as f64 }
    }
}

/// A `k × n` weight matrix packed for [`binary_times`]: panels of
/// 16 columns (one cache line per weight row), each `k` rows long and
/// contiguous, the last panel zero-padded. Packed once per model; a panel of
/// a 784-row matrix is 49 KiB, about one core's L1 data cache, so the
/// weights a product reads again and again stay close.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedWeights {
    k: usize,
    n: usize,
    /// One 64-byte line per weight row of a panel, so that every row a
    /// product loads is one aligned cache line (a `Vec<f32>` from the
    /// system allocator starts 16 bytes past a page: each 64-byte row
    /// would straddle two lines).
    panels: Vec<Line>,
}

/// Sixteen floats on a 64-byte boundary: one row of one panel.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Line([f32; simd::PANEL]);

// SAFETY: `Line` is `repr(C)`, sixteen `f32` (any bits valid) filling its
// 64 bytes exactly: no padding, size a multiple of its alignment.
unsafe impl bytemuck::Zeroable for Line {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for Line {}

impl PackedWeights {
    /// Packs row-major `w` (`k × n`): the right factor of `A · W`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `w.len() != k·n`; allocation errors.
    pub fn new(w: &[f32], k: usize, n: usize) -> Result<Self> {
        check_len("W (k × n)", mul_dims("W", k, n)?, w.len())?;
        let mut p = Self::alloc(k, n)?;
        p.repack(w)?;
        Ok(p)
    }

    /// Packs `Wᵀ` for row-major `w` (`n × k`): the right factor of
    /// `A · Wᵀ` (the hidden-to-visible half-step, with `W` stored `D × H`).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn transposed(w: &[f32], n: usize, k: usize) -> Result<Self> {
        check_len("W (n × k)", mul_dims("W", n, k)?, w.len())?;
        let mut p = Self::alloc(k, n)?;
        p.repack_transposed(w)?;
        Ok(p)
    }

    /// A zeroed packing of a `k × n` matrix, for callers that write the
    /// panels themselves.
    pub(crate) fn zeroed(k: usize, n: usize) -> Result<Self> {
        Self::alloc(k, n)
    }

    fn alloc(k: usize, n: usize) -> Result<Self> {
        let np = n.div_ceil(simd::PANEL);
        let len = mul_dims("packed weights", mul_dims("packed weights", np, k)?, simd::PANEL)?;
        let panels = crate::alloc::try_vec(len / simd::PANEL, Line([0.0; simd::PANEL]), "packed weights")?;
        Ok(PackedWeights { k, n, panels })
    }

    /// Packs new values of the same shape into this allocation (as
    /// [`Self::new`]), panels in parallel: for weights that change between
    /// products (training).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `w.len() != k·n`.
    pub fn repack(&mut self, w: &[f32]) -> Result<()> {
        let (k, n) = (self.k, self.n);
        check_len("W (k × n)", k * n, w.len())?;
        self.panels_mut().par_chunks_mut(k * simd::PANEL).enumerate().for_each(|(p, panel)| {
            let j0 = p * simd::PANEL;
            let nc = simd::PANEL.min(n - j0);
            for (i, row) in panel.chunks_exact_mut(simd::PANEL).enumerate() {
                row[..nc].copy_from_slice(&w[i * n + j0..i * n + j0 + nc]);
            }
        });
        Ok(())
    }

    /// [`Self::repack`] for [`Self::transposed`]: `w` is `n × k` and panel
    /// `p` is the transpose of its rows `16p..16p+16`, by in-register 8 × 8
    /// transposes where AVX is available (47 µs for 784 × 500 on the 2-core
    /// dev VM, 2 threads, against 175 µs for the copy loop; perf-notes.md).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `w.len() != n·k`.
    pub fn repack_transposed(&mut self, w: &[f32]) -> Result<()> {
        let (k, n) = (self.k, self.n);
        check_len("W (n × k)", k * n, w.len())?;
        let isa = simd::active_isa();
        self.panels_mut().par_chunks_mut(k * simd::PANEL).enumerate().for_each(|(p, panel)| {
            let j0 = p * simd::PANEL;
            simd::pack_transposed_panel(isa, w, k, j0, simd::PANEL.min(n - j0), panel);
        });
        Ok(())
    }

    /// Rows `k` (the inner dimension).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns `n` (the output width).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The panels: `n.div_ceil(16)` blocks of `k × 16` floats (column `j`
    /// of row `i` at `(j / 16)·k·16 + i·16 + j % 16`), zero-padded.
    pub(crate) fn panels(&self) -> &[f32] {
        bytemuck::cast_slice(&self.panels)
    }

    /// The panels, writable (see [`Self::panels`] for the layout; the
    /// zero padding must stay zero).
    pub(crate) fn panels_mut(&mut self) -> &mut [f32] {
        bytemuck::cast_slice_mut(&mut self.panels)
    }

    /// Bytes of the packed panels.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Line>() * self.panels.capacity()
    }
}

/// `out (rows × n) = A · W` for binary `A` and packed `W`, with the output
/// column panels split into `parts` contiguous ranges computed in parallel
/// (each thread keeps its panels in its own cache; same bits for any
/// `parts`), on the active ISA.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `A`'s width is not `W`'s `k` or `out` is not
/// `rows × n`.
///
/// # Examples
/// ```
/// use boltzmann::kernels::binary::{BinaryRows, PackedWeights, binary_times};
/// let a = BinaryRows::from_dense(&[1.0, 0.0, 1.0], 3).unwrap();
/// let w = PackedWeights::new(&[1.0, 2.0, 10.0, 20.0, 100.0, 200.0], 3, 2).unwrap();
/// let mut out = [0.0f32; 2];
/// binary_times(&a, &w, &mut out, 1).unwrap();
/// assert_eq!(out, [101.0, 202.0]);
/// ```
pub fn binary_times(a: &BinaryRows, w: &PackedWeights, out: &mut [f32], parts: usize) -> Result<()> {
    binary_times_on(simd::active_isa(), a, w, out, parts)
}

/// [`binary_times`] on a chosen ISA.
///
/// # Errors
/// As [`binary_times`], and [`Error::IsaUnavailable`].
pub fn binary_times_on(
    isa: Isa,
    a: &BinaryRows,
    w: &PackedWeights,
    out: &mut [f32],
    parts: usize,
) -> Result<()> {
    isa.check()?;
    check_len("A width (W rows)", w.k, a.k)?;
    check_len("output (rows × n)", mul_dims("output", a.rows(), w.n)?, out.len())?;
    packed_unchecked(isa, a, w, out, parts);
    Ok(())
}

/// [`binary_times_on`] after validation.
///
/// # Panics
/// If the shapes disagree.
pub(crate) fn packed_unchecked(isa: Isa, a: &BinaryRows, w: &PackedWeights, out: &mut [f32], parts: usize) {
    assert!(a.k == w.k && out.len() == a.rows() * w.n);
    let (k, n, rows) = (w.k, w.n, a.rows());
    let np = n.div_ceil(simd::PANEL);
    let parts = parts.clamp(1, np.max(1));
    let per = np.div_ceil(parts);
    let ptr = SendPtr(out.as_mut_ptr());
    let work = |t: usize| {
        for p in t * per..((t + 1) * per).min(np) {
            let c0 = p * simd::PANEL;
            let nc = simd::PANEL.min(n - c0);
            let panel = &w.panels()[p * k * simd::PANEL..(p + 1) * k * simd::PANEL];
            // SAFETY: indices < k by construction of `a` (width k == w.k),
            // the panel holds k·PANEL floats, offsets are a's; writes go to
            // out[r·n + c0 + c] for c < nc, inside `out` (len rows·n), and
            // tasks write disjoint column ranges while `out` stays borrowed.
            unsafe { simd::binary_panel(isa, panel, &a.offsets, &a.indices, rows, nc, ptr.get().add(c0), n) };
        }
    };
    if parts == 1 {
        work(0);
    } else {
        (0..parts).into_par_iter().for_each(work);
    }
}

/// Rows `r0..r1` of `A · W` (packed `W`) into `out` (`(r1 − r0) × n`), on
/// the calling thread: for callers that split rows over their own tasks.
/// The same bits as [`binary_times`] gives for those rows.
///
/// # Panics
/// If the shapes disagree or `r0 > r1 > a.rows()`.
pub(crate) fn packed_rows_unchecked(
    isa: Isa,
    a: &BinaryRows,
    r0: usize,
    r1: usize,
    w: &PackedWeights,
    out: &mut [f32],
) {
    assert!(a.k == w.k && r0 <= r1 && r1 <= a.rows() && out.len() == (r1 - r0) * w.n);
    let (k, n) = (w.k, w.n);
    let offsets = &a.offsets[r0..=r1];
    for p in 0..n.div_ceil(simd::PANEL) {
        let c0 = p * simd::PANEL;
        let panel = &w.panels()[p * k * simd::PANEL..(p + 1) * k * simd::PANEL];
        // SAFETY: indices < k (a's width is w.k), the panel holds k·PANEL
        // floats, `offsets` are r1 − r0 + 1 of a's offsets; writes go to
        // out[r·n + c0 + c], c < PANEL.min(n − c0), inside `out`.
        unsafe {
            simd::binary_panel(
                isa,
                panel,
                offsets,
                &a.indices,
                r1 - r0,
                simd::PANEL.min(n - c0),
                out.as_mut_ptr().add(c0),
                n,
            )
        };
    }
}

/// Updates binary products after their rows changed, on the calling
/// thread: for each `r`, row `out_rows[r]` of `out` (rows of `w.n()`) gets
/// `(out + on_r·W) − off_r·W`, where `on_r` / `off_r` are row `r` of `on` /
/// `off` (the units that turned on / off). Each of the two sums has the
/// bits [`binary_times`] gives for that row, and a zeroed output row with an
/// empty `off_r` gets exactly `on_r·W`.
///
/// # Panics
/// If the widths disagree with `w.k()`, the row counts with
/// `out_rows.len()`, or an output row lies outside `out`.
pub(crate) fn packed_delta_unchecked(
    isa: Isa,
    on: &BinaryRows,
    off: &BinaryRows,
    out_rows: &[u32],
    w: &PackedWeights,
    out: &mut [f32],
) {
    let (k, n) = (w.k, w.n);
    assert!(on.k == k && off.k == k && on.rows() == out_rows.len() && off.rows() == out_rows.len());
    assert!(out_rows.iter().all(|&r| (r as usize + 1) * n <= out.len()));
    for p in 0..n.div_ceil(simd::PANEL) {
        let c0 = p * simd::PANEL;
        let panel = &w.panels()[p * k * simd::PANEL..(p + 1) * k * simd::PANEL];
        // SAFETY: indices < k (both widths are w.k), the panel holds
        // k·PANEL floats, both offset lists have out_rows.len() + 1 entries
        // (asserted through rows()); accesses go to out[r·n + c0 + c] for
        // an asserted output row r and c < PANEL.min(n − c0), inside `out`.
        unsafe {
            simd::binary_panel_delta(
                isa,
                panel,
                (&on.offsets, &on.indices),
                (&off.offsets, &off.indices),
                out_rows,
                simd::PANEL.min(n - c0),
                out.as_mut_ptr().add(c0),
                n,
            )
        };
    }
}

/// The fused half-step: `out` (`rows × words_per_row(n)` words, cleared
/// here) gets the bits of `u < σ(A·W + bias)` for binary `A` and packed
/// `W` (`k × n`), with the uniforms of row `r` from `bits[r·stride..]`
/// (the mapping of the Bernoulli kernels), on the calling thread. The
/// samples equal [`binary_times`] followed by the Bernoulli kernel on the
/// same bits, without writing the pre-activations or f32 states.
/// `bias_padded` holds `bias` and zeros up to a multiple of 16.
///
/// # Panics
/// If the shapes disagree.
pub(crate) fn packed_sample_unchecked(
    isa: Isa,
    a: &BinaryRows,
    w: &PackedWeights,
    bias_padded: &[f32],
    bits: &[u32],
    stride: usize,
    out: &mut [u64],
) {
    let (k, n, rows) = (w.k, w.n, a.rows());
    let np = n.div_ceil(simd::PANEL);
    let wpr = words_per_row(n);
    assert!(a.k == k && bias_padded.len() >= np * simd::PANEL && out.len() == rows * wpr && stride >= n);
    assert!(rows == 0 || bits.len() >= (rows - 1) * stride + n);
    out.fill(0);
    for p in 0..np {
        let c0 = p * simd::PANEL;
        let panel = &w.panels()[p * k * simd::PANEL..(p + 1) * k * simd::PANEL];
        // SAFETY: indices < k (a's width is w.k), the panel holds k·PANEL
        // floats; bias has PANEL floats from c0; uniforms at r·stride + c0 +
        // c for c < ncols ≤ n − c0 lie inside `bits` (asserted); bits
        // c0..c0+ncols of a row go to word c0/64 at shift c0 mod 64 (PANEL
        // divides 64), inside `out`.
        unsafe {
            simd::binary_panel_sample(
                isa,
                panel,
                &a.offsets,
                &a.indices,
                rows,
                simd::PANEL.min(n - c0),
                &bias_padded[c0..c0 + simd::PANEL],
                bits.as_ptr().add(c0),
                stride,
                out.as_mut_ptr(),
                wpr,
                c0 / 64,
                (c0 % 64) as u32,
            )
        };
    }
}

fn count_ones(bits: &[u64]) -> usize {
    bits.iter().map(|w| w.count_ones() as usize).sum()
}

/// Writes the set positions of a packed row into `out` (exactly as many
/// as it has): the set bits of each word in order — no branch per state,
/// which would mispredict at densities far from 0 and 1.
fn set_positions(bits: &[u64], out: &mut [u32]) {
    let mut t = 0;
    for (blk, &w) in bits.iter().enumerate() {
        let mut m = w;
        while m != 0 {
            out[t] = (blk * 64) as u32 + m.trailing_zeros();
            t += 1;
            m &= m - 1;
        }
    }
}

/// Whether binary products may be used: `BOLTZMANN_DENSE_PRODUCTS=1` turns
/// them off everywhere (for side-by-side timing against the dense path).
pub fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("BOLTZMANN_DENSE_PRODUCTS").is_none_or(|v| v != "1"))
}

/// Whether [`binary_times`] beats a dense product at this state density
/// on `isa`: below the crossovers measured single-threaded at 100 × 784 × 500
/// and 100 × 500 × 784 on the development VM (AVX-512 40–70 %, AVX2
/// 30–40 %, scalar ≈ 12 % against matrixmultiply's vectorized GEMM; noisy
/// runs, perf-notes.md), at the conservative end.
pub fn sparse_wins(isa: Isa, density: f64) -> bool {
    let limit = match isa {
        Isa::Avx512 => 0.40,
        Isa::Avx2 => 0.30,
        Isa::Scalar => 0.10,
    };
    density < limit
}

/// Fraction of nonzero values in `x` (0 for an empty slice): the density
/// that decides between [`binary_times`] and a dense product.
pub fn density(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    count_nonzero(x) as f64 / x.len() as f64
}

/// Number of nonzero values in `x` (NaN counts as nonzero), counted in
/// parallel: the numerator of [`density`].
pub fn count_nonzero(x: &[f32]) -> usize {
    x.par_chunks(1 << 14).map(|c| c.iter().filter(|&&v| v != 0.0).count()).sum()
}

/// 64-bit words per packed row of `k` binary units.
pub fn words_per_row(k: usize) -> usize {
    k.div_ceil(64)
}

/// Packs row-major 0/1 states (`rows × k` f32, nonzero = 1) into bits:
/// `out[r·w + i/64]` bit `i % 64` is unit `i` of row `r`, `w =
/// words_per_row(k)`; unused high bits are 0.
///
/// # Errors
/// [`Error::ShapeMismatch`] for inconsistent lengths.
///
/// # Examples
/// ```
/// use boltzmann::kernels::binary::{pack_rows, unpack_rows};
/// let x = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
/// let mut bits = [0u64; 2];
/// pack_rows(&x, 3, &mut bits).unwrap();
/// assert_eq!(bits, [0b101, 0b001]);
/// let mut back = [0.0f32; 6];
/// unpack_rows(&bits, 3, &mut back).unwrap();
/// assert_eq!(back, x);
/// ```
pub fn pack_rows(x: &[f32], k: usize, out: &mut [u64]) -> Result<()> {
    pack_rows_on(simd::active_isa(), x, k, out)
}

/// [`pack_rows`] on a chosen ISA (one compare per vector of states: the
/// same bits on every ISA; any nonzero value, NaN included, packs as 1).
///
/// # Errors
/// As [`pack_rows`], and [`Error::IsaUnavailable`].
pub fn pack_rows_on(isa: Isa, x: &[f32], k: usize, out: &mut [u64]) -> Result<()> {
    isa.check()?;
    let w = words_per_row(k);
    let rows = x.len().checked_div(k).unwrap_or(0);
    check_len("states (rows × k)", mul_dims("states", rows, k)?, x.len())?;
    check_len("packed words (rows × ⌈k/64⌉)", mul_dims("words", rows, w)?, out.len())?;
    for (r, o) in x.chunks(k.max(1)).zip(out.chunks_mut(w.max(1))) {
        simd::pack_bits(isa, r, o);
    }
    Ok(())
}

/// Inverse of [`pack_rows`]: writes 0.0/1.0.
///
/// # Errors
/// [`Error::ShapeMismatch`] for inconsistent lengths.
pub fn unpack_rows(bits: &[u64], k: usize, out: &mut [f32]) -> Result<()> {
    let w = words_per_row(k);
    let rows = out.len().checked_div(k).unwrap_or(0);
    check_len("states (rows × k)", mul_dims("states", rows, k)?, out.len())?;
    check_len("packed words (rows × ⌈k/64⌉)", mul_dims("words", rows, w)?, bits.len())?;
    for (b, o) in bits.chunks(w.max(1)).zip(out.chunks_mut(k.max(1))) {
        unpack_row(b, o);
    }
    Ok(())
}

pub(crate) fn pack_row(r: &[f32], out: &mut [u64]) {
    simd::pack_bits(simd::active_isa(), r, out);
}

pub(crate) fn unpack_row(bits: &[u64], out: &mut [f32]) {
    for (chunk, &m) in out.chunks_mut(64).zip(bits) {
        for (b, o) in chunk.iter_mut().enumerate() {
            *o = ((m >> b) & 1) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every packing starts on a cache line, so each panel row is one
    /// aligned 64-byte load (the binary products ran 1.5–1.7× slower when
    /// the rows straddled two lines), and holds its values where
    /// `panels()` says.
    #[test]
    fn panels_start_on_a_cache_line() {
        for (k, n) in [(1, 1), (3, 17), (784, 500), (500, 784), (33, 100)] {
            let w: Vec<f32> = (0..k * n).map(|x| x as f32).collect();
            let packs = [
                PackedWeights::new(&w, k, n).unwrap(),
                PackedWeights::transposed(&w, k, n).unwrap(),
                PackedWeights::zeroed(k, n).unwrap(),
            ];
            for p in &packs {
                assert_eq!(p.panels().as_ptr() as usize % 64, 0, "{k} × {n}");
                assert_eq!(p.panels().len(), p.n().div_ceil(simd::PANEL) * p.k() * simd::PANEL);
                assert_eq!(p.bytes(), 4 * p.panels().len());
            }
            let (i, j) = (k - 1, n - 1);
            let at = (j / simd::PANEL) * k * simd::PANEL + i * simd::PANEL + j % simd::PANEL;
            assert_eq!(packs[0].panels()[at], w[i * n + j]);
        }
    }

    /// The delta update against its naive twin (exact sums in the kernel's
    /// order are not needed: integers make every order exact), on every ISA,
    /// with a partial last panel, empty rows and rows out of order; and a
    /// zeroed row with nothing turned off equals the plain product's bits.
    #[test]
    fn delta_update_equals_naive_and_plain_product() {
        let (k, n) = (45usize, 39usize);
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 31) % 23) as f32 - 11.0).collect();
        let pw = PackedWeights::new(&w, k, n).unwrap();
        let set = |seed: usize| -> Vec<u64> {
            let mut b = vec![0u64; words_per_row(k)];
            for i in 0..k {
                if (i * 7919 + seed * 104729) % 13 < 4 {
                    b[i / 64] |= 1 << (i % 64);
                }
            }
            b
        };
        let out_rows = [3u32, 0, 5, 1];
        let (mut on, mut off) = (BinaryRows::new(k), BinaryRows::new(k));
        for r in 0..out_rows.len() {
            on.push_bits(set(r));
            off.push_bits(if r == 2 { vec![0; words_per_row(k)] } else { set(r + 10) });
        }
        let start: Vec<f32> = (0..6 * n).map(|i| (i % 17) as f32 - 8.0).collect();
        let mut want = start.clone();
        for (r, &o) in out_rows.iter().enumerate() {
            for c in 0..n {
                let s_on: f32 = on.row(r).iter().map(|&i| w[i as usize * n + c]).sum();
                let s_off: f32 = off.row(r).iter().map(|&i| w[i as usize * n + c]).sum();
                want[o as usize * n + c] += s_on - s_off;
            }
        }
        for isa in Isa::available() {
            let mut got = start.clone();
            packed_delta_unchecked(isa, &on, &off, &out_rows, &pw, &mut got);
            assert_eq!(got, want, "{isa}");
            let (mut zero, mut none) = (vec![0.0f32; 6 * n], BinaryRows::new(k));
            for _ in 0..out_rows.len() {
                none.push_bits(vec![0; words_per_row(k)]);
            }
            packed_delta_unchecked(isa, &on, &none, &out_rows, &pw, &mut zero);
            let mut plain = vec![0.0f32; out_rows.len() * n];
            packed_unchecked(isa, &on, &pw, &mut plain, 1);
            for (r, &o) in out_rows.iter().enumerate() {
                assert_eq!(zero[o as usize * n..(o as usize + 1) * n], plain[r * n..(r + 1) * n], "{isa}");
            }
        }
    }

    /// Row ranges of the packed product (the training gradient's blocks)
    /// give the same bits as the whole product, for every ISA.
    #[test]
    fn row_ranges_equal_whole_product() {
        let (rows, k, n) = (37usize, 45usize, 39usize);
        let a: Vec<f32> = (0..rows * k).map(|i| ((i * 7919) % 11 < 3) as u8 as f32).collect();
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 31) % 23) as f32 * 0.37 - 4.0).collect();
        let br = BinaryRows::from_dense(&a, k).unwrap();
        let pw = PackedWeights::new(&w, k, n).unwrap();
        for isa in Isa::available() {
            let mut whole = vec![0.0f32; rows * n];
            packed_unchecked(isa, &br, &pw, &mut whole, 1);
            for (r0, r1) in [(0, rows), (0, 1), (5, 21), (36, 37), (16, 32), (9, 9)] {
                let mut part = vec![f32::NAN; (r1 - r0) * n];
                packed_rows_unchecked(isa, &br, r0, r1, &pw, &mut part);
                assert_eq!(part, whole[r0 * n..r1 * n], "{isa} rows {r0}..{r1}");
            }
        }
    }
}
