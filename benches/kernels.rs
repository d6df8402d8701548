//! Kernel benchmarks: every SIMD path beside its naive reference, in the
//! same criterion group (`op/impl/size`). Results are checked before timing.
//!
//! `cargo bench --bench kernels` (add `-- sigmoid` etc. to filter).

use boltzmann::kernels::{activation, bernoulli, gemm};
use boltzmann::{Isa, reference, rng};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_core::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut g = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n).map(|_| ((g.next_u64() >> 40) as f32 / 8.4e5) - 10.0).collect()
}

type Fast = fn(Isa, &[f32], Option<&[f32]>, &mut [f32]) -> boltzmann::Result<()>;
type Exact = fn(f64) -> f64;

fn activations(c: &mut Criterion) {
    let n = 4096;
    let x = data(n, 1);
    let ops: [(&str, Fast, Exact); 3] = [
        ("sigmoid", activation::sigmoid_on, reference::sigmoid),
        ("softplus", activation::softplus_on, reference::softplus),
        ("log_sigmoid", activation::log_sigmoid_on, reference::log_sigmoid),
    ];
    for (name, fast, exact) in ops {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(n as u64));
        let mut out = vec![0.0f32; n];
        for isa in Isa::available() {
            fast(isa, &x, None, &mut out).unwrap();
            assert!((out[7] as f64 - exact(x[7] as f64)).abs() < 1e-5 * (1.0 + exact(x[7] as f64).abs()));
            g.bench_function(BenchmarkId::new(isa.name(), n), |b| {
                b.iter(|| fast(isa, black_box(&x), None, &mut out).unwrap())
            });
        }
        g.bench_function(BenchmarkId::new("reference_f64", n), |b| {
            b.iter(|| {
                for (o, &v) in out.iter_mut().zip(black_box(&x)) {
                    *o = exact(v as f64) as f32;
                }
            })
        });
        // What a user would write without this crate: f32 libm, no stability care.
        if name == "sigmoid" {
            g.bench_function(BenchmarkId::new("naive_f32_libm", n), |b| {
                b.iter(|| {
                    for (o, &v) in out.iter_mut().zip(black_box(&x)) {
                        *o = 1.0 / (1.0 + (-v).exp());
                    }
                })
            });
        }
        g.finish();
    }
}

fn bernoulli_sampling(c: &mut Criterion) {
    let (rows, n) = (64usize, 500usize);
    let pre = data(rows * n, 2);
    let bias = data(n, 3);
    let mut g0 = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(4);
    let bits: Vec<u32> = (0..rows * n).map(|_| g0.next_u32()).collect();
    let mut out = vec![0.0f32; rows * n];
    let mut g = c.benchmark_group("bernoulli");
    g.throughput(Throughput::Elements((rows * n) as u64));
    for isa in Isa::available() {
        g.bench_function(BenchmarkId::new(isa.name(), format!("{rows}x{n}")), |b| {
            b.iter(|| {
                bernoulli::bernoulli_from_bits_on(isa, black_box(&pre), &bias, &bits, n, &mut out).unwrap()
            })
        });
    }
    g.bench_function(BenchmarkId::new("reference_f64", format!("{rows}x{n}")), |b| {
        b.iter(|| {
            for r in 0..rows {
                for i in 0..n {
                    let p = reference::sigmoid(pre[r * n + i] as f64 + bias[i] as f64);
                    out[r * n + i] = ((rng::uniform_from_bits(bits[r * n + i]) as f64) < p) as u8 as f32;
                }
            }
        })
    });
    g.finish();
}

fn random_bits(c: &mut Criterion) {
    let (chains, words) = (512usize, 392usize);
    let mut out = vec![0u64; chains * words];
    let mut g = c.benchmark_group("xoshiro_fill");
    g.throughput(Throughput::Elements((chains * words) as u64));
    for isa in Isa::available() {
        let mut st = rng::chain_streams(1, chains).unwrap();
        g.bench_function(BenchmarkId::new(isa.name(), format!("{chains}x{words}")), |b| {
            b.iter(|| rng::fill_u64_on(isa, &mut st, words, &mut out).unwrap())
        });
    }
    // The reference: one rand_xoshiro generator per chain, next_u64 in a loop.
    let mut gens: Vec<_> =
        rng::chain_streams(1, chains).unwrap().into_iter().map(rng::to_generator).collect();
    g.bench_function(BenchmarkId::new("rand_xoshiro_scalar", format!("{chains}x{words}")), |b| {
        b.iter(|| {
            for (c, gn) in gens.iter_mut().enumerate() {
                for t in 0..words {
                    out[c * words + t] = gn.next_u64();
                }
            }
        })
    });
    g.finish();
}

