//! Log-densities of the Gaussian–Bernoulli RBM: the exact `log Z` against
//! numerical integration, the densities integrating to 1, AIS against the
//! exact value (same bits for any thread count), bad input.

use boltzmann::data::Dataset;
use boltzmann::eval::{AisConfig, gaussian_rbm, linear_schedule};
use boltzmann::model::GaussianRbm;

/// `Σ_h exp(−E(v, h))` by brute force over the hidden states, in f64.
fn unnormalized(m: &GaussianRbm, v: &[f64]) -> f64 {
    let (d, h) = (m.n_visible(), m.n_hidden());
    let (w, b, c, s) = (m.weights(), m.visible_bias(), m.hidden_bias(), m.sigma());
    let mut total = 0.0;
    for bits in 0u32..1 << h {
        let on = |j: usize| (bits >> j & 1) as f64;
        let mut minus_e: f64 = (0..h).map(|j| c[j] as f64 * on(j)).sum();
        for i in 0..d {
            let t = (v[i] - b[i] as f64) / s[i] as f64;
            minus_e -= 0.5 * t * t;
            for j in 0..h {
                minus_e += v[i] / s[i] as f64 * w[i * h + j] as f64 * on(j);
            }
        }
        total += minus_e.exp();
    }
    total
}

/// `log Z` by the midpoint rule on a 2-D grid wide enough for the model.
fn log_z_numerical(m: &GaussianRbm) -> f64 {
    assert_eq!(m.n_visible(), 2);
    let (lo, hi, n) = (-12.0f64, 12.0f64, 1200);
    let dx = (hi - lo) / n as f64;
    let mut z = 0.0;
    for a in 0..n {
        for b in 0..n {
            let v = [lo + (a as f64 + 0.5) * dx, lo + (b as f64 + 0.5) * dx];
            z += unnormalized(m, &v) * dx * dx;
        }
    }
    z.ln()
}

fn model(d: usize, h: usize, scale: f32, seed: u64) -> GaussianRbm {
    let r = GaussianRbm::random(d, h, scale, 1.0, seed).unwrap();
    let (w, _, _, _) = r.into_parts();
    let b: Vec<f32> = (0..d).map(|i| 0.3 * (i as f32 % 3.0) - 0.2).collect();
    let c: Vec<f32> = (0..h).map(|j| 0.4 - 0.25 * j as f32).collect();
    let s: Vec<f32> = (0..d).map(|i| 0.6 + 0.2 * (i % 4) as f32).collect();
    GaussianRbm::new(d, h, w, b, c, s).unwrap()
}

#[test]
fn exact_log_z_matches_numerical_integration() {
    for (h, scale, seed) in [(1, 0.5, 1u64), (3, 0.8, 2), (4, 1.2, 3)] {
        let m = model(2, h, scale, seed);
        let exact = gaussian_rbm::log_partition_exact(&m).unwrap();
        let num = log_z_numerical(&m);
        assert!((exact - num).abs() < 1e-6, "H = {h}: exact {exact} vs numerical {num}");
    }
}

/// `exp(log density)` integrates to 1 over a one-dimensional model.
#[test]
fn log_densities_integrate_to_one() {
    let m = GaussianRbm::new(1, 3, vec![0.9, -1.3, 0.4], vec![0.2], vec![-0.5, 0.3, 0.1], vec![0.7]).unwrap();
    let log_z = gaussian_rbm::log_partition_exact(&m).unwrap();
    let (lo, n) = (-15.0f64, 30_000);
    let dx = 30.0 / n as f64;
    let xs: Vec<f32> = (0..n).map(|k| (lo + (k as f64 + 0.5) * dx) as f32).collect();
    let data = Dataset::new(xs.clone(), 1).unwrap();
    let dens = gaussian_rbm::log_densities(&m, &data, log_z).unwrap();
    let mass: f64 = dens.iter().map(|l| l.exp() * dx).sum();
    assert!((mass - 1.0).abs() < 1e-4, "mass {mass}");
    // And each value against brute force.
    for (k, &l) in dens.iter().enumerate().step_by(997) {
        let want = unnormalized(&m, &[xs[k] as f64]).ln() - log_z;
        assert!((l - want).abs() < 1e-4 * want.abs().max(1.0), "{k}: {l} vs {want}");
    }
}

