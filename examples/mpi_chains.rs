//! The MPI ensemble against one process: `mpirun -np N` of this example
//! splits 1,003 chains of a 200×100 model over the ranks, sweeps them (25
//! sweeps in one call, then three single sweeps: 1,003 chain-sweeps allow
//! the binary products, a share's 334 alone would not), and
//! rank 0 checks the gathered states, the visible-unit count and the mean
//! free energy bit for bit against the same ensemble run alone in rank 0;
//! then the same for bit-packed chains (`ShardedPackedChains`).
//! Exits non-zero on any difference (`.ci/run` runs it with 1, 2 and 3
//! ranks).
//!
//! ```sh
//! cargo build --release --features mpi --example mpi_chains
//! mpirun -np 3 target/release/examples/mpi_chains
//! ```

use boltzmann::distributed::{ShardedChains, ShardedPackedChains};
use boltzmann::sampler::PackedChains;
use boltzmann::{Chains, Rbm};
use mpi::traits::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let universe = mpi::initialize().ok_or("MPI is already initialized")?;
    let world = universe.world();
    let (total, sweeps, seed) = (1003usize, 25usize, 11u64);
    // Large enough for the packed products (above 8,192 weights), biases
    // low enough for sparse states: chains run the binary products.
    let w = Rbm::random(200, 100, 0.3, 0.0, 5)?.weights().to_vec();
    let rbm = Rbm::new(200, 100, w, vec![-1.5; 200], vec![-1.5; 100])?;
    let mut shard = ShardedChains::new(&world, &rbm, total, seed)?;
    shard.sweep(&rbm, sweeps)?;
    for _ in 0..3 {
        shard.sweep(&rbm, 1)?;
    }
    let ones = shard.visible_ones(&world);
    let mean_f = shard.mean_free_energy(&world, &rbm)?;
    let gathered = shard.gather_states(&world);
    if let Some((v, h)) = gathered {
        let mut alone = Chains::new(&rbm, total, seed)?;
        alone.sweep(&rbm, sweeps)?;
        for _ in 0..3 {
            alone.sweep(&rbm, 1)?;
        }
        let ones_alone = alone.visible().iter().filter(|&&x| x != 0.0).count() as u64;
        let mut f = vec![0.0f64; total];
        rbm.free_energy_batch(alone.visible(), &mut f)?;
        let mean_alone = f.iter().sum::<f64>() / total as f64;
        let same = v == alone.visible()
            && h == alone.hidden()
            && ones == ones_alone
            && mean_f.to_bits() == mean_alone.to_bits();
        println!(
            "{} ranks, {total} chains, {sweeps} sweeps: visible ones {ones} (alone {ones_alone}), mean F {mean_f} (alone {mean_alone}): {}",
            world.size(),
            if same { "same bits" } else { "DIFFERENT" }
        );
        if !same {
            std::process::exit(1);
        }
    }
    // The same ensemble with bit-packed states.
    let mut packed = ShardedPackedChains::new(&world, &rbm, total, seed)?;
    packed.sweep(&rbm, sweeps)?;
    for _ in 0..3 {
        packed.sweep(&rbm, 1)?;
    }
    let packed_ones = packed.visible_ones(&world);
    if let Some(bits) = packed.gather_bits(&world) {
        let mut alone = PackedChains::new(&rbm, total, seed)?;
        alone.sweep(&rbm, sweeps)?;
        for _ in 0..3 {
            alone.sweep(&rbm, 1)?;
        }
        let same = bits == alone.visible_bits();
        println!(
            "{} ranks, {total} packed chains: visible ones {packed_ones}: {}",
            world.size(),
            if same { "same bits" } else { "DIFFERENT" }
        );
        if !same {
            std::process::exit(1);
        }
    }
    Ok(())
}
