//! Langevin-step benchmarks on the 784 × 500 Gaussian–Bernoulli RBM (the
//! step of `../shared/refbench/jax_gibbs.py`): `LangevinChains` (ULA, MALA)
//! beside the naive per-chain f64 reference step, and the MLP energy;
//! the fast step is checked against the reference before timing.
//!
//! `cargo bench --bench langevin`. For headline numbers use the CLI
//! (`boltzmann bench langevin`), which also controls the thread count.

use boltzmann::energy::{Activation, MlpEnergy};
use boltzmann::model::GaussianRbm;
use boltzmann::reference;
use boltzmann::sampler::langevin::{LangevinChains, LangevinConfig, MalaConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn steps(c: &mut Criterion) {
    let (d, h, b) = (784usize, 500usize, 256usize);
    let m = GaussianRbm::random(d, h, 0.01, 1.0, 1).unwrap();
    let cfg = LangevinConfig::ula(1e-2);
    let id = format!("{d}x{h}x{b}");
    let mut g = c.benchmark_group("langevin_step");
    g.throughput(Throughput::Elements(b as u64)); // chain-steps
    // Check one step of chain 0 against the reference (same normals).
    let mut chains = LangevinChains::uniform(b, d, 0.0, 1.0, 2).unwrap();
    let x0 = chains.states()[..d].to_vec();
    let mut st = boltzmann::rng::chain_streams(2, 1).unwrap();
    let mut z = vec![0.0f32; d];
    boltzmann::rng::fill_normal(&mut st, d, &mut z).unwrap();
    chains.run(&m, &cfg, 1).unwrap();
    let want = reference::gaussian_rbm_langevin_step(&m, &x0, &z, 1e-2, 0.1);
    let worst = chains.states()[..d].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "step differs from the reference by {worst}");
    g.bench_function(BenchmarkId::new("ula", &id), |bch| bch.iter(|| chains.run(&m, &cfg, 1).unwrap()));
    let mut mala = LangevinChains::uniform(b, d, 0.0, 1.0, 3).unwrap();
    g.bench_function(BenchmarkId::new("mala", &id), |bch| {
        bch.iter(|| mala.run_mala(&m, &MalaConfig::new(1e-2), 1).unwrap())
    });
    let mlp = MlpEnergy::new(d, &[h], Activation::Swish, 4).unwrap();
    let mut mc = LangevinChains::uniform(b, d, 0.0, 1.0, 5).unwrap();
    g.bench_function(BenchmarkId::new("ula_mlp_784-500-1", &id), |bch| {
        bch.iter(|| mc.run(&mlp, &cfg, 1).unwrap())
    });
    // The naive reference on the same chains (per chain, f64).
    let mut xs: Vec<Vec<f32>> = chains.states().chunks(d).map(|r| r.to_vec()).collect();
    g.bench_function(BenchmarkId::new("reference_f64", &id), |bch| {
        bch.iter(|| {
            for x in xs.iter_mut() {
                *x = reference::gaussian_rbm_langevin_step(&m, x, &z, 1e-2, 0.1);
            }
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! { name = benches; config = config(); targets = steps }
criterion_main!(benches);