#[test]
fn ais_matches_exact_log_z_and_is_thread_count_independent() {
    for (d, h, scale, seed) in [(12, 8, 0.4, 4u64), (30, 12, 0.25, 5)] {
        let m = model(d, h, scale, seed);
        let exact = gaussian_rbm::log_partition_exact(&m).unwrap();
        let cfg = AisConfig::default().runs(100).schedule(linear_schedule(3000)).seed(9);
        let run = |t: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| gaussian_rbm::ais(&m, &cfg))
        };
        let est = run(1).unwrap();
        assert_eq!(est, run(3).unwrap(), "{d}×{h}: thread counts differ");
        assert!(
            est.log_z_low - 0.02 <= exact && exact <= est.log_z_high + 0.02,
            "{d}×{h}: exact {exact} outside AIS [{}, {}] (estimate {})",
            est.log_z_low,
            est.log_z_high,
            est.log_z
        );
        assert!((est.log_z - exact).abs() < 0.1, "{d}×{h}: AIS {} vs exact {exact}", est.log_z);
    }
}

#[test]
fn base_log_density_is_the_zero_weight_model() {
    let m = model(5, 3, 0.5, 6);
    let (_, b, _, s) = m.clone().into_parts();
    let flat = GaussianRbm::new(5, 1, vec![0.0; 5], b, vec![-50.0], s).unwrap();
    let data = Dataset::new((0..40).map(|k| (k as f32 * 0.37).sin()).collect(), 5).unwrap();
    let base = gaussian_rbm::base_log_density(&m, &data).unwrap();
    let z = gaussian_rbm::log_partition_exact(&flat).unwrap();
    let full = gaussian_rbm::average_log_density(&flat, &data, z).unwrap();
    assert!((base - full).abs() < 1e-9, "{base} vs {full}");
}

#[test]
fn bad_input_is_refused() {
    let m = model(4, 3, 0.5, 7);
    let good = AisConfig::default().runs(4).schedule(linear_schedule(10));
    assert!(gaussian_rbm::ais(&m, &good.clone().runs(0)).is_err());
    assert!(gaussian_rbm::ais(&m, &good.clone().schedule(vec![0.0, 0.5, 0.4, 1.0])).is_err());
    assert!(gaussian_rbm::ais(&m, &good.clone().schedule(vec![0.1, 1.0])).is_err());
    assert!(gaussian_rbm::log_partition_exact(&GaussianRbm::random(2, 25, 0.1, 1.0, 1).unwrap()).is_err());
    let wrong = Dataset::new(vec![0.0; 10], 5).unwrap();
    assert!(gaussian_rbm::log_densities(&m, &wrong, 0.0).is_err());
    let ok = Dataset::new(vec![0.0; 8], 4).unwrap();
    assert!(gaussian_rbm::log_densities(&m, &ok, f64::NAN).is_err());
    assert!(gaussian_rbm::log_densities(&m, &ok, 1.0).is_ok());
}

/// From 512 rows on, the GB-RBM packs its weights for the tile kernels:
/// gradients, energies and conditional means then agree with the
/// matrixmultiply path of small calls, have the same bits for any thread
/// count, and the packing does not make models unequal; small calls after
/// a large one still take the small path (a call's bits do not depend on
/// the calls before it).
#[test]
fn packed_products_agree_with_small_calls() {
    use boltzmann::energy::{Energy, Workspace};
    let (d, h, n) = (50usize, 40usize, 600usize);
    let (w, b, c, _) = GaussianRbm::random(d, h, 0.3, 1.0, 7).unwrap().into_parts();
    let sigma: Vec<f32> = (0..d).map(|i| 0.5 + (i % 3) as f32 * 0.25).collect();
    let model = GaussianRbm::new(d, h, w, b, c, sigma).unwrap();
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0).collect();
    let small = model.clone();
    let mut ws = Workspace::default();
    let (mut g_small, mut e_small) = (vec![0.0f32; n * d], vec![0.0f64; n]);
    for (r, (g, e)) in g_small.chunks_mut(8 * d).zip(e_small.chunks_mut(8)).enumerate() {
        small.energy_grad(&x[r * 8 * d..r * 8 * d + g.len()], e, g, &mut ws).unwrap();
    }
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let big = model.clone();
            let (mut g, mut e) = (vec![0.0f32; n * d], vec![0.0f64; n]);
            big.energy_grad(&x, &mut e, &mut g, &mut Workspace::default()).unwrap();
            let mut means = vec![0.0f32; n * d];
            let hid: Vec<f32> = (0..n * h).map(|i| (i % 3 == 0) as u8 as f32).collect();
            big.visible_means(&hid, &mut means).unwrap();
            (g, e, means, big)
        })
    };
    let (g1, e1, m1, big) = run(1);
    assert_eq!(big, model, "packing does not change equality");
    for (a, b) in g1.iter().zip(&g_small) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    for (a, b) in e1.iter().zip(&e_small) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let (g3, e3, m3, _) = run(3);
    assert_eq!((g1, e1, m1), (g3, e3, m3), "1 vs 3 threads");
    let (mut g_after, mut e_after) = (vec![0.0f32; 8 * d], vec![0.0f64; 8]);
    big.energy_grad(&x[..8 * d], &mut e_after, &mut g_after, &mut ws).unwrap();
    assert_eq!((&g_after[..], &e_after[..]), (&g_small[..8 * d], &e_small[..8]), "history-independent");
}

