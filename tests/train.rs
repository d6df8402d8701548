//! Training: statistics against exact enumeration, likelihood goes up,
//! reproducibility (threads, resume), bad input.
#![allow(clippy::needless_range_loop)] // index loops mirror the math

use boltzmann::data::Dataset;
use boltzmann::train::{Algorithm, Optimizer, Schedule, Sparsity, TrainConfig, Trainer, fit};
use boltzmann::{Chains, Error, Rbm, reference};

fn bits(s: usize, n: usize) -> Vec<f32> {
    (0..n).map(|i| ((s >> i) & 1) as f32).collect()
}

/// Exact `E_model[v_i h_j]` (as `E[v_i p(h_j|v)]`) by enumerating v.
fn exact_model_vh(rbm: &Rbm) -> Vec<f64> {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let (_, p) = reference::exact_visible_distribution(rbm);
    let mut out = vec![0.0; d * h];
    let mut ph = vec![0.0f32; h];
    for s in 0..(1usize << d) {
        let v = bits(s, d);
        rbm.hidden_probs(&v, &mut ph).unwrap();
        for i in 0..d {
            for j in 0..h {
                out[i * h + j] += p[s] * v[i] as f64 * ph[j] as f64;
            }
        }
    }
    out
}

fn vh_stats(v: &[f32], ph: &[f32], d: usize, h: usize) -> Vec<f64> {
    let n = v.len() / d;
    let mut out = vec![0.0; d * h];
    for r in 0..n {
        for i in 0..d {
            if v[r * d + i] != 0.0 {
                for j in 0..h {
                    out[i * h + j] += ph[r * h + j] as f64;
                }
            }
        }
    }
    out.iter_mut().for_each(|x| *x /= n as f64);
    out
}

/// PCD's negative phase (many independent chains, many sweeps) estimates
/// the exact model expectations within 5 standard errors (each term is an
/// average of N values in [0, 1], so its standard error is ≤ 0.5/√N).
#[test]
fn pcd_negative_statistics_match_exact_expectations() {
    let rbm = Rbm::random(8, 5, 1.0, 0.5, 21).unwrap();
    let exact = exact_model_vh(&rbm);
    let n = 40_000;
    let mut chains = Chains::new(&rbm, n, 3).unwrap();
    chains.sweep(&rbm, 1).unwrap();
    let mut ph = vec![0.0f32; n * 5];
    chains.sweep_vh(&rbm, 300, &mut ph).unwrap();
    let est = vh_stats(chains.visible(), &ph, 8, 5);
    let tol = 5.0 * 0.5 / (n as f64).sqrt();
    let worst = est.iter().zip(&exact).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    println!("PCD statistics: max |error| {worst:.5}, tolerance {tol:.5}");
    assert!(worst < tol, "max error {worst} ≥ {tol}");
}

/// CD-k's expected gradient approaches the exact log-likelihood gradient as
/// k grows: its error shrinks from k = 1 to k = 50, where it is within the
/// sampling tolerance.
#[test]
fn cd_k_gradient_approaches_exact_gradient() {
    let rbm = Rbm::random(8, 5, 1.0, 0.5, 22).unwrap();
    let (d, h) = (8, 5);
    let data: Vec<f32> =
        [0b1011_0001usize, 0b0100_1110, 0b1111_0000, 0b0000_1111].iter().flat_map(|&s| bits(s, d)).collect();
    let exact_neg = exact_model_vh(&rbm);
    let reps = 10_000; // chains per data row
    let mut start = Vec::with_capacity(4 * reps * d);
    for _ in 0..reps {
        start.extend_from_slice(&data);
    }
    let n = 4 * reps;
    let mut p_pos = vec![0.0f32; n * h];
    rbm.hidden_probs(&start, &mut p_pos).unwrap();
    let mut errs = Vec::new();
    for k in [1usize, 5, 50] {
        let mut chains = Chains::from_visible(&rbm, &start, 7).unwrap();
        chains.sample_hidden_from(&p_pos).unwrap();
        let mut ph = vec![0.0f32; n * h];
        chains.sweep_vh(&rbm, k, &mut ph).unwrap();
        let neg = vh_stats(chains.visible(), &ph, d, h);
        // The positive terms are identical for CD-k and the exact gradient,
        // so the gradient error is the negative-statistics error.
        let err = neg.iter().zip(&exact_neg).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        println!("CD-{k}: max |gradient error| {err:.4}");
        errs.push(err);
    }
    let tol = 5.0 * 0.5 / (n as f64).sqrt();
    assert!(errs[0] > errs[2] + 2.0 * tol, "CD-1 error {} not above CD-50 error {}", errs[0], errs[2]);
    assert!(errs[1] < errs[0], "CD-5 error not below CD-1");
    assert!(errs[2] < tol, "CD-50 error {} ≥ {tol}", errs[2]);
}

