//! The label-joined RBM: free energies per label against brute-force sums
//! over hidden states, training on labelled data, thread independence, bad
//! input.

use boltzmann::Rbm;
use boltzmann::data::Dataset;
use boltzmann::model::LabelledRbm;
use boltzmann::train::Schedule;
use boltzmann::train::labelled::{LabelledConfig, fit_labelled};

/// `F(x, y) + bₓ·x` by summing `exp(−E)` over all hidden states in f64.
fn brute_free_energy(rbm: &Rbm, d: usize, x: &[f32], y: usize) -> f64 {
    let (nv, h) = (rbm.n_visible(), rbm.n_hidden());
    let mut v: Vec<f64> = x.iter().map(|&a| a as f64).collect();
    v.extend((0..nv - d).map(|j| (j == y) as u8 as f64));
    let w = rbm.weights();
    let mut terms = Vec::new();
    for s in 0u32..(1 << h) {
        let mut neg_e = rbm.visible_bias()[d + y] as f64;
        for j in 0..h {
            if (s >> j) & 1 == 1 {
                neg_e +=
                    rbm.hidden_bias()[j] as f64 + (0..nv).map(|i| v[i] * w[i * h + j] as f64).sum::<f64>();
            }
        }
        terms.push(neg_e);
    }
    let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    -(m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln())
}

#[test]
fn label_free_energies_match_brute_force() {
    let (d, k) = (5usize, 3usize);
    let m = LabelledRbm::new(Rbm::random(d + k, 6, 1.0, 0.5, 7).unwrap(), k).unwrap();
    let x: Vec<f32> = (0..4 * d).map(|i| ((i * 7) % 3 == 0) as u8 as f32).collect();
    let f = m.label_free_energies(&x).unwrap();
    let p = m.label_probs(&x).unwrap();
    let pred = m.predict(&x).unwrap();
    for (r, row) in x.chunks(d).enumerate() {
        let want: Vec<f64> = (0..k).map(|y| brute_free_energy(m.rbm(), d, row, y)).collect();
        for y in 0..k {
            assert!(
                (f[r * k + y] - want[y]).abs() < 1e-4,
                "row {r} label {y}: {} vs {}",
                f[r * k + y],
                want[y]
            );
        }
        assert!((p[r * k..(r + 1) * k].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let best = (0..k).min_by(|&a, &b| want[a].partial_cmp(&want[b]).unwrap()).unwrap();
        assert_eq!(pred[r] as usize, best);
    }
}

/// Noisy copies of four patterns on 12 units, label = pattern.
mod labelled_toy {
    include!("common/labelled_toy.rs");
}
use labelled_toy::toy;

#[test]
fn training_classifies_labelled_patterns_for_any_thread_count() {
    let (train, _) = toy(400, 1);
    let (test, yt) = toy(200, 2);
    let cfg = LabelledConfig::default().n_hidden(16).batch_size(20).epochs(30).learning_rate(0.05);
    let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
    let mut epochs = 0;
    let m = pool(1).install(|| fit_labelled(&train, 4, &cfg, |_| epochs += 1).unwrap());
    assert_eq!(epochs, 30);
    let err = m.error_rate(test.features(), &yt).unwrap();
    println!("test error {err:.3}");
    assert!(err < 0.05, "test error {err}");
    let m3 = pool(3).install(|| fit_labelled(&train, 4, &cfg, |_| {}).unwrap());
    assert_eq!(m, m3);
    // Persistent chains: a different model, as good a classifier here, and
    // thread-count independent too.
    let pcd = cfg.persistent(true);
    let p1 = pool(1).install(|| fit_labelled(&train, 4, &pcd, |_| {}).unwrap());
    assert_ne!(p1, m);
    let err = p1.error_rate(test.features(), &yt).unwrap();
    println!("PCD test error {err:.3}");
    assert!(err < 0.05, "PCD test error {err}");
    assert_eq!(pool(2).install(|| fit_labelled(&train, 4, &pcd, |_| {}).unwrap()), p1);
    // A decaying rate: a different model, still a good classifier; with the
    // final rate equal to the first, exactly the constant-rate model.
    let decay = pcd.clone().schedule(Schedule::Linear { final_lr: 0.02 });
    let pd = fit_labelled(&train, 4, &decay, |_| {}).unwrap();
    assert_ne!(pd, p1);
    assert!(pd.error_rate(test.features(), &yt).unwrap() < 0.05);
    let flat = pcd.clone().schedule(Schedule::Linear { final_lr: 0.05 });
    assert_eq!(fit_labelled(&train, 4, &flat, |_| {}).unwrap(), p1);
}

#[test]
fn labelled_bad_input() {
    assert!(LabelledRbm::new(Rbm::random(4, 3, 0.1, 0.0, 1).unwrap(), 1).is_err());
    assert!(LabelledRbm::new(Rbm::random(4, 3, 0.1, 0.0, 1).unwrap(), 4).is_err());
    let m = LabelledRbm::new(Rbm::random(6, 3, 0.1, 0.0, 1).unwrap(), 2).unwrap();
    assert!(m.predict(&[1.0; 5]).is_err());
    assert!(m.predict(&[1.0, 0.0, f32::NAN, 0.0]).is_err());
    assert!(m.error_rate(&[1.0; 4], &[0, 1]).is_err());
    let (d, _) = toy(20, 3);
    let ok = LabelledConfig::default().n_hidden(4).batch_size(5).epochs(1);
    assert!(fit_labelled(&Dataset::new(d.features().to_vec(), 12).unwrap(), 4, &ok, |_| {}).is_err());
    assert!(fit_labelled(&d, 3, &ok, |_| {}).unwrap_err().to_string().contains("not below"));
    assert!(fit_labelled(&d, 1, &ok, |_| {}).is_err());
    let half = Dataset::new(vec![0.5; 24], 12).unwrap().with_labels(vec![0, 1]).unwrap();
    assert!(fit_labelled(&half, 2, &ok, |_| {}).is_err());
    for bad in [
        (ok.clone()).n_hidden(0),
        (ok.clone()).k(0),
        (ok.clone()).learning_rate(-1.0),
        (ok.clone()).momentum(1.5),
        (ok.clone()).epochs(0),
        (ok.clone()).schedule(Schedule::Linear { final_lr: -1.0 }),
        (ok.clone()).schedule(Schedule::Exponential { decay: 1.5 }),
    ] {
        assert!(fit_labelled(&d, 4, &bad, |_| {}).is_err(), "{bad:?}");
    }
}