fn products(c: &mut Criterion) {
    for (m, k, n) in [
        (100usize, 784usize, 500usize),
        (500, 784, 500),
        (500, 500, 784),
        (682, 64, 32),
        (682, 32, 64),
        (256, 256, 128),
    ] {
        let a: Vec<f32> = data(m * k, 5).iter().map(|&x| (x > 0.0) as u8 as f32).collect();
        let b = data(k * n, 6);
        let mut out = vec![0.0f32; m * n];
        let mut g = c.benchmark_group("gemm_nn");
        g.throughput(Throughput::Elements((2 * m * k * n) as u64)); // FLOP
        let id = format!("{m}x{k}x{n}");
        g.bench_function(BenchmarkId::new("matrixmultiply", &id), |bch| {
            bch.iter(|| gemm::gemm_nn(m, k, n, black_box(&a), &b, &mut out).unwrap())
        });
        if Isa::Avx512.is_available() {
            let (mut c1, mut c2) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
            gemm::gemm_nn(m, k, n, &a, &b, &mut c1).unwrap();
            gemm::gemm_nn_nopack(m, k, n, &a, &b, &mut c2).unwrap();
            assert!(c2.iter().zip(&c1).all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + y.abs())));
            g.bench_function(BenchmarkId::new("nopack_avx512", &id), |bch| {
                bch.iter(|| gemm::gemm_nn_nopack(m, k, n, black_box(&a), &b, &mut out).unwrap())
            });
        }
        // Our register-blocked tiles over W packed once (the sweeps' path;
        // the packing is outside the timed loop, as in a sweep).
        {
            use boltzmann::kernels::{binary::PackedWeights, dense};
            let pw = PackedWeights::new(&b, k, n).unwrap();
            let mut c1 = vec![0.0f32; m * n];
            gemm::gemm_nn(m, k, n, &a, &b, &mut c1).unwrap();
            dense::gemm_packed(m, &a, &pw, &mut out).unwrap();
            assert!(out.iter().zip(&c1).all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + y.abs())));
            g.bench_function(BenchmarkId::new("tiles_packed", &id), |bch| {
                bch.iter(|| dense::gemm_packed(m, black_box(&a), &pw, &mut out).unwrap())
            });
        }
        if m * k * n > 50_000_000 {
            g.finish();
            continue;
        }
        g.bench_function(BenchmarkId::new("naive_f32_ikj", &id), |bch| {
            bch.iter(|| {
                out.fill(0.0);
                for i in 0..m {
                    for p in 0..k {
                        let av = a[i * k + p];
                        for j in 0..n {
                            out[i * n + j] += av * b[p * n + j];
                        }
                    }
                }
            })
        });
        g.finish();
    }
}

