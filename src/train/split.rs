//! How the rows of one update are split over processes (data-parallel
//! training over MPI, `distributed::ShardedTrainer`).
//!
//! Each process holds a contiguous share of the persistent chains and
//! computes a contiguous share of the batch's positive rows — rows
//! `⌊n·r/p⌋ .. ⌊n·(r+1)/p⌋` of `n` for process `r` of `p`, as
//! `distributed::shard_bounds` — with the products chosen from the
//! whole update's densities ([`Split::counts`]). The rows are then gathered
//! in order ([`Split::gather_rows`]) so that every process holds the
//! update's full `[V⁺; V⁻]`, `[P⁺; P⁻]` and runs the gradient and the
//! optimizer step of one process on them: the parameters stay identical on
//! every process, and equal, bit for bit, to one process's.

use crate::error::Result;
use std::ops::Range;

/// The split of one update's rows (see the module docs). [`Whole`] is one
/// process.
pub(crate) trait Split {
    /// This process's index and the number of processes.
    fn rank_size(&self) -> (usize, usize);

    /// The whole update's (nonzero values, cells) from this process's.
    fn counts(&self, ones: u64, len: u64) -> (u64, u64);

    /// Every process's rows of `width` values into `out`, in order:
    /// process `r` holds rows `parts[r]` (contiguous, covering `out`) and
    /// gives `local` (this process's).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParam`] when the sizes exceed what the
    /// transport can address.
    fn gather_rows(&self, local: &[f32], width: usize, parts: &[Range<usize>], out: &mut [f32])
    -> Result<()>;

    /// As [`Split::gather_rows`] for one f64 value per row, appended to
    /// `out`.
    ///
    /// # Errors
    /// As [`Split::gather_rows`].
    fn gather_values(&self, local: &[f64], parts: &[Range<usize>], out: &mut Vec<f64>) -> Result<()>;

    /// Whether this is one process (the trainer's own phases run).
    fn whole(&self) -> bool {
        self.rank_size().1 == 1
    }
}

/// Process `r`'s share of `n` rows among `p`: `⌊n·r/p⌋ .. ⌊n·(r+1)/p⌋`.
pub(crate) fn shard(n: usize, r: usize, p: usize) -> Range<usize> {
    let at = |r: usize| ((n as u128 * r as u128) / p.max(1) as u128) as usize;
    at(r)..at(r + 1)
}

/// Every process's share of `n` rows.
pub(crate) fn parts(n: usize, p: usize) -> Vec<Range<usize>> {
    (0..p).map(|r| shard(n, r, p)).collect()
}

/// One process: the identity.
pub(crate) struct Whole;

impl Split for Whole {
    fn rank_size(&self) -> (usize, usize) {
        (0, 1)
    }

    fn counts(&self, ones: u64, len: u64) -> (u64, u64) {
        (ones, len)
    }

    fn gather_rows(&self, local: &[f32], _: usize, _: &[Range<usize>], out: &mut [f32]) -> Result<()> {
        out.copy_from_slice(local);
        Ok(())
    }

    fn gather_values(&self, local: &[f64], _: &[Range<usize>], out: &mut Vec<f64>) -> Result<()> {
        out.extend_from_slice(local);
        Ok(())
    }
}
