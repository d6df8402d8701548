//! Data-parallel training against one process: `mpirun -np N` of this
//! example trains with `distributed::ShardedTrainer` on 1,030 embedded
//! MNIST digits (a 784×64 model: the packed binary products run; a last,
//! smaller batch) and rank 0 checks the whole state after two epochs —
//! weights, biases, optimizer, offsets, averages, every chain and stream —
//! bit for bit against `Trainer` alone, for PCD-1, PCD-2 with centering,
//! Adam and averaging, and CD-1. The run is cut after the first epoch, its
//! gathered checkpoint bytes broadcast, and resumed by every rank, as a
//! resume on another rank count would be. The chain diagnostics of each
//! epoch are compared too. Exits non-zero on any difference (`.ci/run` runs
//! it with 1, 2 and 3 ranks).
//!
//! ```sh
//! cargo build --release --features mpi --example mpi_train
//! mpirun -np 3 target/release/examples/mpi_train
//! ```

use boltzmann::distributed::ShardedTrainer;
use boltzmann::io;
use boltzmann::train::{Algorithm, Averaging, Centering, Optimizer, TrainConfig, Trainer};
use mpi::traits::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let universe = mpi::initialize().ok_or("MPI is already initialized")?;
    let world = universe.world();
    let train = io::embedded_mnist()?.train;
    let data = train.subset(0..1030)?;
    let base = TrainConfig::default().n_hidden(64).batch_size(100).epochs(2).seed(9);
    let configs = [
        ("PCD-1", base.clone().algorithm(Algorithm::Pcd { k: 1, chains: 50 })),
        (
            "PCD-2, centering, Adam, averaging",
            base.clone()
                .algorithm(Algorithm::Pcd { k: 2, chains: 37 })
                .centering(Some(Centering { hidden_rate: 0.05 }))
                .optimizer(Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 })
                .learning_rate(0.01)
                .averaging(Some(Averaging { decay: 0.9, from_epoch: 0 })),
        ),
        ("CD-1", base.clone().algorithm(Algorithm::Cd { k: 1 })),
    ];
    // Rows of density ¾ then rows of density ⅒ (on average just above the
    // 0.40 at which the binary products win on AVX-512), unshuffled: one
    // rank's share alone would choose other products than the whole batch.
    let d = 784;
    let mut x = 12345u64;
    let rows: Vec<f32> = (0..1030 * d)
        .map(|i| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let p = if (i / d) % 100 < 50 { 0.75 } else { 0.1 };
            (((x >> 40) as f64 / (1u64 << 24) as f64) < p) as u8 as f32
        })
        .collect();
    let halves = boltzmann::data::Dataset::new(rows, d)?;
    let unshuffled = base.clone().shuffle(false);
    let mixed = [
        ("PCD-1, dense and sparse halves", unshuffled.clone().algorithm(Algorithm::Pcd { k: 1, chains: 50 })),
        ("CD-1, dense and sparse halves", unshuffled.algorithm(Algorithm::Cd { k: 1 })),
    ];
    let runs = configs.into_iter().map(|c| (c, &data)).chain(mixed.into_iter().map(|c| (c, &halves)));
    let mut all_same = true;
    for ((name, config), data) in runs {
        let mut t = ShardedTrainer::new(&world, config.clone(), data)?;
        let first = t.run_epoch(data, |_, _| {})?;
        // Cut: the gathered checkpoint, as bytes, to every rank; resume.
        let mut bytes = match t.gather_state()? {
            Some(s) => io::checkpoint_bytes(&s),
            None => Vec::new(),
        };
        let mut len = bytes.len() as u64;
        let root = world.process_at_rank(0);
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        root.broadcast_into(&mut bytes[..]);
        let state = io::parse_checkpoint(&bytes, "checkpoint bytes")?;
        let mut t = ShardedTrainer::resume(&world, state, data)?;
        let second = t.run_epoch(data, |_, _| {})?;
        let gathered = t.gather_state()?;
        if let Some(state) = gathered {
            let mut alone = Trainer::new(config, data)?;
            let a1 = alone.run_epoch(data, |_, _| {})?;
            let a2 = alone.run_epoch(data, |_, _| {})?;
            let same = io::checkpoint_bytes(&state) == io::checkpoint_bytes(alone.state())
                && first.chains == a1.chains
                && second.chains == a2.chains;
            println!("{} ranks, {name}: {}", world.size(), if same { "same bits" } else { "DIFFERENT" });
            all_same &= same;
        }
    }
    if !all_same {
        std::process::exit(1);
    }
    Ok(())
}