/// Binary × dense products (sums of selected rows) against the dense GEMM
/// they replace, single-threaded, at the AIS/Gibbs shape 100 × 784 × 500
/// and the transposed 100 × 500 × 784, over state densities: where the
/// curves cross is the density threshold used by the annealer
/// (perf-notes.md). Throughput: dense FLOP, so the two are comparable.
fn binary_products(c: &mut Criterion) {
    use boltzmann::kernels::binary::{BinaryRows, PackedWeights, binary_times_on};
    // The third shape is the training gradient Vᵀ·P (784 visible units,
    // 200 rows of positive and negative statistics, 500 hidden units).
    for (m, k, n) in [(100usize, 784usize, 500usize), (100, 500, 784), (784, 200, 500)] {
        let b = data(k * n, 6);
        let mut out = vec![0.0f32; m * n];
        let mut g = c.benchmark_group("binary_times");
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        g.bench_function(BenchmarkId::new("dense_matrixmultiply", format!("{m}x{k}x{n}")), |bch| {
            let a: Vec<f32> = data(m * k, 5).iter().map(|&x| (x > 0.0) as u8 as f32).collect();
            bch.iter(|| gemm::gemm_nn(m, k, n, black_box(&a), &b, &mut out).unwrap())
        });
        for pct in [5u32, 10, 20, 30, 50, 70] {
            // Uniform values in [-10, 10): x < t keeps the fraction pct/100.
            let t = -10.0 + 20.0 * pct as f32 / 100.0;
            let a: Vec<f32> = data(m * k, 5).iter().map(|&x| (x < t) as u8 as f32).collect();
            let rows = BinaryRows::from_dense(&a, k).unwrap();
            let mut want = vec![0.0f32; m * n];
            gemm::gemm_nn(m, k, n, &a, &b, &mut want).unwrap();
            let packed = PackedWeights::new(&b, k, n).unwrap();
            for isa in Isa::available() {
                let id = format!("{m}x{k}x{n}/density{pct}");
                binary_times_on(isa, &rows, &packed, &mut out, 1).unwrap();
                assert!(out.iter().zip(&want).all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + y.abs())));
                g.bench_function(BenchmarkId::new(format!("binary_{}", isa.name()), &id), |bch| {
                    bch.iter(|| binary_times_on(isa, black_box(&rows), &packed, &mut out, 1).unwrap())
                });
            }
            if pct == 10 {
                // The naive twin (same summation order, plain loops).
                g.bench_function(
                    BenchmarkId::new("naive_reference", format!("{m}x{k}x{n}/density{pct}")),
                    |bch| bch.iter(|| reference::binary_times(black_box(&a), k, &b, n)),
                );
            }
        }
        g.finish();
        // Packing the weights (once per model in AIS, per `sweep` call in the
        // sampler): beside a plain copy of the same floats.
        let mut p = c.benchmark_group("pack_weights");
        p.throughput(Throughput::Elements((k * n) as u64));
        let id = format!("{k}x{n}");
        p.bench_function(BenchmarkId::new("packed", &id), |bch| {
            bch.iter(|| PackedWeights::new(black_box(&b), k, n).unwrap())
        });
        p.bench_function(BenchmarkId::new("packed_transposed", &id), |bch| {
            bch.iter(|| PackedWeights::transposed(black_box(&b), n, k).unwrap())
        });
        p.bench_function(BenchmarkId::new("plain_copy", &id), |bch| bch.iter(|| black_box(&b).to_vec()));
        // Into an existing allocation (what training does per batch), with
        // the pool's threads.
        let mut pw = PackedWeights::new(&b, k, n).unwrap();
        let mut pwt = PackedWeights::transposed(&b, n, k).unwrap();
        let mut dst = vec![0.0f32; k * n];
        p.bench_function(BenchmarkId::new("repack", &id), |bch| {
            bch.iter(|| pw.repack(black_box(&b)).unwrap())
        });
        p.bench_function(BenchmarkId::new("repack_transposed", &id), |bch| {
            bch.iter(|| pwt.repack_transposed(black_box(&b)).unwrap())
        });
        p.bench_function(BenchmarkId::new("copy_into", &id), |bch| {
            bch.iter(|| dst.copy_from_slice(black_box(&b)))
        });
        p.finish();
    }
}

