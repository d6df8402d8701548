//! One process's share of a data-parallel training run
//! (`distributed::ShardedTrainer` wraps it with MPI): the full
//! training state — the same on every process — except the persistent
//! chains, of which it keeps its contiguous share, and the optimizer state
//! of the weights, of which only its rows are current; every update split
//! as [`super::split`] describes.

use super::split::{self, Split};
use super::trainer::{EpochReport, TrainState, Trainer};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::sampler::Chains;
use std::ops::Range;

/// A trainer that holds share `rank` of `size` of the chains.
#[derive(Debug)]
pub(crate) struct Sharded {
    trainer: Trainer,
    /// Chains in the whole run.
    total: usize,
}

impl Sharded {
    /// Keeps share `rank` of `size` of `trainer`'s chains (every process
    /// builds the same `trainer`, from the same configuration or checkpoint).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for parallel tempering or fast weights (not
    /// split yet) and for fewer chains than processes.
    pub(crate) fn new(mut trainer: Trainer, rank: usize, size: usize) -> Result<Sharded> {
        let s = trainer.state_mut();
        if s.tempering.is_some() || s.config.fast_weights.is_some() {
            return Err(Error::InvalidParam {
                name: "algorithm",
                reason:
                    "data-parallel training runs CD and PCD (with centering, averaging, sparsity, either \
                         optimizer); not parallel tempering or fast weights yet"
                        .into(),
            });
        }
        let total = s.chains.batch();
        if total < size {
            return Err(Error::InvalidParam {
                name: "chains",
                reason: format!("{total} chains over {size} processes: need at least one chain per process"),
            });
        }
        let local = cut(&s.chains, &s.rbm, split::shard(total, rank, size))?;
        s.chains = local;
        Ok(Sharded { trainer, total })
    }

    /// One epoch, every update split by `split`.
    ///
    /// # Errors
    /// As [`Trainer::run_epoch`], and those of `split`.
    pub(crate) fn run_epoch(
        &mut self,
        data: &Dataset,
        split: &dyn Split,
        on_batch: impl FnMut(usize, usize),
    ) -> Result<EpochReport> {
        self.trainer.run_epoch_split(data, split, on_batch)
    }

    /// The trainer (its state holds this share's chains only).
    pub(crate) fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// This share's chains.
    pub(crate) fn chains(&self) -> &Chains {
        &self.trainer.state().chains
    }

    /// Chains in the whole run.
    pub(crate) fn total_chains(&self) -> usize {
        self.total
    }

    /// The whole run's state: this share's with `all` (every share's chains,
    /// in order) and the whole optimizer state of the weights (`m_w`, `v_w`:
    /// each process keeps only its rows current) — what one process would
    /// hold.
    pub(crate) fn whole_state(&self, all: Chains, m_w: Vec<f32>, v_w: Vec<f32>) -> TrainState {
        let mut s = self.trainer.state().clone();
        s.chains = all;
        s.optimizer.m_w = m_w;
        s.optimizer.v_w = v_w;
        s
    }
}

/// Chains `range` of `chains`, with their states, streams and sweep count.
fn cut(chains: &Chains, rbm: &crate::Rbm, range: Range<usize>) -> Result<Chains> {
    let (d, h) = (chains.n_visible(), chains.n_hidden());
    let mut c = Chains::from_parts(
        rbm,
        chains.visible()[range.start * d..range.end * d].to_vec(),
        chains.hidden()[range.start * h..range.end * h].to_vec(),
        chains.streams()[range.clone()].to_vec(),
        chains.sweeps_done(),
    )?;
    c.set_isa(chains.isa())?;
    Ok(c)
}
