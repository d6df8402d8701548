//! The linear SVM: its solution is the optimum of the primal problem, it
//! separates separable data, gives the same bits for any thread count, and
//! refuses bad input.

use boltzmann::Error;
use boltzmann::data::Dataset;
use boltzmann::model::LinearSvm;
use boltzmann::train::svm::{SvmConfig, fit_linear_svm};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A uniform draw in [0, 1).
fn unit(g: &mut Xoshiro256PlusPlus) -> f32 {
    (g.next_u64() >> 40) as f32 / (1u64 << 24) as f32
}

/// Three overlapping Gaussian blobs in 5 dimensions (not separable).
fn blobs(n: usize, seed: u64) -> Dataset {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * 5);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let k = i % 3;
        for j in 0..5 {
            let centre = if j == k { 1.5 } else { 0.0 };
            let u = unit(&mut g) + unit(&mut g) + unit(&mut g) - 1.5;
            x.push(centre + 1.2 * u);
        }
        y.push(k as u8);
    }
    Dataset::new(x, 5).unwrap().with_labels(y).unwrap()
}

/// The gradient of the primal objective `½‖w̃‖² + C Σ max(0, 1 − yᵢw̃ᵀx̃ᵢ)²`
/// of class `k` (weights then bias), at the fitted parameters.
fn primal_gradient(m: &LinearSvm, data: &Dataset, k: usize, c: f64) -> Vec<f64> {
    let (f, nc) = (data.dim(), m.n_classes());
    let mut w: Vec<f64> = (0..f).map(|j| m.weights()[j * nc + k] as f64).collect();
    w.push(m.bias()[k] as f64);
    let mut g = w.clone();
    for (row, &label) in data.features().chunks_exact(f).zip(data.labels().unwrap()) {
        let y = if label as usize == k { 1.0 } else { -1.0 };
        let score: f64 = row.iter().zip(&w).map(|(&x, &wj)| x as f64 * wj).sum::<f64>() + w[f];
        let slack = 1.0 - y * score;
        if slack > 0.0 {
            for (gj, &x) in g.iter_mut().zip(row) {
                *gj -= 2.0 * c * slack * y * x as f64;
            }
            g[f] -= 2.0 * c * slack * y;
        }
    }
    g
}

#[test]
fn solution_is_the_primal_optimum() {
    let data = blobs(300, 1);
    for c in [0.05f32, 1.0] {
        let config = SvmConfig::default().n_classes(3).c(c).tol(1e-5).max_passes(20_000);
        let (m, report) = fit_linear_svm(&data, &config).unwrap();
        assert!(report.converged.iter().all(|&x| x), "{report:?}");
        for k in 0..3 {
            let g = primal_gradient(&m, &data, k, c as f64);
            let worst = g.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
            assert!(worst < 2e-3, "C = {c}, class {k}: gradient {g:?}");
        }
        // A looser tolerance stops earlier and further from the optimum.
        let (loose, lr) = fit_linear_svm(&data, &config.clone().tol(0.5)).unwrap();
        assert!(lr.passes.iter().sum::<usize>() < report.passes.iter().sum::<usize>(), "{lr:?} {report:?}");
        let worst = (0..3)
            .flat_map(|k| primal_gradient(&loose, &data, k, c as f64))
            .fold(0.0f64, |a, b| a.max(b.abs()));
        assert!(worst > 2e-3, "C = {c}: the loose fit is as good ({worst})");
    }
}

#[test]
fn separable_data_is_separated_and_results_do_not_depend_on_threads() {
    // Which of four features is largest, with a margin.
    let mut g = Xoshiro256PlusPlus::seed_from_u64(3);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let k = i % 4;
        for j in 0..4 {
            x.push(if j == k { 2.0 } else { 0.0 } + unit(&mut g));
        }
        y.push(k as u8);
    }
    let data = Dataset::new(x, 4).unwrap().with_labels(y.clone()).unwrap();
    let config = SvmConfig::default().n_classes(4).c(10.0).seed(9);
    let fits: Vec<(LinearSvm, _)> = [1, 2, 3]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
            pool.install(|| fit_linear_svm(&data, &config).unwrap())
        })
        .collect();
    assert_eq!(fits[0].0.error_rate(data.features(), &y).unwrap(), 0.0);
    assert_eq!(fits[0], fits[1]);
    assert_eq!(fits[0], fits[2]);
    // Another seed visits the rows in another order: close, not the same bits.
    let (other, _) = fit_linear_svm(&data, &config.clone().seed(10)).unwrap();
    assert_ne!(other, fits[0].0);
    assert_eq!(other.error_rate(data.features(), &y).unwrap(), 0.0);
    // Scores are xᵀW + b, and the prediction their argmax.
    let s = fits[0].0.decision_function(&data.features()[..4]).unwrap();
    let w = fits[0].0.weights();
    for k in 0..4 {
        let manual: f32 =
            (0..4).map(|j| data.features()[j] * w[j * 4 + k]).sum::<f32>() + fits[0].0.bias()[k];
        assert!((s[k] - manual).abs() < 1e-4, "{s:?}");
    }
}

#[test]
fn bad_input_is_an_error() {
    let data = blobs(30, 2);
    let ok = SvmConfig::default().n_classes(3);
    assert!(fit_linear_svm(&data, &ok).is_ok());
    let name = |r: Result<(LinearSvm, boltzmann::train::svm::SvmReport), Error>| match r {
        Err(Error::InvalidParam { name, .. }) => name,
        other => panic!("expected InvalidParam, got {other:?}"),
    };
    for (bad, expect) in [
        (ok.clone().c(0.0), "c"),
        (ok.clone().c(f32::NAN), "c"),
        (ok.clone().c(f32::INFINITY), "c"),
        (ok.clone().tol(-1.0), "tol"),
        (ok.clone().max_passes(0), "max_passes"),
        (ok.clone().n_classes(1), "n_classes"),
        (ok.clone().n_classes(257), "n_classes"),
        (ok.clone().n_classes(2), "labels"), // label 2 is not below 2
    ] {
        assert_eq!(name(fit_linear_svm(&data, &bad)), expect, "{bad:?}");
    }
    let unlabelled = Dataset::new(vec![0.0; 10], 5).unwrap();
    assert_eq!(name(fit_linear_svm(&unlabelled, &ok)), "labels");
    // One pass with a tight tolerance: reported as not converged.
    let (_, r) = fit_linear_svm(&data, &ok.clone().max_passes(1).tol(1e-9)).unwrap();
    assert_eq!((r.passes, r.converged), (vec![1; 3], vec![false; 3]));
    // The classifier's own checks.
    assert!(matches!(LinearSvm::new(2, 1, vec![0.0; 2], vec![0.0]), Err(Error::InvalidParam { .. })));
    assert!(matches!(LinearSvm::new(2, 2, vec![0.0; 3], vec![0.0; 2]), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(LinearSvm::new(2, 2, vec![f32::NAN; 4], vec![0.0; 2]), Err(Error::NonFinite { .. })));
    let m = LinearSvm::new(2, 2, vec![0.0; 4], vec![0.0; 2]).unwrap();
    assert!(matches!(m.decision_function(&[0.0; 3]), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(m.predict(&[0.0, f32::NAN]), Err(Error::NonFinite { .. })));
    assert!(matches!(m.error_rate(&[0.0; 4], &[0]), Err(Error::ShapeMismatch { .. })));
}
