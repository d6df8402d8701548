//! Block-Gibbs sweeps on chain states you own, in your own rayon pool:
//! `sampler::gibbs::sweep_with` on plain `Vec`s with a reusable
//! `SweepWorkspace` (no allocation after the first call), the same bits as
//! a `Chains` ensemble for any thread count.
//!
//! `cargo run --release --example own_buffers`

use boltzmann::sampler::gibbs::{self, SweepWorkspace};
use boltzmann::{Chains, Rbm, rng};

fn main() -> boltzmann::Result<()> {
    let (d, h, chains) = (784, 200, 1000);
    let rbm = Rbm::random(d, h, 0.05, 0.5, 1)?;
    let mut results = Vec::new();
    for threads in [1, 3] {
        // Your buffers: states as 0/1 floats, one xoshiro256++ stream per chain.
        let mut visible = vec![0.0f32; chains * d];
        let mut hidden = vec![0.0f32; chains * h];
        let mut streams = rng::chain_streams(2026, chains)?;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
        let mut ws = SweepWorkspace::new();
        let t = std::time::Instant::now();
        // One sweep at a time, as a simulation interleaving its own work
        // would: the workspace is allocated by the first call only.
        for _ in 0..20 {
            pool.install(|| gibbs::sweep_with(&rbm, &mut visible, &mut hidden, &mut streams, 1, &mut ws))?;
        }
        let density = visible.iter().sum::<f32>() / visible.len() as f32;
        println!(
            "{threads} thread(s): 20 sweeps of {chains} chains in {:.3} s, visible density {density:.4}, \
             workspace {} KiB",
            t.elapsed().as_secs_f64(),
            ws.bytes() / 1024
        );
        results.push(visible);
    }
    assert!(results[0] == results[1], "thread counts gave different states");
    // The same as an owned ensemble started from the same parts.
    let start = (vec![0.0; chains * d], vec![0.0; chains * h], rng::chain_streams(2026, chains)?);
    let mut owned = Chains::from_parts(&rbm, start.0, start.1, start.2, 0)?;
    owned.sweep(&rbm, 20)?;
    assert!(owned.visible() == &results[0][..], "Chains differs from gibbs::sweep");
    // And back: an ensemble's parts into your own buffers.
    let (v, _hidden, _streams, sweeps) = owned.into_parts();
    println!("1 and 3 threads and Chains agree bit for bit ({sweeps} sweeps, {} states)", v.len());
    Ok(())
}
