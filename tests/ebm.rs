//! EBM training with Langevin negatives and a replay buffer (Du & Mordatch
//! 2019) on a 2-D mixture of 8 Gaussians: the samples reach an MMD to the
//! data within the data-vs-data baseline and cover every mode; an untrained
//! model's do not. Thread-count independence and bad input.

use boltzmann::data::{Dataset, Toy2d};
use boltzmann::energy::{Activation, MlpEnergy, TrainableEnergy};
use boltzmann::eval::mmd2;
use boltzmann::sampler::langevin::LangevinConfig;
use boltzmann::train::ebm::{EbmConfig, ReplayBuffer, train_ebm};

fn config(iterations: usize) -> EbmConfig {
    EbmConfig::default()
        .iterations(iterations)
        .batch_size(128)
        .langevin_steps(60)
        .langevin(LangevinConfig::ula(0.05).noise(0.1).grad_clip(None).clamp(Some((-7.0, 7.0))))
        .learning_rate(1e-3)
        .init_range((-7.0, 7.0))
        .alpha(0.1)
}

fn last_rows(buf: &ReplayBuffer, n: usize) -> Vec<f32> {
    (buf.len() - n..buf.len()).flat_map(|i| buf.row(i).to_vec()).collect()
}

/// Samples within 0.75 of each of the 8 means.
fn mode_counts(x: &[f32]) -> Vec<usize> {
    Toy2d::Mixture8
        .mode_centres()
        .iter()
        .map(|c| x.chunks(2).filter(|p| (p[0] - c[0]).hypot(p[1] - c[1]) < 0.75).count())
        .collect()
}

#[test]
fn ebm_on_eight_gaussians_matches_the_data() {
    let data = Toy2d::Mixture8.sample(4000, 1).unwrap();
    let n = 1000;
    let h = 0.5;
    let test = Toy2d::Mixture8.sample(n, 100).unwrap();
    // Baseline: MMD² between independent data samples of the same size.
    let base: Vec<f64> = (0..8)
        .map(|s| mmd2(Toy2d::Mixture8.sample(n, 200 + s).unwrap().features(), test.features(), 2, h).unwrap())
        .collect();
    let mean = base.iter().sum::<f64>() / 8.0;
    let sd = (base.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / 7.0).sqrt();
    let threshold = mean + 5.0 * sd;
    let mut e = MlpEnergy::new(2, &[64, 64], Activation::Swish, 2).unwrap();
    let untrained = e.clone();
    let t = std::time::Instant::now();
    let buf = train_ebm(&mut e, &data, &config(1000), |_| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let x = last_rows(&buf, n);
    let m = mmd2(&x, test.features(), 2, h).unwrap();
    let counts = mode_counts(&x);
    println!(
        "baseline MMD² {mean:.5} ± {sd:.5} (threshold {threshold:.5}); trained {m:.5}; modes {counts:?}; {secs:.1} s"
    );
    assert!(m < threshold, "MMD² {m} ≥ {threshold}");
    assert!(counts.iter().all(|&c| c >= n / 8 / 3), "a mode is missing or starved: {counts:?}");
    // The untrained energy's Langevin samples are far from the data.
    let mut e0 = untrained;
    let buf0 = train_ebm(&mut e0, &data, &(config(20)).learning_rate(1e-12), |_| {}).unwrap();
    let m0 = mmd2(&last_rows(&buf0, n), test.features(), 2, h).unwrap();
    println!("untrained MMD² {m0:.5}");
    assert!(m0 > 10.0 * threshold, "the test cannot fail: untrained MMD² {m0}");
}

#[test]
fn ebm_training_is_thread_count_independent() {
    let data = Toy2d::Moons.sample(300, 3).unwrap();
    let run = || {
        let mut e = MlpEnergy::new(2, &[16, 16], Activation::Softplus, 4).unwrap();
        let mut losses = Vec::new();
        let buf = train_ebm(&mut e, &data, &config(8), |r| losses.push(r.loss)).unwrap();
        (e.params(), losses, last_rows(&buf, 64))
    };
    let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
    let one = pool(1).install(run);
    for t in [2, 3] {
        assert_eq!(pool(t).install(run), one, "{t} threads");
    }
}

#[test]
fn ebm_bad_input() {
    let data = Toy2d::Rings.sample(100, 1).unwrap();
    let mut e = MlpEnergy::new(2, &[8], Activation::Swish, 1).unwrap();
    for bad in [
        (config(1)).batch_size(0),
        (config(1)).iterations(0),
        (config(1)).reinit(1.5),
        (config(1)).init_range((1.0, -1.0)),
        (config(1)).learning_rate(0.0),
        (config(1)).betas((1.0, 0.9)),
        (config(1)).langevin(LangevinConfig::ula(-0.1)),
        (config(1)).buffer_capacity(0),
        (config(1)).buffer_capacity(usize::MAX / 2),
    ] {
        assert!(train_ebm(&mut e, &data, &bad, |_| {}).is_err(), "{bad:?}");
    }
    let three = Dataset::new(vec![0.0; 9], 3).unwrap();
    assert!(train_ebm(&mut e, &three, &config(1), |_| {}).is_err());
    assert!(Dataset::new(vec![0.0, f32::NAN], 2).is_err(), "non-finite data is refused upstream");
    // Divergence is reported, not a panic.
    let huge = (config(3)).learning_rate(1e30);
    let r = train_ebm(&mut e, &data, &huge, |_| {});
    assert!(r.is_err() || e.params().iter().all(|v| v.is_finite()));
    assert!(Toy2d::Moons.sample(0, 1).is_err());
    assert!(mmd2(&[0.0; 3], &[0.0; 4], 2, 1.0).is_err());
    assert!(mmd2(&[0.0; 4], &[0.0; 4], 2, 0.0).is_err());
    assert!(mmd2(&[0.0; 2], &[0.0; 4], 2, 1.0).is_err());
}

/// The Gaussian–Bernoulli trainer's learning-rate schedule: a linear decay
/// to 0 leaves the last epoch's update at rate 0 (the parameters stop
/// moving), a constant schedule does not; bad schedules are refused.
#[test]
fn gb_rbm_learning_rate_schedule() {
    use boltzmann::train::Schedule;
    use boltzmann::train::gaussian::{GaussianTrainConfig, train_gaussian_rbm};
    let data = Toy2d::Mixture8.sample(300, 1).unwrap();
    let cfg =
        GaussianTrainConfig::default().n_hidden(8).epochs(3).batch_size(30).learning_rate(0.01).momentum(0.0);
    let run = |c: &GaussianTrainConfig, epochs: usize| {
        train_gaussian_rbm(&data, &c.clone().epochs(epochs), |_| {}).unwrap()
    };
    let decayed = cfg.clone().schedule(Schedule::Linear { final_lr: 0.0 });
    // Epochs 1–2 of a 3-epoch linear run use rates 0.01 and 0.005, epoch 3
    // rate 0: with momentum 0 its model equals the one after two epochs at
    // those rates, which a 2-epoch run with final rate 0.005 reproduces.
    let three = run(&decayed, 3);
    let two = run(&cfg.clone().schedule(Schedule::Linear { final_lr: 0.005 }), 2);
    assert_eq!(three, two);
    assert_ne!(run(&cfg, 3), run(&cfg, 2));
    for bad in [
        Schedule::Linear { final_lr: -1.0 },
        Schedule::Linear { final_lr: f32::NAN },
        Schedule::Exponential { decay: 0.0 },
    ] {
        assert!(train_gaussian_rbm(&data, &cfg.clone().schedule(bad), |_| {}).is_err(), "{bad:?}");
    }
}