/// Convolutional-RBM kernels on MNIST-sized images (28 × 28, 24 filters of
/// 9 × 9, pool 2) beside their naive twins: v → h (im2col + product), h → v
/// from sparse binary maps (filter adding, and product + col2im), and the
/// max-pooling sampler.
fn convolution(c: &mut Criterion) {
    use boltzmann::kernels::conv::{self, ConvShape};
    let s = ConvShape { height: 28, width: 28, channels: 1, filters: 24, filter_size: 9, pool: 2 };
    let v: Vec<f32> = data(s.n_visible(), 8).iter().map(|&x| (x > 3.0) as u8 as f32).collect();
    let w: Vec<f32> = data(s.n_weights(), 9).iter().map(|&x| x * 0.01).collect();
    let mut wt = vec![0.0f32; w.len()];
    for q in 0..s.taps() {
        for k in 0..s.filters {
            wt[k * s.taps() + q] = w[q * s.filters + k];
        }
    }
    let h: Vec<f32> = data(s.n_hidden(), 10).iter().map(|&x| (x > 8.8) as u8 as f32).collect();
    let (mut cols, mut out, mut img) =
        (vec![0.0f32; s.positions() * s.taps()], vec![0.0f32; s.n_hidden()], vec![0.0f32; s.n_visible()]);
    conv::correlate(&s, &v, &w, &mut cols, &mut out).unwrap();
    let want = reference::conv_correlate(&s, &v, &w);
    assert!(out.iter().zip(&want).all(|(&a, &b)| (a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs())));
    let mut g = c.benchmark_group("conv");
    g.throughput(Throughput::Elements(1)); // images
    g.bench_function("v_to_h/im2col_product", |b| {
        b.iter(|| conv::correlate(&s, black_box(&v), &w, &mut cols, &mut out).unwrap())
    });
    g.bench_function("v_to_h/reference_f64", |b| b.iter(|| reference::conv_correlate(&s, black_box(&v), &w)));
    g.bench_function("h_to_v/binary", |b| {
        b.iter(|| conv::convolve_binary(&s, black_box(&h), &wt, &mut img).unwrap())
    });
    g.bench_function("h_to_v/product_col2im", |b| {
        b.iter(|| conv::convolve_dense(&s, black_box(&h), &w, &mut cols, &mut img).unwrap())
    });
    g.bench_function("h_to_v/reference_f64", |b| b.iter(|| reference::conv_full(&s, black_box(&h), &w)));
    let u: Vec<f32> = data(s.n_pooled(), 11).iter().map(|&x| (x + 10.0) / 20.1).collect();
    let (mut hs, mut ps) = (vec![0.0f32; s.n_hidden()], vec![0.0f32; s.n_pooled()]);
    g.bench_function("max_pool_sample", |b| {
        b.iter(|| conv::sample_max_pool(&s, black_box(&out), &u, &mut hs, &mut ps, &mut []).unwrap())
    });
    g.finish();
}

/// The machine's bounds for the roofline in perf-notes.md, on one thread:
/// the FMA peak (16 independent chains of fused multiply-adds on the widest
/// vectors, so latency does not limit them; throughput in flops) and the
/// read bandwidth from L1, L2, L3 and memory (a vector sum over 16 KiB to
/// 64 MiB; throughput in bytes).
fn machine(c: &mut Criterion) {
    let mut g = c.benchmark_group("machine");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        const ITERS: u64 = 1 << 16;
        g.throughput(Throughput::Elements(ITERS * 16 * 16 * 2));
        // SAFETY: AVX-512F detected just above.
        g.bench_function("fma_peak_avx512_flops", |b| b.iter(|| unsafe { fma_avx512(black_box(ITERS)) }));
    }
    for kib in [16usize, 256, 4096, 65536] {
        let x = data(kib * 256, 2);
        g.throughput(Throughput::Bytes((kib * 1024) as u64));
        g.bench_function(BenchmarkId::new("read_bytes", format!("{kib}KiB")), |b| {
            b.iter(|| read_sum(black_box(&x)))
        });
    }
    g.finish();
}

/// `iters` rounds of 16 independent vector FMAs.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(0.0); 16];
    let (a, b) = (_mm512_set1_ps(0.999), _mm512_set1_ps(1e-3));
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let s = acc.iter().fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x));
    _mm512_reduce_add_ps(s)
}

/// The sum of `x` (memory-bound beyond L1): 8 independent AVX-512
/// accumulators, two 64-byte loads per cycle at most, where available.
fn read_sum(x: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F detected just above.
        return unsafe { read_sum_avx512(x) };
    }
    x.iter().sum()
}

/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn read_sum_avx512(x: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_setzero_ps(); 8];
    for c in x.chunks_exact(128) {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: 16 floats at 16·j < 128 within the chunk.
            *a = _mm512_add_ps(*a, unsafe { _mm512_loadu_ps(c.as_ptr().add(16 * j)) });
        }
    }
    let s = acc.iter().fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x));
    _mm512_reduce_add_ps(s)
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! { name = benches; config = config(); targets = machine, activations, bernoulli_sampling, random_bits, products, binary_products, convolution }
criterion_main!(benches);
