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
//! [`ais`] and [`raise`] split annealing runs and examples over the ranks
//! and give **the same estimates, bit for bit, as [`crate::eval::ais()`] and
//! [`crate::eval::raise()`] in one process**: every run keeps its stream,
//! each run's products are chosen from its own states (so no communication
//! during annealing), and the per-run and per-example values are gathered
//! in run order before the same final sums. `examples/mpi_ais.rs` checks
//! this with 1, 2 and 3 ranks in `.ci/run`; `boltzmann eval --mpi` uses it.
//!
//! [`ShardedTrainer`] is data-parallel CD / PCD training with the same
//! guarantee: its parameters, chains and gathered checkpoints are those of
//! one process (`examples/mpi_train.rs`; `boltzmann train --mpi`); the
//! sampling, the weight gradient and the step are split (perf-notes.md has
//! the timings and the bytes sent).

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::ais as serial;
use crate::eval::{AisConfig, AisEstimate, Progress, RaiseConfig, RaiseEstimate};
use crate::model::Rbm;
use crate::sampler::Chains;
use mpi::collective::SystemOperation;
use mpi::traits::*;

/// Rank `rank`'s share `[start, end)` of `total` chains over `size` ranks.
pub fn shard_bounds(total: usize, rank: usize, size: usize) -> (usize, usize) {
    let r = crate::train::split::shard(total, rank, size);
    (r.start, r.end)
}

/// This rank's share of `total` chains, refusing fewer chains than ranks.
fn chain_share<C: Communicator>(comm: &C, total: usize) -> Result<(usize, usize)> {
    let (rank, size) = (comm.rank() as usize, comm.size() as usize);
    if total < size {
        return Err(Error::InvalidParam {
            name: "chains",
            reason: format!("{total} chains over {size} ranks: need at least one chain per rank"),
        });
    }
    Ok(shard_bounds(total, rank, size))
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
        let (start, end) = chain_share(comm, total)?;
        Ok(ShardedChains { chains: Chains::shard(rbm, total, start, end - start, seed)?, total, start })
    }

    /// `k` sweeps of this rank's chains (no communication).
    ///
    /// # Errors
    /// As [`Chains::sweep`].
    pub fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        self.chains.sweep_in_ensemble(rbm, k, self.total)
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

/// One rank's share of a bit-packed chain ensemble
/// ([`crate::sampler::PackedChains`], 136 bytes per chain at 784 visible
/// units), as [`ShardedChains`] is for f32 chains: the same bits for any
/// number of ranks; sweeps need no communication.
#[derive(Debug)]
pub struct ShardedPackedChains {
    chains: crate::sampler::PackedChains,
    total: usize,
    start: usize,
}

impl ShardedPackedChains {
    /// This rank's chains of the ensemble `PackedChains::new(rbm, total,
    /// seed)` (collective only in that every rank calls it alike).
    ///
    /// # Errors
    /// As [`ShardedChains::new`].
    pub fn new<C: Communicator>(comm: &C, rbm: &Rbm, total: usize, seed: u64) -> Result<ShardedPackedChains> {
        let (start, end) = chain_share(comm, total)?;
        let chains = crate::sampler::PackedChains::shard(rbm, total, start, end - start, seed)?;
        Ok(ShardedPackedChains { chains, total, start })
    }

    /// `k` sweeps of this rank's chains (no communication).
    ///
    /// # Errors
    /// As [`crate::sampler::PackedChains::sweep`].
    pub fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        self.chains.sweep_in_ensemble(rbm, k, self.total)
    }

    /// This rank's chains.
    pub fn local(&self) -> &crate::sampler::PackedChains {
        &self.chains
    }

    /// The index of this rank's first chain.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Visible units on, over all chains (exact; collective).
    pub fn visible_ones<C: Communicator>(&self, comm: &C) -> u64 {
        let local: u64 = self.chains.visible_bits().iter().map(|w| w.count_ones() as u64).sum();
        let mut all = 0u64;
        comm.all_reduce_into(&local, &mut all, SystemOperation::sum());
        all
    }

    /// Every chain's packed states in chain order on rank 0 (`None`
    /// elsewhere; collective).
    pub fn gather_bits<C: Communicator>(&self, comm: &C) -> Option<Vec<u64>> {
        let root = comm.process_at_rank(0);
        if comm.rank() != 0 {
            root.send(self.chains.visible_bits());
            return None;
        }
        let mut v = self.chains.visible_bits().to_vec();
        for r in 1..comm.size() {
            v.extend(comm.process_at_rank(r).receive_vec::<u64>().0);
        }
        Some(v)
    }
}

