//! Products of binary states kept current from one call to the next by the
//! units that changed.
//!
//! A Markov chain over binary units changes only some of them per step:
//! annealing a 784 × 500 RBM trained on MNIST, about half the hidden units
//! are on at every temperature but only a fifth to a third of them flip
//! between consecutive steps (perf-notes.md). The product `x·W` of the new states is the old one
//! plus the rows of `W` of the units that turned on, minus those of the
//! units that turned off — as many row additions as changes, instead of as
//! many as set units ([`super::binary`]) or a dense product.
//!
//! [`IncrementalProduct::update`] chooses **per row**, from that row's
//! states alone, the cheapest of: nothing (no unit changed), the update by
//! changes, the binary product, the dense product (the change and binary
//! paths whenever [`binary::sparse_wins`] says a row sum of that density
//! beats the dense kernel). The result of a row therefore depends only on
//! its own history, never on the rows beside it: any blocking of the rows
//! and any thread count give the same bits.
//!
//! Updates accumulate rounding (the sum of the changed rows is rounded, then
//! added to the kept value); callers ask for exact products (`exact = true`)
//! at fixed intervals, which bounds the drift.

use super::binary::{self, BinaryRows, PackedWeights, words_per_row};
use crate::simd::{self, Isa};

/// A dense product of `rows` rows of states on the calling thread:
/// `(rows, x, out)` with `x` `rows × k` and `out` `rows × n`, row-major.
pub(crate) type DenseRows<'a> = &'a dyn Fn(usize, &[f32], &mut [f32]);

/// The scratch to bring a product up to date with changed states (see the
/// module documentation). The caller keeps, per row, the product and the
/// states it is the product of (as bits, [`words_per_row`]`(k)` words per
/// row): [`Self::update`] reads and rewrites both.
#[derive(Debug)]
pub(crate) struct IncrementalProduct {
    k: usize,
    n: usize,
    new_bits: Vec<u64>,
    on: BinaryRows,
    off: BinaryRows,
    targets: Vec<u32>,
    dense_rows: Vec<u32>,
    x: Vec<f32>,
    out: Vec<f32>,
}

impl IncrementalProduct {
    /// For states of width `k` and products of width `n`.
    pub(crate) fn new(k: usize, n: usize) -> Self {
        IncrementalProduct {
            k,
            n,
            new_bits: Vec::new(),
            on: BinaryRows::new(k),
            off: BinaryRows::new(k),
            targets: Vec::new(),
            dense_rows: Vec::new(),
            x: Vec::new(),
            out: Vec::new(),
        }
    }