fn toy_data() -> Dataset {
    // Three prototypes of 10 bits with 10% of bits flipped, 60 examples.
    let protos = [0b11111_00000usize, 0b00000_11111, 0b10101_01010];
    let mut x = Vec::new();
    let mut g = 12345u64;
    for e in 0..60 {
        let mut v = bits(protos[e % 3], 10);
        for b in v.iter_mut() {
            g = g.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (g >> 33).is_multiple_of(10) {
                *b = 1.0 - *b;
            }
        }
        x.extend(v);
    }
    Dataset::new(x, 10).unwrap()
}

fn exact_avg_ll(rbm: &Rbm, data: &Dataset) -> f64 {
    let (_, p) = reference::exact_visible_distribution(rbm);
    (0..data.len()).map(|i| p[reference::state_index(data.row(i))].ln()).sum::<f64>() / data.len() as f64
}

#[test]
fn training_raises_exact_log_likelihood() {
    let data = toy_data();
    for algorithm in [Algorithm::Cd { k: 1 }, Algorithm::Pcd { k: 1, chains: 50 }] {
        let config = TrainConfig::default()
            .n_hidden(6)
            .algorithm(algorithm)
            .learning_rate(0.1)
            .batch_size(10)
            .epochs(200);
        let t = Trainer::new(config.clone(), &data).unwrap();
        let before = exact_avg_ll(t.rbm(), &data);
        let rbm = fit(config, &data).unwrap();
        let after = exact_avg_ll(&rbm, &data);
        println!(
            "{algorithm:?}: average exact log-likelihood {before:.3} → {after:.3} (uniform: {:.3})",
            -10.0 * 2f64.ln()
        );
        // A uniform model scores −6.93 nats; require a clear gain.
        assert!(after > before + 1.0, "{algorithm:?}: {before} → {after}");
    }
}

