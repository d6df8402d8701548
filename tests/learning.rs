//! The methods that make PCD learn well: centering, parallel tempering,
//! fast weights. Exact log-likelihoods on enumerable models, reproducibility
//! (threads, resume), chain diagnostics per epoch, bad configurations.

#![cfg(feature = "io")]

use boltzmann::data::Dataset;
use boltzmann::eval;
use boltzmann::io;
use boltzmann::train::{Algorithm, Averaging, Centering, FastWeights, Schedule, TrainConfig, Trainer};

/// Binary data far from centred: noisy copies of 4 prototypes over 12
/// units, most units on (mean ≈ 0.8), like inverted digits.
fn skewed_data(n: usize, seed: u64) -> Dataset {
    let protos: [u16; 4] = [0b1111_1111_0011, 0b1111_0011_1111, 0b0011_1111_1111, 0b1110_1110_1110];
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut x = Vec::with_capacity(n * 12);
    for _ in 0..n {
        let p = protos[(next() % 4) as usize];
        for i in 0..12 {
            let bit = (p >> i) & 1 == 1;
            let flip = next() % 100 < 5;
            x.push((bit ^ flip) as u8 as f32);
        }
    }
    Dataset::new(x, 12).unwrap()
}

fn base(algorithm: Algorithm, seed: u64) -> TrainConfig {
    TrainConfig::default()
        .n_hidden(8)
        .algorithm(algorithm)
        .learning_rate(0.1)
        .schedule(Schedule::Constant)
        .batch_size(20)
        .epochs(6)
        .l2(0.0)
        .weight_init_std(0.1)
        .seed(seed)
}

fn exact_ll(rbm: &boltzmann::Rbm, data: &Dataset) -> f64 {
    let z = eval::log_partition_exact(rbm).unwrap();
    eval::average_log_prob(rbm, data, z).unwrap()
}

fn train(config: TrainConfig, data: &Dataset) -> boltzmann::Rbm {
    boltzmann::train::fit(config, data).unwrap()
}

#[test]
fn centering_learns_better_than_plain_under_the_same_budget() {
    let data = skewed_data(400, 1);
    let mut wins = 0;
    let mut report = Vec::new();
    for seed in 0..5 {
        let plain = base(Algorithm::Pcd { k: 1, chains: 50 }, seed);
        let centered = (plain.clone()).centering(Some(Centering { hidden_rate: 0.1 }));
        let (lp, lc) = (exact_ll(&train(plain, &data), &data), exact_ll(&train(centered, &data), &data));
        report.push((lp, lc));
        wins += (lc > lp) as usize;
    }
    assert!(wins == 5, "centered vs plain exact log-likelihoods: {report:?}");
}

