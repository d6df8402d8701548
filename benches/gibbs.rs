//! Block-Gibbs sweep benchmarks: the chain ensemble on every SIMD path beside
//! the naive per-chain f64 reference sweep (`sweep/impl/DxHxB`).
//!
//! `cargo bench --bench gibbs`. For the headline numbers use the CLI
//! (`boltzmann bench gibbs`), which also controls the thread count.

use boltzmann::{Chains, Isa, Rbm, reference};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn sweeps(c: &mut Criterion) {
    for (d, h, b) in [(784usize, 500usize, 100usize), (64, 32, 4096)] {
        let rbm = Rbm::random(d, h, 0.01, 0.0, 1).unwrap();
        let id = format!("{d}x{h}x{b}");
        let mut g = c.benchmark_group("sweep");
        g.throughput(Throughput::Elements(b as u64)); // chain-sweeps
        for isa in Isa::available() {
            let mut chains = Chains::new(&rbm, b, 2).unwrap();
            chains.set_isa(isa).unwrap();
            // Check against the reference once before timing.
            let (v0, s0) = (chains.visible()[..d].to_vec(), chains.streams()[0]);
            chains.sweep(&rbm, 1).unwrap();
            let (v1, _) = reference::gibbs_sweep(&rbm, &v0, &mut reference::Uniforms::new(s0));
            assert_eq!(&chains.visible()[..d], &v1[..], "{isa}: sweep differs from reference");
            g.bench_function(BenchmarkId::new(isa.name(), &id), |bch| {
                bch.iter(|| chains.sweep(&rbm, 1).unwrap())
            });
        }
        // Naive reference: per chain, f64 dot products and libm sigmoid.
        let chains = Chains::new(&rbm, b, 2).unwrap();
        let mut states: Vec<(Vec<f32>, reference::Uniforms)> = (0..b)
            .map(|i| {
                (chains.visible()[i * d..(i + 1) * d].to_vec(), reference::Uniforms::new(chains.streams()[i]))
            })
            .collect();
        g.bench_function(BenchmarkId::new("reference_f64", &id), |bch| {
            bch.iter(|| {
                for (v, u) in states.iter_mut() {
                    *v = reference::gibbs_sweep(&rbm, v, u).0;
                }
            })
        });
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! { name = benches; config = config(); targets = sweeps }
criterion_main!(benches);
