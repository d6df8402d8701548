//! `--mpi`: this process alone, or one rank of `mpirun`, for `eval` (AIS
//! and RAISE split over the ranks) and `train` (data-parallel training),
//! with [`boltzmann::distributed`] — the same results, bit for bit, as one
//! process. Without the `mpi` feature `--mpi` is refused with a clear
//! message. A failure on any rank ends the whole job ([`Ranks::finish`]).

use crate::CliResult;
use boltzmann::Rbm;
use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig, AisEstimate, Progress, RaiseConfig, RaiseEstimate};

/// This process alone, or this rank of an MPI job.
pub(crate) struct Ranks {
    #[cfg(feature = "mpi")]
    universe: Option<mpi::environment::Universe>,
}

impl Ranks {
    /// In this process (`mpi = false`) or over MPI. Call from the main
    /// thread, before any other MPI use.
    pub(crate) fn new(mpi: bool) -> CliResult<Ranks> {
        #[cfg(feature = "mpi")]
        {
            let universe = if mpi {
                // Started by mpirun (Open MPI, MPICH or any PMI launcher)?
                // A lone `--mpi` process would otherwise run as one rank
                // without a word.
                let launched =
                    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS"]
                        .iter()
                        .any(|v| std::env::var_os(v).is_some());
                if !launched {
                    return Err(
                        "--mpi: not started by mpirun; run `mpirun -np N boltzmann … --mpi` (or drop --mpi)"
                            .into(),
                    );
                }
                // Any one thread at a time may call MPI: the annealing loop
                // runs on a worker of the rank's thread pool.
                let (u, _) = mpi::initialize_with_threading(mpi::Threading::Serialized)
                    .ok_or("--mpi: MPI was already initialized")?;
                Some(u)
            } else {
                None
            };
            Ok(Ranks { universe })
        }
        #[cfg(not(feature = "mpi"))]
        {
            if mpi {
                return Err(crate::bench::mpi::NO_MPI.into());
            }
            Ok(Ranks {})
        }
    }

    /// The world communicator under `--mpi`.
    #[cfg(feature = "mpi")]
    pub(crate) fn world(&self) -> Option<mpi::topology::SimpleCommunicator> {
        self.universe.as_ref().map(|u| u.world())
    }

    /// Passes `r` on; under `--mpi` with more than one rank a failure is
    /// printed and the whole job aborted, so that no rank waits forever in
    /// a collective for one that stopped.
    pub(crate) fn finish(&self, r: CliResult<()>) -> CliResult<()> {
        #[cfg(feature = "mpi")]
        if let (Err(e), Some(u)) = (&r, &self.universe) {
            use mpi::traits::Communicator;
            let w = u.world();
            if w.size() > 1 {
                // What this rank created goes first (as on any failure),
                // then the job ends on every rank.
                crate::out::roll_back();
                eprintln!("error (rank {} of {}): {e}", w.rank(), w.size());
                w.abort(2);
            }
        }
        r
    }

    /// Checks that every rank was given the same `what` (a digest of its
    /// settings, model and data): an error on every rank, naming the ranks
    /// that differ from rank 0, when they do not (collective; nothing to do
    /// in one process).
    pub(crate) fn agree(&self, what: &str, digest: u64) -> CliResult<()> {
        #[cfg(feature = "mpi")]
        if let Some(u) = &self.universe {
            use mpi::traits::*;
            let w = u.world();
            let mut all = vec![0u64; w.size() as usize];
            w.all_gather_into(&digest, &mut all[..]);
            let odd: Vec<String> =
                all.iter().enumerate().filter(|(_, d)| **d != all[0]).map(|(r, _)| r.to_string()).collect();
            if !odd.is_empty() {
                return Err(format!(
                    "--mpi: rank(s) {} were given other {what} than rank 0; every rank needs the same",
                    odd.join(", ")
                )
                .into());
            }
        }
        let _ = (what, digest);
        Ok(())
    }

    /// Whether this process prints (rank 0, or the only process).
    pub(crate) fn is_root(&self) -> bool {
        #[cfg(feature = "mpi")]
        if let Some(u) = &self.universe {
            use mpi::traits::Communicator;
            return u.world().rank() == 0;
        }
        true
    }

    /// The number of processes sharing the work.
    pub(crate) fn ranks(&self) -> usize {
        #[cfg(feature = "mpi")]
        if let Some(u) = &self.universe {
            use mpi::traits::Communicator;
            return u.world().size() as usize;
        }
        1
    }

    /// [`eval::ais_with_progress`], split over the ranks with `--mpi`.
    pub(crate) fn ais(
        &self,
        rbm: &Rbm,
        base: &[f32],
        cfg: &AisConfig,
        progress: Progress<'_>,
    ) -> boltzmann::Result<AisEstimate> {
        #[cfg(feature = "mpi")]
        if let Some(u) = &self.universe {
            return boltzmann::distributed::ais(&u.world(), rbm, base, cfg, progress);
        }
        eval::ais_with_progress(rbm, base, cfg, progress)
    }

    /// [`eval::raise_with_progress`], split over the ranks with `--mpi`.
    pub(crate) fn raise(
        &self,
        rbm: &Rbm,
        base: &[f32],
        data: &Dataset,
        cfg: &RaiseConfig,
        progress: Progress<'_>,
    ) -> boltzmann::Result<RaiseEstimate> {
        #[cfg(feature = "mpi")]
        if let Some(u) = &self.universe {
            return boltzmann::distributed::raise(&u.world(), rbm, base, data, cfg, progress);
        }
        eval::raise_with_progress(rbm, base, data, cfg, progress)
    }
}
