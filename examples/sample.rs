//! Sample a random RBM with many chains and report what happened.
//!
//! `cargo run --release --example sample`

use boltzmann::{Chains, Rbm};
use std::time::Instant;

fn main() -> boltzmann::Result<()> {
    // A 784 × 500 RBM with weights N(0, 0.1²) and biases N(0, 0.5²).
    let rbm = Rbm::random(784, 500, 0.1, 0.5, 1)?;
    // 1000 chains, started uniformly at random from stream seed 42.
    let mut chains = Chains::new(&rbm, 1000, 42)?;
    let t = Instant::now();
    chains.sweep(&rbm, 200)?;
    let secs = t.elapsed().as_secs_f64();
    let v = chains.visible();
    let active = v.iter().sum::<f32>() / v.len() as f32;
    // Mean free energy of the final states.
    let mut f = vec![0.0f64; chains.batch()];
    rbm.free_energy_batch(v, &mut f)?;
    let mean_f = f.iter().sum::<f64>() / f.len() as f64;
    println!(
        "{} chains × 200 sweeps in {secs:.2} s on {} ({} threads): mean visible activity {active:.3}, mean F(v) {mean_f:.1}",
        chains.batch(),
        chains.isa(),
        rayon::current_num_threads()
    );
    Ok(())
}
