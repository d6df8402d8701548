//! Partition functions: exact sums against each other and brute force; AIS
//! against exact values within its reported interval.

use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig};
use boltzmann::{Rbm, reference};

#[test]
fn exact_log_z_over_visible_and_hidden_agree() {
    for (d, h, scale, seed) in [(10, 6, 0.5, 1u64), (13, 12, 1.5, 2), (7, 15, 3.0, 3), (14, 14, 0.1, 4)] {
        let rbm = Rbm::random(d, h, scale, scale, seed).unwrap();
        let zv = eval::log_z_over_visible(&rbm).unwrap();
        let zh = eval::log_z_over_hidden(&rbm).unwrap();
        assert!(((zv - zh) / zh).abs() < 1e-9, "{d}x{h}: {zv} vs {zh}");
        // And against the reference enumeration of p(v).
        if d <= 14 {
            let (zr, _) = reference::exact_visible_distribution(&rbm);
            assert!(((zr - zh) / zh).abs() < 1e-9, "{d}x{h}: reference {zr} vs {zh}");
        }
        assert_eq!(eval::log_partition_exact(&rbm).unwrap(), if h <= d { zh } else { zv });
    }
    let big = Rbm::zeros(31, 40).unwrap();
    assert!(eval::log_partition_exact(&big).is_err());
}

#[test]
fn exact_log_z_is_thread_count_independent() {
    let rbm = Rbm::random(20, 9, 1.0, 0.5, 5).unwrap();
    let run = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(|| eval::log_z_over_visible(&rbm).unwrap())
    };
    assert_eq!(run(1).to_bits(), run(3).to_bits());
}

fn data_for(rbm: &Rbm, n: usize) -> Dataset {
    let mut c = boltzmann::Chains::new(rbm, n, 9).unwrap();
    c.sweep(rbm, 50).unwrap();
    Dataset::new(c.visible().to_vec(), rbm.n_visible()).unwrap()
}

/// AIS with the default schedule recovers the exact log Z of small models of
/// several weight scales: the exact value lies inside the ±3σ interval and
/// the estimate is within 0.1 nats.
#[test]
fn ais_matches_exact_log_z() {
    for (d, h, scale, seed) in [(12, 10, 0.5, 11u64), (16, 20, 1.0, 12), (20, 8, 2.0, 13)] {
        let rbm = Rbm::random(d, h, scale, scale * 0.5, seed).unwrap();
        let exact = eval::log_partition_exact(&rbm).unwrap();
        let base = eval::base_rate_biases(&data_for(&rbm, 500)).unwrap();
        let est = eval::ais(&rbm, &base, &AisConfig::default().runs(100).seed(seed)).unwrap();
        println!(
            "{d}x{h} scale {scale}: exact {exact:.4}, AIS {:.4} [{:.4}, {:.4}]",
            est.log_z, est.log_z_low, est.log_z_high
        );
        assert!((est.log_z - exact).abs() < 0.1, "{d}x{h}: {} vs {exact}", est.log_z);
        assert!(est.log_z_low <= exact && exact <= est.log_z_high, "{d}x{h}: exact outside the interval");
        // The interval is Ẑ ± 3σ̂.
        let rel = (est.log_std_err - est.log_z).exp();
        assert!(((est.log_z_high - est.log_z).exp() - 1.0 - 3.0 * rel).abs() < 1e-9 && rel > 0.0);
    }
}

#[test]
fn ais_rejects_bad_configuration() {
    let rbm = Rbm::random(5, 3, 0.5, 0.0, 1).unwrap();
    let base = vec![0.0f32; 5];
    assert!(eval::ais(&rbm, &base, &AisConfig::default().runs(0)).is_err());
    assert!(eval::ais(&rbm, &base, &AisConfig::default().schedule(vec![0.0, 0.7])).is_err());
    assert!(eval::ais(&rbm, &base, &AisConfig::default().schedule(vec![0.0, 0.5, 0.5, 1.0])).is_err());
    assert!(eval::ais(&rbm, &[0.0; 4], &AisConfig::default()).is_err());
    assert!(eval::ais(&rbm, &[f32::NAN; 5], &AisConfig::default()).is_err());
    assert_eq!(eval::default_schedule().len(), 14_501);
}

