//! The Rust twin of `example.c`'s timed part, for the C ABI's speed claim:
//! the same model (saved by `example OUT SAMPLED`), the same 10,000 chains
//! from seed 7, one untimed sweep, then 100 timed sweeps on a pool of
//! `threads` threads (the C library's default pool has one per core).
//!
//! ```sh
//! cargo run --release -p boltzmann-capi --example sweep_rate -- SAMPLED [threads]
//! ```

use boltzmann::{Chains, io};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: sweep_rate MODEL [threads]")?;
    let threads = match args.next() {
        Some(t) => t.parse()?,
        None => std::thread::available_parallelism()?.get(),
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let rbm = io::load_rbm(&path)?;
    let (n_chains, sweeps) = (10_000, 100);
    let secs = pool.install(|| -> boltzmann::Result<f64> {
        let mut chains = Chains::new(&rbm, n_chains, 7)?;
        chains.sweep(&rbm, 1)?;
        let t0 = Instant::now();
        chains.sweep(&rbm, sweeps)?;
        Ok(t0.elapsed().as_secs_f64())
    })?;
    println!(
        "{n_chains} chains of a {}x{} model: {sweeps} sweeps in {secs:.2} s = {:.1} sweeps/s (Rust API, {threads} threads)",
        rbm.n_visible(),
        rbm.n_hidden(),
        sweeps as f64 / secs
    );
    Ok(())
}