/// Every rank's `local` values concatenated in rank order, on every rank
/// (collective; ranks may hold different lengths, zero included).
///
/// # Errors
/// [`Error::InvalidParam`] beyond 2³¹ − 1 values (one MPI message).
pub fn all_gather_in_order<C: Communicator>(comm: &C, local: &[f64]) -> Result<Vec<f64>> {
    let mut lens = vec![0u64; comm.size() as usize];
    comm.all_gather_into(&(local.len() as u64), &mut lens[..]);
    let mut parts = Vec::with_capacity(lens.len());
    let mut at = 0usize;
    for &n in &lens {
        parts.push(at..at + n as usize);
        at += n as usize;
    }
    let mut all = Vec::with_capacity(at);
    crate::train::split::Split::gather_values(&MpiSplit { comm }, local, &parts, &mut all)?;
    Ok(all)
}

/// The whole ensemble's (nonzero, length) counts: an exact integer sum over
/// the ranks.
fn global_counts<C: Communicator>(comm: &C) -> impl Fn(u64, u64) -> (u64, u64) + '_ {
    move |ones, len| {
        let mut all = [0u64; 2];
        comm.all_reduce_into(&[ones, len][..], &mut all[..], SystemOperation::sum());
        (all[0], all[1])
    }
}

/// [`crate::eval::ais()`] with the runs split over the ranks of `comm`
/// (contiguous shares, [`shard_bounds`]): the same estimate, bit for bit,
/// on every rank. Collective: every rank calls it with the same arguments.
/// All ranks must run the same SIMD path (`boltzmann info`), as the product
/// choice and the dense products depend on it.
///
/// # Errors
/// As [`crate::eval::ais()`], and [`Error::InvalidParam`] for fewer runs than
/// ranks. An error on one rank (e.g. out of memory) leaves the others
/// waiting in the next collective: run under `mpirun`, which ends the job
/// when a rank exits non-zero.
///
/// # Examples
/// ```no_run
/// use boltzmann::{Rbm, distributed, eval::{self, AisConfig}};
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let rbm = Rbm::random(784, 500, 0.01, 0.0, 1)?;
/// let config = AisConfig::default().runs(100).seed(3);
/// let est = distributed::ais(&world, &rbm, &vec![0.0; 784], &config, &|_| {})?;
/// // the same bits as eval::ais(&rbm, &base, &config) in one process
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn ais<C: Communicator>(
    comm: &C,
    rbm: &Rbm,
    base_bias: &[f32],
    config: &AisConfig,
    progress: Progress<'_>,
) -> Result<AisEstimate> {
    serial::check_ais(rbm, base_bias, config)?;
    let (rank, size) = (comm.rank() as usize, comm.size() as usize);
    if config.runs < size {
        return Err(Error::InvalidParam {
            name: "runs",
            reason: format!("{} AIS runs over {size} ranks: need at least one run per rank", config.runs),
        });
    }
    let (start, end) = shard_bounds(config.runs, rank, size);
    let local = serial::ais_log_weights(rbm, base_bias, config, start..end, progress)?;
    let logw = all_gather_in_order(comm, &local)?;
    Ok(serial::summarize(serial::log_z_base(rbm, base_bias), logw))
}