#[test]
fn tempering_and_fast_weights_train_and_improve_the_likelihood() {
    let data = skewed_data(400, 2);
    let untrained = exact_ll(&boltzmann::Rbm::random(12, 8, 0.1, 0.0, 0).unwrap(), &data);
    let pt = base(Algorithm::Pt { k: 1, chains: 20, replicas: 4, beta_min: 0.3 }, 3);
    let fpcd = (base(Algorithm::Pcd { k: 1, chains: 50 }, 3))
        .fast_weights(Some(FastWeights { learning_rate: 0.1, decay: 0.95 }));
    for c in [pt, fpcd] {
        let ll = exact_ll(&train(c.clone(), &data), &data);
        assert!(ll > untrained + 2.0, "{:?}: {ll} vs untrained {untrained}", c.algorithm);
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

fn all_methods() -> Vec<TrainConfig> {
    let pt = Algorithm::Pt { k: 2, chains: 13, replicas: 3, beta_min: 0.4 };
    let fast = Some(FastWeights { learning_rate: 0.05, decay: 0.9 });
    let centering = Some(Centering { hidden_rate: 0.05 });
    vec![
        (base(Algorithm::Pcd { k: 1, chains: 17 }, 4)).centering(centering),
        (base(Algorithm::Cd { k: 1 }, 4)).centering(centering),
        base(pt, 4),
        (base(Algorithm::Pcd { k: 1, chains: 17 }, 4)).fast_weights(fast),
        // An adapted ladder (changed after every epoch, kept in checkpoints).
        base(Algorithm::Pt { k: 2, chains: 13, replicas: 4, beta_min: 0.1 }, 4).ladder_step(Some(1.0)),
        // Parameter averaging that starts after the resume point below.
        (base(Algorithm::Pcd { k: 1, chains: 17 }, 4))
            .centering(centering)
            .averaging(Some(Averaging { decay: 0.9, from_epoch: 4 })),
        (base(pt, 4))
            .centering(centering)
            .fast_weights(fast)
            .averaging(Some(Averaging { decay: 0.8, from_epoch: 1 }))
            .optimizer(boltzmann::train::Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 })
            .learning_rate(0.01),
    ]
}

#[test]
fn same_bits_for_any_thread_count_and_across_resume() {
    let data = skewed_data(200, 5);
    for c in all_methods() {
        let run = |t: usize| pool(t).install(|| train(c.clone(), &data));
        let one = run(1);
        assert_eq!(one, run(2), "{c:?}");
        assert_eq!(one, run(3), "{c:?}");
        // Three epochs, checkpoint through bytes, three more.
        let mut t = Trainer::new(c.clone(), &data).unwrap();
        for _ in 0..3 {
            t.run_epoch(&data, |_, _| {}).unwrap();
        }
        let bytes = io::checkpoint_bytes(t.state());
        let mut r = Trainer::from_state(io::parse_checkpoint(&bytes, "mem").unwrap()).unwrap();
        while !r.is_done() {
            r.run_epoch(&data, |_, _| {}).unwrap();
        }
        assert_eq!(one, r.into_rbm(), "resume of {c:?}");
    }
}

#[test]
fn epoch_reports_carry_chain_diagnostics_and_swap_rates() {
    let data = skewed_data(400, 6);
    let mut t =
        Trainer::new(base(Algorithm::Pt { k: 1, chains: 10, replicas: 4, beta_min: 0.3 }, 1), &data).unwrap();
    let r = t.run_epoch(&data, |_, _| {}).unwrap();
    let d = r.chains.expect("PT has persistent chains");
    assert_eq!((d.chains, d.length), (10, 20));
    assert!(d.iat_mean >= 0.05 && d.split_rhat.is_finite() && d.ess > 0.0, "{d:?}");
    assert_eq!(r.swap_rates.len(), 3);
    assert!(r.swap_rates.iter().all(|&a| (0.0..=1.0).contains(&a)));
    let mut cd = Trainer::new(base(Algorithm::Cd { k: 1 }, 1), &data).unwrap();
    let r = cd.run_epoch(&data, |_, _| {}).unwrap();
    assert!(r.chains.is_none() && r.swap_rates.is_empty());
}

#[test]
fn bad_settings_are_refused() {
    let data = skewed_data(50, 7);
    let pcd = Algorithm::Pcd { k: 1, chains: 5 };
    let bad = [
        (base(pcd, 0)).centering(Some(Centering { hidden_rate: 0.0 })),
        (base(pcd, 0)).centering(Some(Centering { hidden_rate: 1.5 })),
        (base(pcd, 0)).centering(Some(Centering { hidden_rate: f32::NAN })),
        base(Algorithm::Pt { k: 1, chains: 5, replicas: 1, beta_min: 0.5 }, 0),
        base(Algorithm::Pt { k: 1, chains: 5, replicas: 0, beta_min: 0.5 }, 0),
        base(Algorithm::Pt { k: 1, chains: 5, replicas: 3, beta_min: 0.0 }, 0),
        base(Algorithm::Pt { k: 1, chains: 5, replicas: 3, beta_min: 1.0 }, 0),
        base(Algorithm::Pt { k: 0, chains: 5, replicas: 3, beta_min: 0.5 }, 0),
        base(Algorithm::Pt { k: 1, chains: 0, replicas: 3, beta_min: 0.5 }, 0),
        (base(Algorithm::Cd { k: 1 }, 0)).fast_weights(Some(FastWeights { learning_rate: 0.1, decay: 0.9 })),
        (base(pcd, 0)).fast_weights(Some(FastWeights { learning_rate: 0.0, decay: 0.9 })),
        (base(pcd, 0)).fast_weights(Some(FastWeights { learning_rate: 0.1, decay: 1.0 })),
        (base(pcd, 0)).fast_weights(Some(FastWeights { learning_rate: f32::INFINITY, decay: 0.5 })),
        (base(pcd, 0)).ladder_step(Some(0.5)),
        (base(Algorithm::Pt { k: 1, chains: 5, replicas: 3, beta_min: 0.5 }, 0)).ladder_step(Some(0.0)),
        (base(Algorithm::Pt { k: 1, chains: 5, replicas: 3, beta_min: 0.5 }, 0)).ladder_step(Some(1.5)),
        (base(pcd, 0)).averaging(Some(Averaging { decay: 0.0, from_epoch: 0 })),
        (base(pcd, 0)).averaging(Some(Averaging { decay: 1.0, from_epoch: 0 })),
        (base(pcd, 0)).averaging(Some(Averaging { decay: f32::NAN, from_epoch: 0 })),
        // Six epochs (0 … 5): an average from epoch 6 would never start.
        (base(pcd, 0)).averaging(Some(Averaging { decay: 0.9, from_epoch: 6 })),
    ];
    for c in bad {
        let e = Trainer::new(c.clone(), &data).expect_err(&format!("{c:?}"));
        assert!(matches!(e, boltzmann::Error::InvalidParam { .. }), "{e}");
    }
}

/// The average follows `θ̄ ← decay·θ̄ + (1 − decay)·θ` over the updates from
/// its first epoch on, computed here beside a trainer without averaging
/// (whose parameters are the same: averaging does not change the run).
#[test]
fn averaging_is_the_moving_average_of_the_parameters() {
    let data = skewed_data(100, 8);
    let decay = 0.7f32;
    // One update per epoch (the batch is the whole data set).
    let plain = base(Algorithm::Pcd { k: 1, chains: 9 }, 2).batch_size(100).epochs(5);
    let avg = plain.clone().averaging(Some(Averaging { decay, from_epoch: 2 }));
    let (mut p, mut a) = (Trainer::new(plain, &data).unwrap(), Trainer::new(avg, &data).unwrap());
    let mut expect: Option<Vec<f32>> = None;
    let flat = |r: &boltzmann::Rbm| -> Vec<f32> {
        r.weights().iter().chain(r.visible_bias()).chain(r.hidden_bias()).copied().collect()
    };
    for e in 0..5 {
        p.run_epoch(&data, |_, _| {}).unwrap();
        a.run_epoch(&data, |_, _| {}).unwrap();
        assert_eq!(p.rbm(), a.rbm(), "averaging changed the run at epoch {e}");
        let now = flat(p.rbm());
        expect = match (e, expect) {
            (0 | 1, _) => None,
            (_, None) => Some(now),
            (_, Some(x)) => Some(x.iter().zip(&now).map(|(&m, &t)| decay * m + (1.0 - decay) * t).collect()),
        };
        match &expect {
            None => assert!(a.averaged_rbm().is_none() && *a.model() == *p.rbm(), "epoch {e}"),
            Some(x) => {
                let got = flat(&a.averaged_rbm().expect("started"));
                let worst = got.iter().zip(x).map(|(g, x)| (g - x).abs()).fold(0.0f32, f32::max);
                assert!(worst < 1e-6, "epoch {e}: largest difference {worst}");
                // The first averaged update copies; later ones lag behind.
                assert_eq!(got == flat(p.rbm()), e == 2, "epoch {e}: average vs last parameters");
            }
        }
    }
    let avg_model = a.averaged_rbm().unwrap();
    assert_eq!(a.into_rbm(), avg_model, "training returns the averaged model");
}