fn small_config(algorithm: Algorithm, optimizer: Optimizer) -> TrainConfig {
    TrainConfig::default()
        .n_hidden(7)
        .algorithm(algorithm)
        .optimizer(optimizer)
        .learning_rate(if matches!(optimizer, Optimizer::Adam { .. }) { 0.01 } else { 0.05 })
        .schedule(Schedule::Exponential { decay: 0.9 })
        .batch_size(16)
        .epochs(6)
        .l1(1e-5)
        .sparsity(Some(Sparsity { target: 0.1, cost: 0.01, decay: 0.9 }))
        .seed(77)
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn bigger_data() -> Dataset {
    let x: Vec<f32> =
        (0..150 * 20).map(|i| ((i * 2654435761usize) >> 7).is_multiple_of(3) as u8 as f32).collect();
    Dataset::new(x, 20).unwrap()
}

#[test]
fn training_is_bit_identical_for_any_thread_count() {
    let data = bigger_data();
    for alg in [Algorithm::Cd { k: 2 }, Algorithm::Pcd { k: 1, chains: 37 }] {
        let cfg = small_config(alg, Optimizer::Sgd { initial: 0.5, final_: 0.9, switch_epoch: 2 });
        let one = in_pool(1, || fit(cfg.clone(), &data).unwrap());
        for threads in [2, 5] {
            let other = in_pool(threads, || fit(cfg.clone(), &data).unwrap());
            assert_eq!(one, other, "{alg:?}: 1 vs {threads} threads");
        }
    }
}

/// Sparse data on a model large enough for the binary × dense products
/// (200 × 60 weights; ≈ 12 % ones): the packed forward products, the
/// weight gradient as sums of selected rows and the fused update give the
/// same bits for any thread count, for CD and PCD, SGD (with L1, L2 and the
/// sparsity penalty) and Adam.
#[test]
fn binary_product_training_is_bit_identical_for_any_thread_count() {
    let (n, d) = (96usize, 200usize);
    let x: Vec<f32> = (0..n * d)
        .map(|i| ((i.wrapping_mul(2654435761) >> 9) % 100 < 12 + (i % d) / 40) as u8 as f32)
        .collect();
    let data = Dataset::new(x, d).unwrap();
    for (alg, opt) in [
        (Algorithm::Cd { k: 1 }, Optimizer::Sgd { initial: 0.5, final_: 0.9, switch_epoch: 1 }),
        (Algorithm::Pcd { k: 2, chains: 29 }, Optimizer::Sgd { initial: 0.5, final_: 0.9, switch_epoch: 1 }),
        (Algorithm::Pcd { k: 1, chains: 40 }, Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }),
    ] {
        let cfg = (small_config(alg, opt)).n_hidden(60).l2(1e-4).batch_size(24).epochs(3);
        let one = in_pool(1, || fit(cfg.clone(), &data).unwrap());
        for threads in [2, 3] {
            let other = in_pool(threads, || fit(cfg.clone(), &data).unwrap());
            assert_eq!(one, other, "{alg:?}/{opt:?}: 1 vs {threads} threads");
        }
    }
}

#[cfg(feature = "io")]
#[test]
fn resume_from_checkpoint_equals_uninterrupted() {
    use boltzmann::io::{checkpoint, parse_checkpoint};
    let data = bigger_data();
    for (alg, opt) in [
        (Algorithm::Pcd { k: 1, chains: 23 }, Optimizer::Sgd { initial: 0.5, final_: 0.9, switch_epoch: 3 }),
        (Algorithm::Cd { k: 1 }, Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }),
    ] {
        let cfg = small_config(alg, opt);
        let full = in_pool(2, || {
            let mut t = Trainer::new(cfg.clone(), &data).unwrap();
            while !t.is_done() {
                t.run_epoch(&data, |_, _| {}).unwrap();
            }
            t.state().clone()
        });
        // 3 epochs on 2 threads, checkpoint through bytes, 3 more on 1 thread.
        let bytes = in_pool(2, || {
            let mut t = Trainer::new(cfg.clone(), &data).unwrap();
            for _ in 0..3 {
                t.run_epoch(&data, |_, _| {}).unwrap();
            }
            checkpoint::checkpoint_bytes(t.state())
        });
        let resumed = in_pool(1, || {
            let st = parse_checkpoint(&bytes, "test").unwrap();
            assert_eq!(st.epoch, 3);
            let mut t = Trainer::from_state(st).unwrap();
            while !t.is_done() {
                t.run_epoch(&data, |_, _| {}).unwrap();
            }
            t.state().clone()
        });
        assert_eq!(full, resumed, "{alg:?}/{opt:?}: resumed run differs");
    }
}

