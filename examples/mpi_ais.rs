//! Distributed AIS and RAISE against one process: `mpirun -np N` of this
//! example splits 37 AIS runs and the reverse chains of 10 examples × 300
//! runs (blocks of 3 examples: a rank may get none of a block) over the
//! ranks, and rank 0 checks the estimates bit for bit against
//! `eval::ais` / `eval::raise` run alone in rank 0. The model (130 × 70:
//! above the 8,192 weights of the no-packing kernel, so the weights are
//! packed) has annealing states that start dense (base rates ½) and end
//! sparse (biases −1), so the dense products, the binary products and the
//! updates by changed units all run. Exits non-zero on any difference
//! (`.ci/run` runs it with 1, 2 and 3 ranks).
//!
//! ```sh
//! cargo build --release --features mpi --example mpi_ais
//! mpirun -np 3 target/release/examples/mpi_ais
//! ```

use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig, RaiseConfig};
use boltzmann::{Rbm, distributed};
use mpi::traits::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let universe = mpi::initialize().ok_or("MPI is already initialized")?;
    let world = universe.world();
    let (d, h) = (130, 70);
    let w = Rbm::random(d, h, 0.3, 0.0, 5)?.weights().to_vec();
    let rbm = Rbm::new(d, h, w, vec![-1.0; d], vec![-1.0; h])?;
    let base = vec![0.0f32; d];
    let ais_cfg = AisConfig::default().runs(37).schedule(eval::linear_schedule(300)).seed(4);
    let raise_cfg = RaiseConfig::default().runs_per_example(300).schedule(eval::linear_schedule(100)).seed(6);
    let rows: Vec<f32> = (0..10 * d).map(|i| ((i * 7919) % 13 < 4) as u8 as f32).collect();
    let data = Dataset::new(rows, d)?;

    let a = distributed::ais(&world, &rbm, &base, &ais_cfg, &|_| {})?;
    let r = distributed::raise(&world, &rbm, &base, &data, &raise_cfg, &|_| {})?;
    if world.rank() == 0 {
        let a1 = eval::ais(&rbm, &base, &ais_cfg)?;
        let r1 = eval::raise(&rbm, &base, &data, &raise_cfg)?;
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let same_ais =
            a.log_z.to_bits() == a1.log_z.to_bits() && bits(&a.log_weights) == bits(&a1.log_weights);
        let same_raise = bits(&r.log_probs) == bits(&r1.log_probs)
            && bits(&r.log_z) == bits(&r1.log_z)
            && r.mean.to_bits() == r1.mean.to_bits();
        println!(
            "{} ranks: AIS log Z {} (alone {}), RAISE mean {} (alone {}): {}",
            world.size(),
            a.log_z,
            a1.log_z,
            r.mean,
            r1.mean,
            if same_ais && same_raise { "same bits" } else { "DIFFERENT" }
        );
        if !(same_ais && same_raise) {
            std::process::exit(1);
        }
    }
    Ok(())
}