#[test]
fn average_log_prob_with_exact_log_z() {
    let rbm = Rbm::random(8, 5, 1.0, 0.5, 3).unwrap();
    let data = data_for(&rbm, 50);
    let log_z = eval::log_partition_exact(&rbm).unwrap();
    let avg = eval::average_log_prob(&rbm, &data, log_z).unwrap();
    let (_, p) = reference::exact_visible_distribution(&rbm);
    let want =
        (0..data.len()).map(|i| p[reference::state_index(data.row(i))].ln()).sum::<f64>() / data.len() as f64;
    assert!((avg - want).abs() < 1e-9, "{avg} vs {want}");
    assert!(eval::average_log_prob(&rbm, &data, f64::NAN).is_err());
}

/// A 16 × 12 RBM trained 100 epochs on 200 noisy bars (four 6-bit bars,
/// 1 bit in 11 flipped): sharper and more data-shaped than random models.
fn trained_16x12() -> (Rbm, Dataset) {
    use boltzmann::train::{TrainConfig, fit};
    let x: Vec<f32> = (0..200 * 16)
        .map(|i| {
            let (e, k) = (i / 16, i % 16);
            (((e % 4) * 4 <= k && k < (e % 4) * 4 + 6) as u8
                ^ ((i * 2654435761usize) >> 13).is_multiple_of(11) as u8) as f32
        })
        .collect();
    let data = Dataset::new(x, 16).unwrap();
    let config = TrainConfig::default().n_hidden(12).batch_size(20).epochs(100).learning_rate(0.1);
    (fit(config, &data).unwrap(), data)
}

/// The same on a trained model (sharper, data-shaped distribution).
#[test]
fn ais_matches_exact_log_z_on_a_trained_model() {
    let (rbm, data) = trained_16x12();
    let exact = eval::log_partition_exact(&rbm).unwrap();
    let base = eval::base_rate_biases(&data).unwrap();
    let est = eval::ais(&rbm, &base, &AisConfig::default().runs(100).seed(5)).unwrap();
    println!(
        "trained 16x12: exact {exact:.4}, AIS {:.4} [{:.4}, {:.4}]",
        est.log_z, est.log_z_low, est.log_z_high
    );
    assert!((est.log_z - exact).abs() < 0.1);
    assert!(est.log_z_low <= exact && exact <= est.log_z_high);
}