    /// `acc (rows × n) = x (rows × k) · W` for binary states `x` (any
    /// nonzero counts as 1), where `acc` holds the product of the states
    /// `bits` (and `valid` says so): per row, updated by the units that
    /// changed, recomputed by a binary product of `w` (packed `W`) or by
    /// `dense`, or left as it is — see the module documentation. `bits`
    /// then holds `x`. Without `valid`, with `exact` or without `w`, every
    /// row is recomputed.
    ///
    /// # Panics
    /// If `x` is not `rows × k`, `acc` `rows × n` and `bits` `rows ×
    /// words_per_row(k)` for the same `rows`, or `w` is not `k × n`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update(
        &mut self,
        isa: Isa,
        x: &[f32],
        acc: &mut [f32],
        bits: &mut [u64],
        valid: bool,
        w: Option<&PackedWeights>,
        exact: bool,
        dense: DenseRows<'_>,
    ) {
        let (k, n, wpr) = (self.k, self.n, words_per_row(self.k));
        let rows = x.len() / k;
        assert!(x.len() == rows * k && acc.len() == rows * n && bits.len() == rows * wpr);
        // Every word is written by the packing below.
        self.new_bits.resize(rows * wpr, 0);
        for (b, r) in self.new_bits.chunks_mut(wpr).zip(x.chunks(k)) {
            simd::pack_bits(isa, r, b);
        }
        match w {
            Some(w) => {
                assert!(w.k() == k && w.n() == n);
                self.plan(isa, acc, bits, valid && !exact);
                if !self.targets.is_empty() {
                    binary::packed_delta_unchecked(isa, &self.on, &self.off, &self.targets, w, acc);
                }
                self.dense_products(x, acc, dense);
            }
            None => dense(rows, x, acc),
        }
        bits.copy_from_slice(&self.new_bits);
    }

    /// Sorts the rows into the change/binary path (`targets`, with their
    /// `on`/`off` units; rows recomputed by a binary product are zeroed in
    /// `acc` and have no `off` units) and the dense path (`dense_rows`);
    /// unchanged rows go to neither.
    fn plan(&mut self, isa: Isa, acc: &mut [f32], bits: &[u64], from_old: bool) {
        let (k, n, wpr) = (self.k, self.n, words_per_row(self.k));
        self.on.reset(k);
        self.off.reset(k);
        self.targets.clear();
        self.dense_rows.clear();
        let density = |c: usize| c as f64 / k as f64;
        for (r, new) in self.new_bits.chunks(wpr).enumerate() {
            let ones: usize = new.iter().map(|w| w.count_ones() as usize).sum();
            if from_old {
                let old = &bits[r * wpr..(r + 1) * wpr];
                let flips: usize = new.iter().zip(old).map(|(a, b)| (a ^ b).count_ones() as usize).sum();
                if flips == 0 {
                    continue;
                }
                if flips < ones && binary::sparse_wins(isa, density(flips)) {
                    self.on.push_bits(new.iter().zip(old).map(|(a, b)| a & !b));
                    self.off.push_bits(new.iter().zip(old).map(|(a, b)| b & !a));
                    self.targets.push(r as u32);
                    continue;
                }
            }
            if binary::sparse_wins(isa, density(ones)) {
                acc[r * n..(r + 1) * n].fill(0.0);
                self.on.push_bits(new.iter().copied());
                self.off.push_bits(std::iter::empty());
                self.targets.push(r as u32);
            } else {
                self.dense_rows.push(r as u32);
            }
        }
    }

    /// The dense products of the rows [`Self::plan`] sent to the dense path
    /// (gathered, multiplied, scattered back; in place when it is all rows).
    fn dense_products(&mut self, x: &[f32], acc: &mut [f32], dense: DenseRows<'_>) {
        let (k, n, m) = (self.k, self.n, self.dense_rows.len());
        if m == 0 {
            return;
        }
        if m * k == x.len() {
            return dense(m, x, acc);
        }
        self.x.clear();
        for &r in &self.dense_rows {
            self.x.extend_from_slice(&x[r as usize * k..(r as usize + 1) * k]);
        }
        self.out.clear();
        self.out.resize(m * n, 0.0);
        dense(m, &self.x, &mut self.out);
        for (t, &r) in self.dense_rows.iter().enumerate() {
            acc[r as usize * n..(r as usize + 1) * n].copy_from_slice(&self.out[t * n..(t + 1) * n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random walk over binary rows of mixed densities: after every
    /// step the kept product equals the exact one up to the rounding the
    /// updates accumulate; at exact steps, the bits of a fresh product; and
    /// splitting the rows into blocks never changes a bit.
    #[test]
    fn updates_track_the_exact_product_and_ignore_blocking() {
        let (rows, k, n) = (12usize, 70usize, 37usize);
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let pw = PackedWeights::new(&w, k, n).unwrap();
        let dense = |m: usize, x: &[f32], out: &mut [f32]| {
            for r in 0..m {
                for c in 0..n {
                    out[r * n + c] = (0..k).map(|i| x[r * k + i] * w[i * n + c]).sum();
                }
            }
        };
        for isa in Isa::available() {
            let mut x = vec![0.0f32; rows * k];
            let mut scratch = IncrementalProduct::new(k, n);
            let (mut acc, mut acc2) = (vec![0.0f32; rows * n], vec![0.0f32; rows * n]);
            let wpr = words_per_row(k);
            let (mut bits, mut bits2) = (vec![0u64; rows * wpr], vec![0u64; rows * wpr]);
            let mut state = 12345u64;
            for step in 0..200 {
                for (r, row) in x.chunks_mut(k).enumerate() {
                    // Row r flips about (r + 1) / 30 of its units: some rows
                    // take the change path, some the binary or dense one.
                    for u in row.iter_mut() {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        if ((state >> 33) % 30) as usize <= r {
                            *u = 1.0 - *u;
                        }
                    }
                }
                let exact = step % 25 == 0;
                let valid = step > 0;
                scratch.update(isa, &x, &mut acc, &mut bits, valid, Some(&pw), exact, &dense);
                let (x0, x1) = x.split_at(rows / 3 * k);
                let (a0, a1) = acc2.split_at_mut(rows / 3 * n);
                let (b0, b1) = bits2.split_at_mut(rows / 3 * wpr);
                scratch.update(isa, x0, a0, b0, valid, Some(&pw), exact, &dense);
                scratch.update(isa, x1, a1, b1, valid, Some(&pw), exact, &dense);
                assert_eq!(acc, acc2, "{isa} step {step}: blocking changed bits");
                let mut fresh = vec![0.0f32; rows * n];
                dense(rows, &x, &mut fresh);
                for (a, f) in acc.iter().zip(&fresh) {
                    assert!((a - f).abs() < 1e-4, "{isa} step {step}: {a} vs {f}");
                }
                if exact {
                    let mut acc3 = vec![f32::NAN; rows * n];
                    let mut bits3 = vec![0u64; rows * wpr];
                    scratch.update(isa, &x, &mut acc3, &mut bits3, false, Some(&pw), false, &dense);
                    assert_eq!(acc, acc3, "{isa} step {step}: an exact step is a fresh product");
                }
            }
        }
    }
}
