//! Block-Gibbs sweep benchmarks: the chain ensemble on every SIMD path beside
//! the naive per-chain f64 reference sweep (`sweep/impl/DxHxB`), and on
//! sparse states the f32 ensemble beside the bit-packed one with fused
//! half-steps (`sparse_sweep/...`), and a tempered sweep beside plain
//! sweeps of as many rows (`tempering/...`).
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
        bench_reference(&mut g, &rbm, &Chains::new(&rbm, b, 2).unwrap(), &id);
        g.finish();
    }
}

/// Sparse states (negative biases: ≈ 12 % visible, ≈ 18 % hidden ones, like
/// a trained model on MNIST), 1,024 chains of 784 × 500: f32 `Chains` (binary
/// products per chain) beside `PackedChains` (bit states, fused half-steps),
/// checked equal before timing, sweeps with kept products, and the naive
/// f64 reference sweep.
fn sparse_sweeps(c: &mut Criterion) {
    use boltzmann::sampler::PackedChains;
    let (d, h, b) = (784usize, 500usize, 1024usize);
    let w = Rbm::random(d, h, 0.01, 0.0, 1).unwrap().weights().to_vec();
    let rbm = Rbm::new(d, h, w, vec![-2.0; d], vec![-1.5; h]).unwrap();
    let id = format!("{d}x{h}x{b}");
    let mut g = c.benchmark_group("sparse_sweep");
    g.throughput(Throughput::Elements(b as u64));
    let mut chains = Chains::new(&rbm, b, 3).unwrap();
    let mut packed = PackedChains::new(&rbm, b, 3).unwrap();
    chains.sweep(&rbm, 2).unwrap();
    packed.sweep(&rbm, 2).unwrap();
    assert!((0..b).all(|i| packed.visible_row(i) == chains.visible()[i * d..(i + 1) * d]));
    g.bench_function(BenchmarkId::new("chains_f32", &id), |bch| bch.iter(|| chains.sweep(&rbm, 1).unwrap()));
    // The same chains with kept products (`sweep_incremental`, one sweep
    // per call: the per-call check of W included).
    let mut kept = chains.clone();
    g.bench_function(BenchmarkId::new("chains_incremental", &id), |bch| {
        bch.iter(|| kept.sweep_incremental(&rbm, 1).unwrap())
    });
    g.bench_function(BenchmarkId::new("packed_fused", &id), |bch| {
        bch.iter(|| packed.sweep(&rbm, 1).unwrap())
    });
    bench_reference(&mut g, &rbm, &chains, &id);
    g.finish();
}

/// The naive reference beside the fast sweeps: per chain (from the states
/// and streams of `chains`), f64 dot products and libm sigmoid.
fn bench_reference(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rbm: &Rbm,
    chains: &Chains,
    id: &str,
) {
    let d = rbm.n_visible();
    let mut states: Vec<(Vec<f32>, reference::Uniforms)> = (0..chains.batch())
        .map(|i| {
            (chains.visible()[i * d..(i + 1) * d].to_vec(), reference::Uniforms::new(chains.streams()[i]))
        })
        .collect();
    g.bench_function(BenchmarkId::new("reference_f64", id), |bch| {
        bch.iter(|| {
            for (v, u) in states.iter_mut() {
                *v = reference::gibbs_sweep(rbm, v, u).0;
            }
        })
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
}

/// Parallel tempering beside what it replaces: one tempered sweep of `n`
/// chains × `K` temperatures (Gibbs at every β, energies, a swap round)
/// against one plain sweep of `n·K` chains — the target is ≤ 1.2×.
fn tempered_sweeps(c: &mut Criterion) {
    use boltzmann::sampler::{TemperedChains, tempering::geometric_ladder};
    let (d, h, n, k) = (784usize, 500usize, 100usize, 10usize);
    let rbm = Rbm::random(d, h, 0.01, 0.0, 1).unwrap();
    let id = format!("{d}x{h}x{n}x{k}");
    let mut g = c.benchmark_group("tempering");
    g.throughput(Throughput::Elements((n * k) as u64)); // replica-sweeps
    let mut plain = Chains::new(&rbm, n * k, 2).unwrap();
    let mut pt = TemperedChains::new(&rbm, n, geometric_ladder(k, 0.1).unwrap(), 2).unwrap();
    pt.sweep(&rbm, 2).unwrap();
    assert!(pt.tempering().swap_rates().iter().all(|a| (0.0..=1.0).contains(a)));
    g.bench_function(BenchmarkId::new("plain_sweep", &id), |b| b.iter(|| plain.sweep(&rbm, 1).unwrap()));
    g.bench_function(BenchmarkId::new("tempered_sweep", &id), |b| b.iter(|| pt.sweep(&rbm, 1).unwrap()));
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = sweeps, sparse_sweeps, tempered_sweeps }
criterion_main!(benches);
