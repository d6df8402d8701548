//! `bench gibbs --mpi`: the chain ensemble split over MPI ranks
//! ([`boltzmann::distributed::ShardedChains`]), each rank sweeping its share;
//! the rate is that of the slowest rank in each timed run. Without the
//! `mpi` feature the flag is refused with a clear message.

use crate::CliResult;
use crate::bench::GibbsBenchConfig;

/// What `--mpi` says in a build without the `mpi` feature.
#[cfg(not(feature = "mpi"))]
pub(crate) const NO_MPI: &str = "--mpi: this build has no MPI support; build with `cargo build --release --features \
                                 mpi` (needs Open MPI and libclang: apt-get install libopenmpi-dev openmpi-bin \
                                 libclang-dev) and run under mpirun";

#[cfg(not(feature = "mpi"))]
pub(crate) fn gibbs(_: &GibbsBenchConfig, _: bool) -> CliResult<()> {
    Err(NO_MPI.into())
}

#[cfg(feature = "mpi")]
pub(crate) fn gibbs(cfg: &GibbsBenchConfig, json: bool) -> CliResult<()> {
    use boltzmann::distributed::{ShardedChains, ShardedPackedChains};
    use boltzmann::rng::{Purpose, derive};
    use mpi::traits::*;
    use std::time::Instant;

    /// This rank's chains, f32 or bit-packed.
    enum Shard {
        F32(ShardedChains),
        Packed(ShardedPackedChains),
    }
    impl Shard {
        fn sweep(&mut self, rbm: &boltzmann::Rbm, k: usize) -> boltzmann::Result<()> {
            match self {
                Shard::F32(s) => s.sweep(rbm, k),
                Shard::Packed(s) => s.sweep(rbm, k),
            }
        }
        fn visible_ones<C: Communicator>(&self, comm: &C) -> u64 {
            match self {
                Shard::F32(s) => s.visible_ones(comm),
                Shard::Packed(s) => s.visible_ones(comm),
            }
        }
    }

    if cfg.replicas >= 2 || cfg.breakdown || cfg.start.is_some() || cfg.isa.is_some() || cfg.incremental {
        return Err(
            "--mpi runs f32 or --packed chains from uniform starts: not with --replicas, --breakdown, --data, \
             --isa or --incremental"
                .into(),
        );
    }
    let universe = mpi::initialize().ok_or("--mpi: MPI was already initialized")?;
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    let rbm = match &cfg.model {
        Some(m) => m.clone(),
        None => boltzmann::Rbm::random(cfg.n_visible, cfg.n_hidden, 0.01, 0.0, cfg.seed)?,
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(cfg.threads).build().map_err(|e| e.to_string())?;
    // The same chains (states and streams) as `bench gibbs` in one process.
    let seed = derive(cfg.seed, Purpose::BenchChains);
    let mut shard = if cfg.packed {
        Shard::Packed(ShardedPackedChains::new(&world, &rbm, cfg.chains, seed)?)
    } else {
        Shard::F32(ShardedChains::new(&world, &rbm, cfg.chains, seed)?)
    };
    let timed = |k: usize, shard: &mut Shard| -> CliResult<f64> {
        world.barrier();
        let t = Instant::now();
        pool.install(|| shard.sweep(&rbm, k))?;
        let mine = t.elapsed().as_secs_f64();
        let mut slowest = 0.0f64;
        world.all_reduce_into(&mine, &mut slowest, mpi::collective::SystemOperation::max());
        Ok(slowest)
    };
    // Warm-up and calibration (rank 0 decides, everyone follows).
    let one = timed(1, &mut shard)?.max(1e-7);
    let mut sweeps =
        if cfg.sweeps > 0 { cfg.sweeps } else { ((0.3 / one).ceil() as usize).clamp(1, 100_000) };
    world.process_at_rank(0).broadcast_into(&mut sweeps);
    let mut rates = Vec::with_capacity(cfg.repeats);
    for _ in 0..cfg.repeats {
        rates.push(sweeps as f64 / timed(sweeps, &mut shard)?);
    }
    let ones = shard.visible_ones(&world);
    if rank == 0 {
        rates.sort_by(f64::total_cmp);
        let med = rates[rates.len() / 2];
        let (d, h, b) = (rbm.n_visible(), rbm.n_hidden(), cfg.chains);
        let density = ones as f64 / (b as f64 * d as f64);
        if json {
            outln!(
                "{}",
                jobj!(
                    "bench" = "gibbs",
                    "mpi_ranks" = size,
                    "threads_per_rank" = cfg.threads,
                    "n_visible" = d,
                    "n_hidden" = h,
                    "chains" = b,
                    "packed" = cfg.packed,
                    "sweeps" = sweeps,
                    "repeats" = cfg.repeats,
                    "sweeps_per_s" = med,
                    "sweeps_per_s_min" = rates[0],
                    "sweeps_per_s_max" = rates[rates.len() - 1],
                    "chain_sweeps_per_s" = med * b as f64,
                    "visible_density" = density,
                )
            );
        } else {
            let packed = if cfg.packed { " packed" } else { "" };
            outln!("gibbs D={d} H={h} B={b}{packed}  MPI ranks={size} × threads={}", cfg.threads);
            outln!(
                "  {med:.2} sweeps/s (slowest rank; range {:.2}–{:.2}, {} runs × {sweeps} sweeps)",
                rates[0],
                rates[rates.len() - 1],
                cfg.repeats
            );
            outln!("  {:.3} M chain-sweeps/s", med * b as f64 / 1e6);
            outln!("  visible density {density:.4} (all ranks, exact count)");
        }
    }
    Ok(())
}