/// [`crate::eval::raise()`] with each block of examples split over the ranks
/// of `comm`: the same estimates, bit for bit, on every rank. Collective,
/// as [`ais`]; a rank may get no examples of a small block.
///
/// # Errors
/// As [`crate::eval::raise()`].
pub fn raise<C: Communicator>(
    comm: &C,
    rbm: &Rbm,
    base_bias: &[f32],
    data: &Dataset,
    config: &RaiseConfig,
    progress: Progress<'_>,
) -> Result<RaiseEstimate> {
    serial::check_raise(rbm, base_bias, data, config)?;
    let (rank, size) = (comm.rank() as usize, comm.size() as usize);
    let share = |ex: usize| crate::train::split::shard(ex, rank, size);
    let (mine, lp, lz) = serial::raise_examples(rbm, base_bias, data, config, &share, progress)?;
    // Each block's examples come from the ranks in rank order, so the
    // rank-ordered gather of every block interleaves blocks: the example
    // indices come along to put the values back in order.
    let mine: Vec<f64> = mine.iter().map(|&i| i as f64).collect();
    let (idx, lp, lz) =
        (all_gather_in_order(comm, &mine)?, all_gather_in_order(comm, &lp)?, all_gather_in_order(comm, &lz)?);
    let (mut log_probs, mut log_z) = (vec![0.0; data.len()], vec![0.0; data.len()]);
    for ((i, p), z) in idx.iter().zip(lp).zip(lz) {
        log_probs[*i as usize] = p;
        log_z[*i as usize] = z;
    }
    Ok(serial::raise_summary(log_probs, log_z))
}

/// The rows of an update split over the ranks of `comm`
/// ([`crate::train::split`]).
struct MpiSplit<'c, C: Communicator> {
    comm: &'c C,
}

/// MPI counts and displacements of `parts` rows of `width` values.
fn layout(parts: &[std::ops::Range<usize>], width: usize) -> Result<(Vec<i32>, Vec<i32>)> {
    let too_big = || Error::InvalidParam {
        name: "rows",
        reason: format!(
            "{} rows of {width} values are more than one MPI message can address (2^31 − 1 values)",
            parts.last().map_or(0, |p| p.end)
        ),
    };
    let mut counts = Vec::with_capacity(parts.len());
    let mut displs = Vec::with_capacity(parts.len());
    for p in parts {
        let c = p.len().checked_mul(width).and_then(|c| i32::try_from(c).ok()).ok_or_else(too_big)?;
        let d = p.start.checked_mul(width).and_then(|d| i32::try_from(d).ok()).ok_or_else(too_big)?;
        counts.push(c);
        displs.push(d);
    }
    Ok((counts, displs))
}

impl<C: Communicator> crate::train::split::Split for MpiSplit<'_, C> {
    fn rank_size(&self) -> (usize, usize) {
        (self.comm.rank() as usize, self.comm.size() as usize)
    }

    fn counts(&self, ones: u64, len: u64) -> (u64, u64) {
        global_counts(self.comm)(ones, len)
    }

    fn gather_rows(
        &self,
        local: &[f32],
        width: usize,
        parts: &[std::ops::Range<usize>],
        out: &mut [f32],
    ) -> Result<()> {
        let (counts, displs) = layout(parts, width)?;
        let mut recv = mpi::datatype::PartitionMut::new(out, &counts[..], &displs[..]);
        self.comm.all_gather_varcount_into(local, &mut recv);
        Ok(())
    }

    fn gather_values(
        &self,
        local: &[f64],
        parts: &[std::ops::Range<usize>],
        out: &mut Vec<f64>,
    ) -> Result<()> {
        let (counts, displs) = layout(parts, 1)?;
        let at = out.len();
        out.resize(at + parts.last().map_or(0, |p| p.end), 0.0);
        let mut recv = mpi::datatype::PartitionMut::new(&mut out[at..], &counts[..], &displs[..]);
        self.comm.all_gather_varcount_into(local, &mut recv);
        Ok(())
    }
}