#[test]
fn divergence_is_reported() {
    let data = bigger_data();
    let cfg =
        TrainConfig::default().n_hidden(5).learning_rate(1e6).batch_size(10).epochs(3).max_weight(100.0);
    let mut t = Trainer::new(cfg, &data).unwrap();
    let e = t.run_epoch(&data, |_, _| {}).unwrap_err();
    assert!(matches!(e, Error::Diverged { .. }), "{e}");
    assert!(e.to_string().contains("diverged"));
}

#[test]
fn bad_training_input() {
    let data = bigger_data();
    let ok = TrainConfig::default().n_hidden(4).batch_size(10).epochs(1);
    // Batch larger than the data, zero epochs, zero hidden, bad rates, k = 0.
    for bad in [
        (ok.clone()).batch_size(151),
        (ok.clone()).epochs(0),
        (ok.clone()).n_hidden(0),
        (ok.clone()).learning_rate(f32::NAN),
        (ok.clone()).learning_rate(-1.0),
        (ok.clone()).l2(-1.0),
        (ok.clone()).algorithm(Algorithm::Cd { k: 0 }),
        (ok.clone()).algorithm(Algorithm::Pcd { k: 1, chains: 0 }),
        (ok.clone()).schedule(Schedule::Exponential { decay: 1.5 }),
        (ok.clone()).optimizer(Optimizer::Sgd { initial: 1.0, final_: 0.5, switch_epoch: 1 }),
        (ok.clone()).sparsity(Some(Sparsity { target: 0.0, cost: 0.1, decay: 0.9 })),
        (ok.clone()).batch_size(0),
    ] {
        assert!(Trainer::new(bad.clone(), &data).is_err(), "{bad:?} accepted");
    }
    // Non-binary data is refused unless binarized.
    let grey = Dataset::new(vec![0.2, 0.7, 1.0, 0.0, 0.5, 0.5], 2).unwrap();
    let cfg = TrainConfig::default().n_hidden(2).batch_size(1).epochs(1);
    assert!(matches!(Trainer::new(cfg.clone(), &grey), Err(Error::NotBinary { .. })));
    assert!(Trainer::new(cfg.clone(), &grey.binarize_threshold(0.5).unwrap()).is_ok());
    assert!(Trainer::new(cfg.clone(), &grey.binarize_stochastic(1).unwrap()).is_ok());
    // NaN data cannot even form a data set.
    assert!(matches!(Dataset::new(vec![0.0, f32::NAN], 2), Err(Error::NonFinite { .. })));
    // Data of another width than the model.
    let mut t = Trainer::new(cfg, &grey.binarize_threshold(0.5).unwrap()).unwrap();
    let wide = Dataset::new(vec![0.0; 9], 3).unwrap();
    assert!(t.run_epoch(&wide, |_, _| {}).is_err());
}

/// Sparse data (≈ 15 % ones, like MNIST): training raises the exact
/// log-likelihood clearly, for CD and PCD, with SGD and Adam.
#[test]
fn sparse_data_training_raises_exact_log_likelihood() {
    let protos = [0b1100_0000_0001usize, 0b0001_1000_0000, 0b0000_0011_0000, 0b0000_0000_1110];
    let mut x = Vec::new();
    let mut g = 999u64;
    for e in 0..120 {
        let mut v = bits(protos[e % 4], 12);
        for b in v.iter_mut() {
            g = g.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (g >> 33).is_multiple_of(25) {
                *b = 1.0 - *b;
            }
        }
        x.extend(v);
    }
    let data = Dataset::new(x, 12).unwrap();
    let density = data.features().iter().sum::<f32>() / data.features().len() as f32;
    assert!(density < 0.25, "{density}");
    for (algorithm, optimizer, lr) in [
        (Algorithm::Cd { k: 1 }, Optimizer::Sgd { initial: 0.5, final_: 0.9, switch_epoch: 5 }, 0.1),
        (Algorithm::Pcd { k: 1, chains: 40 }, Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }, 0.02),
    ] {
        let config = TrainConfig::default()
            .n_hidden(6)
            .algorithm(algorithm)
            .optimizer(optimizer)
            .learning_rate(lr)
            .batch_size(12)
            .epochs(150);
        let t = Trainer::new(config.clone(), &data).unwrap();
        let before = exact_avg_ll(t.rbm(), &data);
        let rbm = fit(config, &data).unwrap();
        let after = exact_avg_ll(&rbm, &data);
        println!("sparse {algorithm:?}: average exact log-likelihood {before:.3} → {after:.3}");
        assert!(after > before + 1.0, "{algorithm:?}: {before} → {after}");
    }
}