/// RAISE's importance weight is an unbiased estimate of the annealing
/// model's probability `p_ann(v)` (computed exactly here by multiplying
/// transition matrices): with a 3-step schedule `p_ann` is far from the RBM's
/// `p(v)`, and the mean weight must find `p_ann`, not `p`.
#[test]
fn raise_weights_are_unbiased_for_the_annealing_model() {
    let rbm = Rbm::random(6, 4, 1.5, 0.5, 21).unwrap();
    let base = vec![-0.3f32, 0.2, 0.0, -1.0, 0.5, 0.1];
    let schedule = vec![0.0, 0.3, 0.7, 1.0];
    let p_ann = reference::annealed_visible_distribution(&rbm, &base, &schedule);
    assert!((p_ann.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let (_, p) = reference::exact_visible_distribution(&rbm);
    for state in [0b000000usize, 0b101101, 0b011010] {
        let v: Vec<f32> = (0..6).map(|i| ((state >> i) & 1) as f32).collect();
        let n = 40_000;
        let data = Dataset::new(v.repeat(n), 6).unwrap();
        let cfg = eval::RaiseConfig::default().runs_per_example(1).schedule(schedule.clone()).seed(7);
        let est = eval::raise(&rbm, &base, &data, &cfg).unwrap();
        let w: Vec<f64> = est.log_probs.iter().map(|x| x.exp()).collect();
        let mean = w.iter().sum::<f64>() / n as f64;
        let sd = (w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let se = sd / (n as f64).sqrt();
        let (want, target) = (p_ann[state], p[state]);
        println!("state {state:06b}: mean w {mean:.6} ± {se:.6}, p_ann {want:.6}, p {target:.6}");
        assert!((mean - want).abs() < 4.0 * se, "state {state:06b}: {mean} vs p_ann {want}");
        assert!((target - want).abs() > 8.0 * se, "test too weak: p and p_ann are not distinguishable");
    }
}

/// `n` exact samples of `p(v)` by inverse-CDF over the enumerated states.
fn exact_samples(rbm: &Rbm, n: usize, seed: u64) -> Dataset {
    let (_, p) = reference::exact_visible_distribution(rbm);
    let mut u = reference::Uniforms::new(boltzmann::rng::chain_streams(seed, 1).unwrap()[0]);
    let d = rbm.n_visible();
    let mut x = Vec::with_capacity(n * d);
    for r in u.take(n) {
        let (mut acc, mut s) = (0.0, p.len() - 1);
        for (i, &q) in p.iter().enumerate() {
            acc += q;
            if r < acc {
                s = i;
                break;
            }
        }
        x.extend((0..d).map(|i| ((s >> i) & 1) as f32));
    }
    Dataset::new(x, d).unwrap()
}

/// Mean and standard error.
fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (m, (x.iter().map(|y| (y - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / n.sqrt())
}

/// The bracket, in expectation: a single forward AIS run's `log w + log Z_A`
/// has expectation `log Z − KL ≤ log Z` (so forward estimates of
/// log-probabilities are too high), and a single RAISE chain's `log p̂(v)`
/// has expectation `≤ log p_ann(v)`; for data drawn from the model itself,
/// `E log p_ann ≤ E log p` (Gibbs' inequality), so RAISE ≤ exact ≤ forward.
/// Checked as paired differences to the exact values, significant at 2 s.e.,
/// with a short schedule (6 βs) where the gaps are real, on a trained model
/// (sharp, data-shaped) and on random ones. With the default schedule RAISE
/// comes within 0.05 nats of the exact average.
#[test]
fn raise_and_ais_bracket_the_exact_log_likelihood() {
    let (trained, _) = trained_16x12();
    let models = [
        ("trained 16x12", trained),
        ("random 14x10 scale 1.5", Rbm::random(14, 10, 1.5, 0.5, 31).unwrap()),
        ("random 12x12 scale 1.2", Rbm::random(12, 12, 1.2, 0.5, 32).unwrap()),
    ];
    for (seed, (name, rbm)) in (40u64..).zip(models) {
        let samples = exact_samples(&rbm, 400, seed);
        let (base_data, test) = samples.split(200).unwrap();
        let (log_z, p) = reference::exact_visible_distribution(&rbm);
        let log_p: Vec<f64> = (0..test.len()).map(|i| p[reference::state_index(test.row(i))].ln()).collect();
        let exact = log_p.iter().sum::<f64>() / log_p.len() as f64;
        let base = eval::base_rate_biases(&base_data).unwrap();
        let short = eval::linear_schedule(5);
        // Forward: per-run estimates of log Z minus the truth.
        let fwd = eval::ais(&rbm, &base, &AisConfig::default().runs(400).schedule(short.clone()).seed(seed))
            .unwrap();
        let fwd_err: Vec<f64> = fwd.log_weights.iter().map(|w| w + fwd.log_z_base - log_z).collect();
        let (fm, fse) = mean_se(&fwd_err);
        // Reverse: per-example estimates of log p(v) minus the truth.
        let cfg = eval::RaiseConfig::default().runs_per_example(1).schedule(short).seed(seed);
        let rev = eval::raise(&rbm, &base, &test, &cfg).unwrap();
        let rev_err: Vec<f64> = rev.log_probs.iter().zip(&log_p).map(|(a, b)| a - b).collect();
        let (rm, rse) = mean_se(&rev_err);
        let cfg = eval::RaiseConfig::default().seed(seed);
        let long = eval::raise(&rbm, &base, &test, &cfg).unwrap();
        println!(
            "{name}: exact avg {exact:.4}; 5 steps: single-run AIS log Z error {fm:.4} ± {fse:.4}, \
             RAISE error {rm:.4} ± {rse:.4}; default schedule: RAISE avg {:.4}",
            long.mean
        );
        assert!(fm + 2.0 * fse < 0.0, "{name}: forward AIS does not underestimate log Z");
        assert!(rm + 2.0 * rse < 0.0, "{name}: RAISE does not underestimate log p");
        assert!((long.mean - exact).abs() < 0.05, "{name}: default-schedule RAISE");
    }
}

#[test]
fn raise_rejects_bad_input() {
    let rbm = Rbm::random(5, 3, 0.5, 0.0, 1).unwrap();
    let base = vec![0.0f32; 5];
    let data = Dataset::new(vec![1.0, 0.0, 1.0, 0.0, 1.0], 5).unwrap();
    let ok = eval::RaiseConfig::default().schedule(eval::linear_schedule(10));
    assert!(eval::raise(&rbm, &base, &data, &ok).is_ok());
    let bad_runs = (ok.clone()).runs_per_example(0);
    assert!(eval::raise(&rbm, &base, &data, &bad_runs).is_err());
    for s in [vec![1.0, 0.0], vec![0.0, 0.5], vec![0.0, f64::NAN, 1.0], vec![0.0]] {
        let c = (ok.clone()).schedule(s.clone());
        assert!(eval::raise(&rbm, &base, &data, &c).is_err(), "{s:?}");
    }
    assert!(eval::raise(&rbm, &[0.0; 4], &data, &ok).is_err());
    let wide = Dataset::new(vec![1.0; 6], 6).unwrap();
    assert!(eval::raise(&rbm, &base, &wide, &ok).is_err());
    let grey = Dataset::new(vec![0.5, 0.0, 1.0, 0.0, 1.0], 5).unwrap();
    assert!(eval::raise(&rbm, &base, &grey, &ok).is_err());
    assert!(eval::raise(&rbm, &base, &Dataset::new(vec![], 5).unwrap(), &ok).is_err());
}

#[test]
fn schedules_and_exact_progress() {
    let d = eval::default_schedule();
    assert_eq!(eval::scaled_default_schedule(1), d);
    let s10 = eval::scaled_default_schedule(10);
    assert_eq!(s10.len(), 145_001);
    assert!(s10[0] == 0.0 && *s10.last().unwrap() == 1.0 && s10.windows(2).all(|w| w[1] > w[0]));
    // Every 10th β of the scaled schedule is a β of the default one (same shape).
    assert!(d.iter().zip(s10.iter().step_by(10)).all(|(a, b)| (a - b).abs() < 1e-9));
    // Progress reaches the number of states, and the value is unchanged.
    let rbm = Rbm::random(9, 14, 0.5, 0.2, 8).unwrap();
    let seen = std::sync::atomic::AtomicU64::new(0);
    let z = eval::log_partition_exact_with_progress(&rbm, &|k| {
        seen.fetch_max(k, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(seen.into_inner(), 1 << 9);
    assert_eq!(z.to_bits(), eval::log_partition_exact(&rbm).unwrap().to_bits());
}

/// A model wide enough for the packed-weight products (600 × 16: the
/// annealing chains then update their products by the units that changed,
/// or take binary or dense products row by row), yet exactly solvable over
/// its 16 hidden units: AIS and RAISE agree with the exact values, and give
/// the same bits on 1, 2 and 3 threads.
#[test]
fn annealing_with_updated_products_matches_exact_and_ignores_threads() {
    let (d, h) = (600, 16);
    let w = Rbm::random(d, h, 1.0, 0.0, 61).unwrap().weights().to_vec();
    let b: Vec<f32> = (0..d).map(|i| -2.5 + (i % 7) as f32 * 0.3).collect();
    let rbm = Rbm::new(d, h, w, b, vec![-0.5; h]).unwrap();
    let exact = eval::log_partition_exact(&rbm).unwrap();
    let data = data_for(&rbm, 300);
    let (base_data, test) = data.split(200).unwrap();
    let base = eval::base_rate_biases(&base_data).unwrap();
    let ais_cfg = AisConfig::default().runs(60).seed(3);
    let raise_cfg = eval::RaiseConfig::default().seed(4);
    let run = |t: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap().install(|| {
            (eval::ais(&rbm, &base, &ais_cfg).unwrap(), eval::raise(&rbm, &base, &test, &raise_cfg).unwrap())
        })
    };
    let (ais, raise) = run(2);
    // RAISE minus the exact log p(v), per test example.
    let err: Vec<f64> =
        (0..test.len()).map(|i| raise.log_probs[i] + rbm.free_energy(test.row(i)).unwrap() + exact).collect();
    let (em, ese) = mean_se(&err);
    println!(
        "exact log Z {exact:.4}, AIS {:.4} [{:.4}, {:.4}]; RAISE − exact log p {em:.4} ± {ese:.4}",
        ais.log_z, ais.log_z_low, ais.log_z_high
    );
    assert!((ais.log_z - exact).abs() < 0.1 && ais.log_z_low <= exact && exact <= ais.log_z_high);
    assert!(em.abs() < 0.05 && em < 3.0 * ese, "RAISE − exact: {em} ± {ese}");
    let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for t in [1, 3] {
        let (a, r) = run(t);
        assert_eq!(bits(&a.log_weights), bits(&ais.log_weights), "AIS on {t} threads");
        assert_eq!(bits(&r.log_probs), bits(&raise.log_probs), "RAISE on {t} threads");
    }
    // A small model (dense products only, each thread's chains in one
    // product): the same bits on 1 and 3 threads too.
    let small = Rbm::random(12, 10, 1.0, 0.5, 62).unwrap();
    let cfg = AisConfig::default().runs(37).schedule(eval::linear_schedule(300)).seed(5);
    let go = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(|| eval::ais(&small, &[0.0; 12], &cfg).unwrap())
    };
    assert_eq!(bits(&go(1).log_weights), bits(&go(3).log_weights), "small model");
}