/// Data-parallel CD / PCD training over the ranks of `comm`: every rank
/// holds the whole training state except the persistent chains, of which
/// it keeps a contiguous share ([`shard_bounds`]), and the optimizer state
/// of the weights, of which it keeps its rows current. Each update's
/// positive rows and chains are split over the ranks, the products chosen
/// from the whole update's densities, and the rows `[V⁺; V⁻]`, `[P⁺; P⁻]`
/// all-gathered in order; then each rank computes the weight gradient and
/// the step of its share of the rows of `W` (visible units, as the threads
/// split them in one process) and the new rows are all-gathered. **The
/// parameters, chains and checkpoints are the same bits as
/// [`Trainer`](crate::train::Trainer) in one process with the same
/// configuration**, for any number of ranks and threads per rank
/// (`examples/mpi_train.rs` checks it with 1, 2 and 3 ranks). Every rank
/// reads the whole data set. Not yet for parallel tempering or fast
/// weights.
///
/// Every method is collective: all ranks call it, in the same order, with
/// the same arguments.
///
/// # Examples
/// ```no_run
/// use boltzmann::{data::Dataset, distributed::ShardedTrainer, train::TrainConfig};
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let data = Dataset::new(vec![0.0, 1.0, 1.0, 0.0].repeat(50), 4)?;
/// let config = TrainConfig::default().n_hidden(3).batch_size(10).epochs(2);
/// let mut t = ShardedTrainer::new(&world, config, &data)?;
/// while !t.is_done() {
///     t.run_epoch(&data, |_, _| {})?;
/// }
/// if let Some(state) = t.gather_state()? {
///     // rank 0: the whole run's state, e.g. for io::save_checkpoint
///     assert_eq!(state.chains.batch(), 100);
/// }
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug)]
pub struct ShardedTrainer<'c, C: Communicator> {
    comm: &'c C,
    inner: crate::train::sharded::Sharded,
}

impl<'c, C: Communicator> ShardedTrainer<'c, C> {
    /// A fresh run (as [`Trainer::new`](crate::train::Trainer::new)), this
    /// rank's share of the chains kept.
    ///
    /// # Errors
    /// As `Trainer::new`; [`Error::InvalidParam`] for parallel tempering,
    /// fast weights, or fewer chains than ranks.
    pub fn new(comm: &'c C, config: crate::train::TrainConfig, data: &Dataset) -> Result<Self> {
        Self::share(comm, crate::train::Trainer::new(config, data)?)
    }

    /// Continues a saved run (as
    /// [`Trainer::resume`](crate::train::Trainer::resume)) — written by one
    /// process or by [`ShardedTrainer::gather_state`] with any number of
    /// ranks.
    ///
    /// # Errors
    /// As `Trainer::resume` and [`ShardedTrainer::new`].
    pub fn resume(comm: &'c C, state: crate::train::TrainState, data: &Dataset) -> Result<Self> {
        Self::share(comm, crate::train::Trainer::resume(state, data)?)
    }

    fn share(comm: &'c C, t: crate::train::Trainer) -> Result<Self> {
        let inner = crate::train::sharded::Sharded::new(t, comm.rank() as usize, comm.size() as usize)?;
        Ok(ShardedTrainer { comm, inner })
    }

    /// One epoch over `data` (the same on every rank), as
    /// [`Trainer::run_epoch`](crate::train::Trainer::run_epoch).
    ///
    /// # Errors
    /// As `Trainer::run_epoch` — on every rank at once (they hold the same
    /// parameters); an error of one rank alone (e.g. out of memory) leaves
    /// the others waiting: run under `mpirun`, which ends the job when a
    /// rank exits non-zero, or call `abort` on the communicator.
    pub fn run_epoch(
        &mut self,
        data: &Dataset,
        on_batch: impl FnMut(usize, usize),
    ) -> Result<crate::train::EpochReport> {
        self.inner.run_epoch(data, &MpiSplit { comm: self.comm }, on_batch)
    }

