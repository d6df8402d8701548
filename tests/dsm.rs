//! Denoising score matching: the learned score of Gaussian data against
//! the exact smoothed score at every noise level; annealed Langevin with a
//! trained network on 8 Gaussians covers every mode; determinism, files,
//! bad input.

use boltzmann::data::{Dataset, Toy2d};
use boltzmann::energy::{Activation, Workspace};
use boltzmann::eval::mmd2;
use boltzmann::sampler::langevin::{AnnealedConfig, LangevinChains, NoiseConditionalScore};
use boltzmann::train::dsm::{DsmConfig, ScoreMlp, train_dsm};

/// For data `N(μ, s²I)` the score of the data smoothed by `N(0, σ²I)` is
/// `−(x − μ)/(s² + σ²)`: the trained network is within 15 % of it (relative
/// RMS over points within 2 standard deviations) at the levels above 0.3
/// and within 25 % at the smallest (0.2).
#[test]
fn learned_score_matches_the_exact_gaussian_score() {
    let (mu, s) = ([1.0f32, -2.0], 0.7f32);
    let n = 4000;
    let mut st = boltzmann::rng::chain_streams(3, n).unwrap();
    let mut z = vec![0.0f32; n * 2];
    boltzmann::rng::fill_normal(&mut st, 2, &mut z).unwrap();
    let x: Vec<f32> = z.chunks(2).flat_map(|r| [mu[0] + s * r[0], mu[1] + s * r[1]]).collect();
    let data = Dataset::new(x, 2).unwrap();
    let cfg =
        DsmConfig::default().sigmas((2.0, 0.2, 5)).hidden(vec![64, 64]).iterations(4000).batch_size(512);
    let model = train_dsm(&data, &cfg, |_, _, _| {}).unwrap();
    let mut ws = Workspace::default();
    for &sigma in model.sigmas() {
        let spread = (s * s + sigma * sigma).sqrt();
        let pts: Vec<f32> = (0..200)
            .flat_map(|i| {
                let t = i as f32 * 0.7;
                let r = 2.0 * spread * ((i % 10) as f32 / 10.0);
                [mu[0] + r * t.cos(), mu[1] + r * t.sin()]
            })
            .collect();
        let mut got = vec![0.0f32; pts.len()];
        model.score(&pts, sigma, &mut got, &mut ws).unwrap();
        let (mut err, mut norm) = (0.0f64, 0.0f64);
        for (p, g) in pts.chunks(2).zip(got.chunks(2)) {
            for k in 0..2 {
                let want = -(p[k] - mu[k]) as f64 / (spread * spread) as f64;
                err += (g[k] as f64 - want).powi(2);
                norm += want * want;
            }
        }
        let rel = (err / norm).sqrt();
        println!("σ = {sigma:.3}: relative RMS error of the score {rel:.3}");
        // With λ(σ) = σ² the loss sees the score through f = σ·s, whose
        // size shrinks with σ against the unit noise of the target, so the
        // smallest levels are learned least precisely (measured with
        // levels down to 0.1: 0.17 at 0.18, 0.33 at 0.1; with this
        // schedule 0.04–0.11 above 0.3 and 0.16 at 0.2).
        let tol = if sigma > 0.3 { 0.15 } else { 0.25 };
        assert!(rel < tol, "σ = {sigma}: relative error {rel}");
    }
}

#[test]
fn annealed_sampling_of_a_trained_network_covers_every_mode() {
    let data = Toy2d::Mixture8.sample(4000, 1).unwrap();
    let cfg = DsmConfig::default().iterations(6000);
    let model = train_dsm(&data, &cfg, |_, _, _| {}).unwrap();
    let untrained = ScoreMlp::new(2, &[128, 128], Activation::Swish, model.sigmas().to_vec(), 0).unwrap();
    let sample = |m: &ScoreMlp| {
        let mut ch = LangevinChains::uniform(1000, 2, -7.0, 7.0, 9).unwrap();
        let ac = AnnealedConfig::new(m.sigmas().to_vec(), 1e-4, 100);
        ch.run_annealed(m, &ac).unwrap();
        ch.states().to_vec()
    };
    let (x, x0) = (sample(&model), sample(&untrained));
    let test = Toy2d::Mixture8.sample(1000, 78).unwrap();
    let (m, m0) = (mmd2(&x, test.features(), 2, 0.5).unwrap(), mmd2(&x0, test.features(), 2, 0.5).unwrap());
    let counts: Vec<usize> = Toy2d::Mixture8
        .mode_centres()
        .iter()
        .map(|c| x.chunks(2).filter(|p| (p[0] - c[0]).hypot(p[1] - c[1]) < 0.75).count())
        .collect();
    println!("MMD² trained {m:.5}, untrained {m0:.5}; modes {counts:?}");
    assert!(counts.iter().all(|&c| c >= 30), "{counts:?}");
    assert!(m < m0 / 5.0, "trained {m} vs untrained {m0}");
}

#[test]
fn dsm_is_thread_count_independent_and_files_round_trip() {
    let data = Toy2d::Rings.sample(300, 2).unwrap();
    let cfg = DsmConfig::default().iterations(10).hidden(vec![16]).batch_size(32);
    let run = || train_dsm(&data, &cfg, |_, _, _| {}).unwrap();
    let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
    let one = pool(1).install(run);
    assert_eq!(pool(3).install(run), one);
    #[cfg(feature = "io")]
    {
        use boltzmann::io::{EnergyModel, energy::score_mlp_bytes, parse_energy_model};
        let bytes = score_mlp_bytes(&one);
        assert_eq!(parse_energy_model(&bytes).unwrap(), EnergyModel::Score(one.clone()));
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(parse_energy_model(&bytes[..cut]).is_err());
        }
    }
}

#[test]
fn dsm_bad_input() {
    let data = Toy2d::Moons.sample(50, 1).unwrap();
    for bad in [
        DsmConfig::default().iterations(0),
        DsmConfig::default().batch_size(0),
        DsmConfig::default().learning_rate(-1.0),
        DsmConfig::default().sigmas((0.1, 1.0, 5)),
        DsmConfig::default().sigmas((1.0, 0.1, 1)),
        DsmConfig::default().hidden(vec![0]),
    ] {
        assert!(train_dsm(&data, &bad, |_, _, _| {}).is_err(), "{bad:?}");
    }
    assert!(ScoreMlp::new(2, &[8], Activation::Swish, vec![1.0, 1.0], 0).is_err());
    assert!(ScoreMlp::new(2, &[8], Activation::Swish, vec![], 0).is_err());
    let m = ScoreMlp::new(2, &[8], Activation::Swish, vec![1.0, 0.5], 0).unwrap();
    let mut ws = Workspace::default();
    assert!(m.score(&[0.0; 3], 1.0, &mut [0.0; 3], &mut ws).is_err());
    assert!(m.score(&[0.0; 2], 0.0, &mut [0.0; 2], &mut ws).is_err());
    assert!(m.score(&[0.0; 2], f32::NAN, &mut [0.0; 2], &mut ws).is_err());
}