/// Probabilities as data (`probability_data`): rejected without the option,
/// accepted in [0, 1] with it (also on a model large enough for the binary
/// products, which must then stay off), refused outside [0, 1], kept by
/// checkpoints.
#[test]
fn probability_data_option() {
    let x: Vec<f32> = (0..60 * 100).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    let data = Dataset::new(x, 100).unwrap();
    let cfg = TrainConfig::default().n_hidden(90).batch_size(20).epochs(2);
    assert!(matches!(Trainer::new(cfg.clone(), &data), Err(boltzmann::Error::NotBinary { .. })));
    let pcfg = (cfg.clone()).probability_data(true);
    let one = in_pool(1, || fit(pcfg.clone(), &data).unwrap());
    let two = in_pool(2, || fit(pcfg.clone(), &data).unwrap());
    assert_eq!(one, two);
    assert!(one.weights().iter().all(|w| w.is_finite()));
    let over = Dataset::new(vec![1.5; 100 * 20], 100).unwrap();
    let err = Trainer::new(pcfg.clone(), &over).unwrap_err().to_string();
    assert!(err.contains("[0, 1]"), "{err}");
    #[cfg(feature = "io")]
    {
        use boltzmann::io::{checkpoint, parse_checkpoint};
        let t = Trainer::new(pcfg, &data).unwrap();
        let st = parse_checkpoint(&checkpoint::checkpoint_bytes(t.state()), "test").unwrap();
        assert!(st.config.probability_data);
    }
}

/// `any_real_data` (the Python estimator's scikit-learn mode) accepts any
/// finite values, needs `probability_data`, refuses NaN; `run_epoch` takes
/// data with fewer rows than a batch (one smaller batch).
#[test]
fn any_real_data_and_short_epochs() {
    let x: Vec<f32> = (0..120).map(|i| (i % 7) as f32 * 0.6 - 1.0).collect();
    let data = Dataset::new(x, 6).unwrap();
    let base = TrainConfig::default().n_hidden(3).batch_size(5).epochs(4).seed(1);
    let e = Trainer::new(base.clone().any_real_data(true), &data).unwrap_err();
    assert!(e.to_string().contains("any_real_data"), "{e}");
    assert!(Trainer::new(base.clone().probability_data(true), &data).is_err(), "values outside [0, 1]");
    let mut t = Trainer::new(base.clone().probability_data(true).any_real_data(true), &data).unwrap();
    t.run_epoch(&data, |_, _| {}).unwrap();
    let short = data.subset(0..3).unwrap();
    let r = t.run_epoch(&short, |_, _| {}).unwrap();
    assert_eq!(r.updates, 1);
    let mut bad = data.features().to_vec();
    bad[7] = f32::NAN;
    if let Ok(bad) = Dataset::new(bad, 6) {
        assert!(t.run_epoch(&bad, |_, _| {}).is_err());
    }
    // A fresh run still refuses a batch larger than its data.
    assert!(Trainer::new(base.probability_data(true).any_real_data(true).batch_size(50), &short).is_err());
}