/// RAISE closes on the exact log-density from below: on a model small
/// enough for the exact `log Z`, a long schedule comes within a few
/// hundredths of a nat of each example's exact value (and under it, up to
/// noise), a very short one is far off, the implied reverse `log Z` is near
/// the exact one, and the estimate does not depend on the thread count.
#[test]
fn raise_is_a_lower_bound_that_closes_on_the_exact_log_density() {
    use boltzmann::eval::RaiseConfig;
    let m = model(12, 8, 0.6, 14);
    let exact_z = gaussian_rbm::log_partition_exact(&m).unwrap();
    let data =
        Dataset::new((0..12 * 60).map(|k| ((k * 37 % 23) as f32 / 23.0 - 0.5) * 2.0).collect(), 12).unwrap();
    let exact = gaussian_rbm::average_log_density(&m, &data, exact_z).unwrap();
    let per_example = gaussian_rbm::log_densities(&m, &data, exact_z).unwrap();
    let cfg = RaiseConfig::default().runs_per_example(4).schedule(linear_schedule(3000)).seed(3);
    let run = |t: usize, cfg: &RaiseConfig| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(|| gaussian_rbm::raise(&m, &data, cfg))
            .unwrap()
    };
    let long = run(1, &cfg);
    assert_eq!(long, run(3, &cfg), "thread counts differ");
    assert_eq!(long.log_probs.len(), 60);
    // Each example's estimate minus its exact log-density: under 0 in
    // expectation (by at most a few hundredths here).
    let gaps: Vec<f64> = long.log_probs.iter().zip(&per_example).map(|(r, e)| r - e).collect();
    let (gap, se) = mean_and_se(&gaps);
    assert!(
        gap < 3.0 * se && gap > -0.05,
        "RAISE − exact = {gap} ± {se} (RAISE {}, exact {exact})",
        long.mean
    );
    let (rz, _) = mean_and_se(&long.log_z);
    assert!((rz - exact_z).abs() < 0.05, "reverse log Z {rz} vs exact {exact_z}");
    // A 3-step schedule estimates a cruder annealing model `p_ann` (not a
    // bound on `log p` for data not drawn from the model): far off.
    let short = run(2, &cfg.clone().schedule(linear_schedule(3)));
    assert!((short.mean - exact).abs() > 1.0, "a 3-step RAISE {} vs exact {exact}", short.mean);
}

fn mean_and_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (m, (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt())
}

#[test]
fn raise_refuses_bad_input() {
    use boltzmann::eval::RaiseConfig;
    let m = model(4, 3, 0.5, 7);
    let data = Dataset::new(vec![0.1; 8], 4).unwrap();
    let good = RaiseConfig::default().schedule(linear_schedule(10));
    assert!(gaussian_rbm::raise(&m, &data, &good).is_ok());
    assert!(gaussian_rbm::raise(&m, &data, &good.clone().runs_per_example(0)).is_err());
    assert!(gaussian_rbm::raise(&m, &data, &good.clone().schedule(vec![0.0, 0.6, 0.5, 1.0])).is_err());
    assert!(gaussian_rbm::raise(&m, &data, &good.clone().schedule(vec![0.0, 0.9])).is_err());
    assert!(gaussian_rbm::raise(&m, &Dataset::new(vec![0.0; 10], 5).unwrap(), &good).is_err());
}
