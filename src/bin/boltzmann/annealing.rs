//! Where `eval`'s annealing runs: in this process, or (`--mpi`) split over
//! the ranks of `mpirun` with [`boltzmann::distributed`] — the same
//! estimates, bit for bit. Without the `mpi` feature `--mpi` is refused
//! with a clear message.

use crate::CliResult;
use boltzmann::Rbm;
use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig, AisEstimate, Progress, RaiseConfig, RaiseEstimate};

/// This process alone, or this rank of an MPI job.
pub(crate) struct Annealing {
    #[cfg(feature = "mpi")]
    universe: Option<mpi::environment::Universe>,
}

impl Annealing {
    /// In this process (`mpi = false`) or over MPI. Call from the main
    /// thread, before any other MPI use.
    pub(crate) fn new(mpi: bool) -> CliResult<Annealing> {
        #[cfg(feature = "mpi")]
        {
            let universe = if mpi {
                // Any one thread at a time may call MPI: the annealing loop
                // runs on a worker of the rank's thread pool.
                let (u, _) = mpi::initialize_with_threading(mpi::Threading::Serialized)
                    .ok_or("--mpi: MPI was already initialized")?;
                Some(u)
            } else {
                None
            };
            Ok(Annealing { universe })
        }
        #[cfg(not(feature = "mpi"))]
        {
            if mpi {
                return Err(crate::bench_mpi::NO_MPI.into());
            }
            Ok(Annealing {})
        }
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