/// Every trainer takes the shared [`Optim`] settings and refuses the same
/// bad ones, naming them; a schedule given through them is the one used.
#[test]
fn shared_optim_settings_are_checked_by_every_trainer() {
    use boltzmann::train::Optim;
    use boltzmann::train::conv::{ConvTrainConfig, train_conv_rbm};
    use boltzmann::train::gaussian::{GaussianTrainConfig, train_gaussian_rbm};
    use boltzmann::train::labelled::{LabelledConfig, fit_labelled};
    use boltzmann::train::softmax::{SoftmaxConfig, fit_softmax};
    let ok = Optim::default().learning_rate(0.01).batch_size(10).epochs(1);
    assert!(ok.check().is_ok());
    let bads = [
        ("learning_rate", ok.learning_rate(0.0)),
        ("learning_rate", ok.learning_rate(f32::INFINITY)),
        ("lr schedule scale", ok.schedule(Schedule::InverseTime { scale: 0.0 })),
        ("lr schedule scale", ok.schedule(Schedule::InverseTime { scale: f32::NAN })),
        ("lr decay", ok.schedule(Schedule::Exponential { decay: 0.0 })),
        ("final learning rate", ok.schedule(Schedule::Linear { final_lr: -1.0 })),
        ("l2", ok.l2(f32::NAN)),
        ("batch_size", ok.batch_size(0)),
        ("epochs", ok.epochs(0)),
    ];
    // 8 binary pixels as a 4 × 2 image, two labels.
    let x: Vec<f32> = (0..160).map(|i| ((i / 8 + i % 3) % 2) as f32).collect();
    let data = Dataset::new(x, 8).unwrap().with_labels((0..20).map(|i| (i % 2) as u8).collect()).unwrap();
    let named = |r: Result<(), Error>| match r {
        Err(Error::InvalidParam { name, .. }) => name,
        other => panic!("expected InvalidParam, got {other:?}"),
    };
    for (name, o) in bads {
        assert_eq!(named(o.check()), name);
        assert_eq!(named(Trainer::new(TrainConfig::default().n_hidden(3).optim(o), &data).map(|_| ())), name);
        let gb = GaussianTrainConfig::default().n_hidden(3).optim(o);
        assert_eq!(named(train_gaussian_rbm(&data, &gb, |_| {}).map(|_| ())), name);
        let top = LabelledConfig::default().n_hidden(3).optim(o);
        assert_eq!(named(fit_labelled(&data, 2, &top, |_| {}).map(|_| ())), name);
        assert_eq!(
            named(fit_softmax(&data, &SoftmaxConfig::default().n_classes(2).optim(o)).map(|_| ())),
            name
        );
        let conv = ConvTrainConfig::default().filters(2).filter_size(2).pool(1).chains(4).optim(o);
        assert_eq!(named(train_conv_rbm(&data, (4, 2, 1), &conv, |_| {}).map(|_| ())), name);
    }
    // The same settings through the setters and through `optim`.
    let s = Schedule::Linear { final_lr: 0.001 };
    let via_setters = TrainConfig::default().learning_rate(0.01).batch_size(10).epochs(1).schedule(s);
    assert_eq!(via_setters, TrainConfig::default().optim(ok.schedule(s)));
    // Softmax regression's default schedule is the inverse-time decay it has always used.
    let d = SoftmaxConfig::default();
    assert_eq!(d.optim.schedule, Schedule::InverseTime { scale: 10.0 });
    assert_eq!(d.optim.rate(20), d.optim.learning_rate / 3.0);
    // A schedule given to softmax regression is used: without momentum, a
    // zero final rate over two epochs leaves the second epoch without
    // updates, where a constant rate moves the weights on.
    let sm = SoftmaxConfig::default().n_classes(2).momentum(0.0);
    let one = fit_softmax(&data, &sm.clone().optim(ok)).unwrap();
    let zero_last = Schedule::Linear { final_lr: 0.0 };
    assert_eq!(one, fit_softmax(&data, &sm.clone().optim(ok.epochs(2).schedule(zero_last))).unwrap());
    assert_ne!(one, fit_softmax(&data, &sm.optim(ok.epochs(2))).unwrap());
}