    /// The model trained so far (the averaged one with averaging), the
    /// same on every rank.
    pub fn model(&self) -> std::borrow::Cow<'_, Rbm> {
        self.inner.trainer().model()
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.inner.trainer().epoch()
    }

    /// Whether the configured epochs are done.
    pub fn is_done(&self) -> bool {
        self.inner.trainer().is_done()
    }

    /// The configuration.
    pub fn config(&self) -> &crate::train::TrainConfig {
        self.inner.trainer().config()
    }

    /// This rank's chains.
    pub fn local_chains(&self) -> &Chains {
        self.inner.chains()
    }

    /// The whole run's state on rank 0 (`None` elsewhere): every rank's
    /// chains and its rows of the weights' optimizer state gathered in
    /// order — what one process would hold, for
    /// [`crate::io::save_checkpoint`] (resumable with any number of ranks,
    /// or by one process).
    ///
    /// # Errors
    /// As [`Chains::from_parts`] (not expected: the parts come from chains).
    pub fn gather_state(&self) -> Result<Option<crate::train::TrainState>> {
        let c = self.inner.chains();
        let total = self.inner.total_chains();
        let (rank, size) = (self.comm.rank() as usize, self.comm.size() as usize);
        let (d, h) = (c.n_visible(), c.n_hidden());
        let (chains, rows) = (crate::train::split::parts(total, size), crate::train::split::parts(d, size));
        // The weights' optimizer state: each rank keeps its rows (visible
        // units) current; Adam's second moments only with Adam.
        let o = &self.inner.trainer().state().optimizer;
        let my_rows = rows[rank].start * h..rows[rank].end * h;
        fn mine<'a>(x: &'a [f32], r: &std::ops::Range<usize>) -> &'a [f32] {
            if x.is_empty() { x } else { &x[r.clone()] }
        }
        let width = |x: &[f32]| if x.is_empty() { 0 } else { h };
        let streams: Vec<u64> = c.streams().iter().flatten().copied().collect();
        let root = self.comm.process_at_rank(0);
        // (this rank's values, row width, every rank's rows, whole length)
        type Part<'a> = (&'a [f32], usize, &'a [std::ops::Range<usize>], usize);
        let f32_parts: [Part<'_>; 4] = [
            (c.visible(), d, &chains, total * d),
            (c.hidden(), h, &chains, total * h),
            (mine(&o.m_w, &my_rows), width(&o.m_w), &rows, o.m_w.len()),
            (mine(&o.v_w, &my_rows), width(&o.v_w), &rows, o.v_w.len()),
        ];
        if rank != 0 {
            for (local, ..) in f32_parts {
                root.gather_varcount_into(local);
            }
            root.gather_varcount_into(&streams[..]);
            return Ok(None);
        }
        let mut whole = Vec::with_capacity(4);
        for (local, w, parts, len) in f32_parts {
            let mut buf = vec![0.0f32; len];
            let (counts, displs) = layout(parts, w)?;
            let mut recv = mpi::datatype::PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(local, &mut recv);
            whole.push(buf);
        }
        let mut st = vec![0u64; total * 4];
        let (counts, displs) = layout(&chains, 4)?;
        let mut recv = mpi::datatype::PartitionMut::new(&mut st[..], &counts[..], &displs[..]);
        root.gather_varcount_into_root(&streams[..], &mut recv);
        let streams = st.chunks_exact(4).map(|s| [s[0], s[1], s[2], s[3]]).collect();
        let (v_w, m_w, hh, v) = (whole.pop(), whole.pop(), whole.pop(), whole.pop());
        let (v, hh, m_w, v_w) =
            (v.unwrap_or_default(), hh.unwrap_or_default(), m_w.unwrap_or_default(), v_w.unwrap_or_default());
        let rbm = self.inner.trainer().rbm();
        let mut all = Chains::from_parts(rbm, v, hh, streams, c.sweeps_done())?;
        all.set_isa(c.isa())?;
        Ok(Some(self.inner.whole_state(all, m_w, v_w)))
    }
}
