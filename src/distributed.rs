//! Chain ensembles split over MPI processes (feature `mpi`, on the system's
//! Open MPI through the `mpi` crate).
//!
//! [`ShardedChains`] holds rank `r`'s contiguous share of an ensemble of
//! `total` chains — chains `⌊total·r/p⌋ .. ⌊total·(r+1)/p⌋` of `p` ranks —
//! built by [`Chains::shard`], so every chain has the state and random
//! stream it would have in one process: the global ensemble is **the same
//! bits for any number of ranks** (and threads per rank). Sweeps need no
//! communication. Global statistics are reduced in a fixed order: counts as
//! exact integers, floating-point sums by gathering every chain's value to
//! rank 0 in chain order and adding them there as one process would.
//!
//! `examples/mpi_chains.rs` checks the whole ensemble against one process
//! (`mpirun -np 1, 2, 3`, run by `.ci/run`); `boltzmann bench gibbs --mpi`
//! measures it.
//!
//! Not yet here: data-parallel training and distributed AIS (the plan is in
//! perf-notes.md).

use crate::error::{Error, Result};
use crate::model::Rbm;
use crate::sampler::Chains;
use mpi::traits::*;

/// Rank `rank`'s share `[start, end)` of `total` chains over `size` ranks.
pub fn shard_bounds(total: usize, rank: usize, size: usize) -> (usize, usize) {
    let at = |r: usize| ((total as u128 * r as u128) / size.max(1) as u128) as usize;
    (at(rank), at(rank + 1))
}

/// One rank's share of a chain ensemble split over an MPI communicator
/// (module docs).
#[derive(Debug)]
pub struct ShardedChains {
    chains: Chains,
    total: usize,
    start: usize,
}

impl ShardedChains {
    /// This rank's chains of the ensemble `Chains::new(rbm, total, seed)`.
    /// Collective only in that every rank must call it with the same
    /// arguments (nothing is sent).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when there are fewer chains than ranks, and
    /// as [`Chains::shard`].
    pub fn new<C: Communicator>(comm: &C, rbm: &Rbm, total: usize, seed: u64) -> Result<ShardedChains> {
        let (rank, size) = (comm.rank() as usize, comm.size() as usize);
        if total < size {
            return Err(Error::InvalidParam {
                name: "chains",
                reason: format!("{total} chains over {size} ranks: need at least one chain per rank"),
            });
        }
        let (start, end) = shard_bounds(total, rank, size);
        Ok(ShardedChains { chains: Chains::shard(rbm, total, start, end - start, seed)?, total, start })
    }

    /// `k` sweeps of this rank's chains (no communication).
    ///
    /// # Errors
    /// As [`Chains::sweep`].
    pub fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        self.chains.sweep(rbm, k)
    }

    /// This rank's chains.
    pub fn local(&self) -> &Chains {
        &self.chains
    }

    /// The index of this rank's first chain in the global ensemble.
    pub fn start(&self) -> usize {
        self.start
    }

    /// The number of chains over all ranks.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Visible units on, over all chains (an exact integer reduction;
    /// collective).
    pub fn visible_ones<C: Communicator>(&self, comm: &C) -> u64 {
        let local = self.chains.visible().iter().filter(|&&x| x != 0.0).count() as u64;
        let mut all = 0u64;
        comm.all_reduce_into(&local, &mut all, mpi::collective::SystemOperation::sum());
        all
    }

    /// Every chain's visible and hidden states in chain order on rank 0
    /// (`None` on the other ranks; collective). For pictures and checks:
    /// rank 0 needs memory for the whole ensemble.
    pub fn gather_states<C: Communicator>(&self, comm: &C) -> Option<(Vec<f32>, Vec<f32>)> {
        let rank = comm.rank();
        if rank != 0 {
            let root = comm.process_at_rank(0);
            root.send(self.chains.visible());
            root.send(self.chains.hidden());
            return None;
        }
        let (mut v, mut h) = (self.chains.visible().to_vec(), self.chains.hidden().to_vec());
        for r in 1..comm.size() {
            let p = comm.process_at_rank(r);
            v.extend(p.receive_vec::<f32>().0);
            h.extend(p.receive_vec::<f32>().0);
        }
        Some((v, h))
    }

    /// The mean free energy `(1/n) Σ F(v)` of all chains' visible states,
    /// summed in chain order on rank 0 (the same bits as one process) and
    /// sent to every rank (collective).
    ///
    /// # Errors
    /// As [`Rbm::free_energy_batch`].
    pub fn mean_free_energy<C: Communicator>(&self, comm: &C, rbm: &Rbm) -> Result<f64> {
        let mut f = vec![0.0f64; self.chains.batch()];
        rbm.free_energy_batch(self.chains.visible(), &mut f)?;
        let mut mean = 0.0f64;
        if comm.rank() == 0 {
            for r in 1..comm.size() {
                f.extend(comm.process_at_rank(r).receive_vec::<f64>().0);
            }
            mean = f.iter().sum::<f64>() / f.len() as f64;
        } else {
            comm.process_at_rank(0).send(&f[..]);
        }
        comm.process_at_rank(0).broadcast_into(&mut mean);
        Ok(mean)
    }
}
