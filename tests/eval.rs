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
        let est = eval::ais(&rbm, &base, &AisConfig { runs: 100, seed, ..AisConfig::default() }).unwrap();
        println!(
            "{d}x{h} scale {scale}: exact {exact:.4}, AIS {:.4} [{:.4}, {:.4}]",
            est.log_z, est.log_z_low, est.log_z_high
        );
        assert!((est.log_z - exact).abs() < 0.1, "{d}x{h}: {} vs {exact}", est.log_z);
        assert!(est.log_z_low <= exact && exact <= est.log_z_high, "{d}x{h}: exact outside the interval");
    }
}

#[test]
fn ais_rejects_bad_configuration() {
    let rbm = Rbm::random(5, 3, 0.5, 0.0, 1).unwrap();
    let base = vec![0.0f32; 5];
    assert!(eval::ais(&rbm, &base, &AisConfig { runs: 0, ..AisConfig::default() }).is_err());
    assert!(eval::ais(&rbm, &base, &AisConfig { schedule: vec![0.0, 0.7], ..AisConfig::default() }).is_err());
    assert!(
        eval::ais(&rbm, &base, &AisConfig { schedule: vec![0.0, 0.5, 0.5, 1.0], ..AisConfig::default() })
            .is_err()
    );
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

/// The same on a trained model (sharper, data-shaped distribution).
#[test]
fn ais_matches_exact_log_z_on_a_trained_model() {
    use boltzmann::train::{TrainConfig, fit};
    let x: Vec<f32> = (0..200 * 16)
        .map(|i| {
            let (e, k) = (i / 16, i % 16);
            (((e % 4) * 4 <= k && k < (e % 4) * 4 + 6) as u8
                ^ ((i * 2654435761usize) >> 13).is_multiple_of(11) as u8) as f32
        })
        .collect();
    let data = Dataset::new(x, 16).unwrap();
    let rbm = fit(
        TrainConfig {
            n_hidden: 12,
            batch_size: 20,
            epochs: 100,
            learning_rate: 0.1,
            ..TrainConfig::default()
        },
        &data,
    )
    .unwrap();
    let exact = eval::log_partition_exact(&rbm).unwrap();
    let base = eval::base_rate_biases(&data).unwrap();
    let est = eval::ais(&rbm, &base, &AisConfig { runs: 100, seed: 5, ..AisConfig::default() }).unwrap();
    println!(
        "trained 16x12: exact {exact:.4}, AIS {:.4} [{:.4}, {:.4}]",
        est.log_z, est.log_z_low, est.log_z_high
    );
    assert!((est.log_z - exact).abs() < 0.1);
    assert!(est.log_z_low <= exact && exact <= est.log_z_high);
}
