//! DBNs with a Gaussian bottom layer: the exact log-density integrates to
//! one, the bound stays below it and its estimate is unbiased, ancestral
//! samples match the exact moments, greedy training is thread-count
//! independent; files and bad input.

use boltzmann::data::{Dataset, Toy2d};
use boltzmann::eval::gaussian_dbn::{
    gaussian_log_density_exact, gaussian_lower_bound, gaussian_lower_bound_exact,
};
use boltzmann::eval::{dbn::log_prob_exact, log_partition_exact};
use boltzmann::model::{Dbn, GaussianDbn, GaussianRbm};
use boltzmann::train::dbn::{DbnConfig, Propagate, train_gaussian_greedy};
use boltzmann::train::gaussian::GaussianTrainConfig;
use boltzmann::train::{Algorithm, TrainConfig};
use boltzmann::{Error, Rbm};

fn net(d: usize, h: usize, top: usize, seed: u64) -> GaussianDbn {
    let (w, _, c, _) = GaussianRbm::random(d, h, 0.8, 1.0, seed).unwrap().into_parts();
    let b: Vec<f32> = (0..d).map(|i| 0.5 - 0.4 * i as f32).collect();
    let s: Vec<f32> = (0..d).map(|i| 0.6 + 0.3 * i as f32).collect();
    let bottom = GaussianRbm::new(d, h, w, b, c, s).unwrap();
    let upper = Dbn::new(vec![Rbm::random(h, top, 1.0, 0.5, seed + 1).unwrap()]).unwrap();
    GaussianDbn::new(bottom, Some(upper)).unwrap()
}

#[test]
fn exact_density_integrates_to_one_and_bounds_hold() {
    // D = 1: integrate p(v) on a fine grid.
    let g = net(1, 3, 2, 5);
    let lz = log_partition_exact(g.upper().unwrap().top()).unwrap();
    let grid: Vec<f32> = (0..6001).map(|i| -15.0 + i as f32 * 0.005).collect();
    let logp = gaussian_log_density_exact(&g, &Dataset::new(grid, 1).unwrap(), lz).unwrap();
    let total: f64 = logp.iter().map(|l| l.exp() * 0.005).sum();
    assert!((total - 1.0).abs() < 1e-4, "∫ p(v) dv = {total}");
    // D = 3: bound ≤ log p everywhere; the sampled bound is unbiased.
    let g = net(3, 4, 3, 7);
    let lz = log_partition_exact(g.upper().unwrap().top()).unwrap();
    let x: Vec<f32> = (0..3 * 40).map(|i| ((i * 37 % 23) as f32 / 5.0) - 2.0).collect();
    let data = Dataset::new(x, 3).unwrap();
    let lp = gaussian_log_density_exact(&g, &data, lz).unwrap();
    let eb = gaussian_lower_bound_exact(&g, &data, lz).unwrap();
    assert!(lp.iter().zip(&eb).all(|(p, b)| *b <= p + 1e-9), "{lp:?} {eb:?}");
    assert!(lp.iter().zip(&eb).any(|(p, b)| *b < p - 1e-3), "bound is tight everywhere: a bug?");
    let est = gaussian_lower_bound(&g, &data, lz, 400, 9).unwrap();
    let dev: Vec<f64> = est.per_example.iter().zip(&eb).map(|(a, b)| a - b).collect();
    let m = dev.iter().sum::<f64>() / dev.len() as f64;
    let se =
        (dev.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (dev.len() - 1) as f64 / dev.len() as f64).sqrt();
    println!("sampled − exact bound: {m:.5} ± {se:.5}");
    assert!(m.abs() < 4.0 * se + 1e-6, "biased estimate: {m} ± {se}");
}

#[test]
fn ancestral_samples_match_exact_moments() {
    let g = net(2, 3, 2, 11);
    let upper = g.upper().unwrap();
    let lz = log_partition_exact(upper.top()).unwrap();
    let states: Vec<f32> = (0..8).flat_map(|s| (0..3).map(move |j| ((s >> j) & 1) as f32)).collect();
    let p: Vec<f64> = log_prob_exact(upper, &Dataset::new(states.clone(), 3).unwrap(), lz)
        .unwrap()
        .iter()
        .map(|l| l.exp())
        .collect();
    let mut mu = vec![0.0f32; 16];
    g.bottom().visible_means(&states, &mut mu).unwrap();
    let s = g.bottom().sigma();
    let n = 40_000;
    let x = g.sample(n, 200, 3).unwrap().visible;
    for i in 0..2 {
        let mean: f64 = (0..8).map(|k| p[k] * mu[k * 2 + i] as f64).sum();
        let second: f64 =
            (0..8).map(|k| p[k] * ((mu[k * 2 + i] as f64).powi(2) + (s[i] as f64).powi(2))).sum();
        let var = second - mean * mean;
        let got: f64 = x.chunks(2).map(|r| r[i] as f64).sum::<f64>() / n as f64;
        let gv: f64 = x.chunks(2).map(|r| (r[i] as f64 - got).powi(2)).sum::<f64>() / (n - 1) as f64;
        println!("unit {i}: mean {got:.4} (exact {mean:.4}), variance {gv:.4} (exact {var:.4})");
        assert!((got - mean).abs() < 5.0 * (var / n as f64).sqrt(), "mean {i}");
        assert!((gv - var).abs() < 5.0 * var * (2.0 / n as f64).sqrt(), "variance {i}");
    }
}

#[test]
fn greedy_training_is_thread_count_independent_and_features_work() {
    let data = Toy2d::Rings.sample(400, 2).unwrap();
    let bottom = GaussianTrainConfig::default().n_hidden(12).epochs(3).batch_size(20).learning_rate(0.01);
    let layer = TrainConfig::default().n_hidden(5).epochs(3).batch_size(20).algorithm(Algorithm::Cd { k: 1 });
    for propagate in [Propagate::Samples, Propagate::Probabilities] {
        let upper =
            DbnConfig::new(vec![layer.clone(), layer.clone()]).tied_init(false).seed(4).propagate(propagate);
        let run = || {
            let mut epochs = (0, 0);
            let net =
                train_gaussian_greedy(&data, &bottom, Some(&upper), |_| epochs.0 += 1, |_, _| epochs.1 += 1)
                    .unwrap();
            let s = net.sample(50, 10, 5).unwrap();
            let f = net.transform(data.features(), 3).unwrap();
            let r = net.recognize(data.features(), 2, 6).unwrap();
            (net, s, f, r, epochs)
        };
        let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
        let one = pool(1).install(run);
        assert_eq!(one.0.sizes(), vec![2, 12, 5, 5]);
        assert_eq!(one.4, (3, 6));
        assert_eq!(one.2.len(), 400 * 5);
        assert!(one.3.iter().all(|&v| v == 0.0 || v == 1.0));
        assert_eq!(pool(3).install(run), one, "{propagate:?}");
    }
    // Without an upper network it is the GB-RBM.
    let alone = train_gaussian_greedy(&data, &bottom, None, |_| {}, |_, _| {}).unwrap();
    assert_eq!((alone.depth(), alone.sizes()), (1, vec![2, 12]));
    assert!(alone.sample(10, 5, 1).unwrap().visible.iter().all(|v| v.is_finite()));
}

#[cfg(feature = "io")]
#[test]
fn gaussian_dbn_files_round_trip_and_reject_damage() {
    use boltzmann::io::{DbnFile, gaussian_dbn_bytes, parse_any_dbn, parse_dbn};
    let g = net(3, 4, 2, 3);
    let bytes = gaussian_dbn_bytes(&g);
    assert_eq!(parse_any_dbn(&bytes).unwrap(), DbnFile::Gaussian(g.clone()));
    assert!(parse_dbn(&bytes).unwrap_err().to_string().contains("Gaussian"));
    for cut in [0, 9, bytes.len() / 2, bytes.len() - 1] {
        assert!(parse_any_dbn(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let alone = GaussianDbn::new(g.bottom().clone(), None).unwrap();
    assert_eq!(parse_any_dbn(&gaussian_dbn_bytes(&alone)).unwrap(), DbnFile::Gaussian(alone));
}

#[test]
fn gaussian_dbn_bad_input() {
    let bottom = GaussianRbm::random(3, 4, 0.1, 1.0, 1).unwrap();
    let wrong = Dbn::new(vec![Rbm::random(5, 2, 0.1, 0.0, 1).unwrap()]).unwrap();
    assert!(matches!(GaussianDbn::new(bottom.clone(), Some(wrong)), Err(Error::ShapeMismatch { .. })));
    let alone = GaussianDbn::new(bottom, None).unwrap();
    let data = Dataset::new(vec![0.0; 6], 3).unwrap();
    assert!(gaussian_lower_bound(&alone, &data, 0.0, 5, 1).unwrap_err().to_string().contains("GB-RBM"));
    let g = net(3, 4, 2, 1);
    assert!(gaussian_lower_bound(&g, &data, f64::NAN, 5, 1).is_err());
    assert!(gaussian_lower_bound(&g, &data, 1.0, 0, 1).is_err());
    assert!(gaussian_lower_bound(&g, &Dataset::new(vec![0.0; 4], 2).unwrap(), 1.0, 1, 1).is_err());
    assert!(g.transform(&[0.0; 4], 1).is_err());
    assert!(g.transform(&[0.0, f32::NAN, 0.0], 1).is_err());
    assert!(g.transform(&[0.0; 3], 3).is_err());
    assert!(g.recognize(&[0.0; 3], 0, 1).is_err());
    assert!(g.sample(0, 1, 1).is_err());
    let big = net(3, 21, 2, 1);
    assert!(gaussian_log_density_exact(&big, &data, 1.0).is_err());
}
