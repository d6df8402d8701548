//! Deep Belief Networks: the tied construction, the variational bound and
//! greedy training against exact enumeration on tiny networks, ancestral
//! sampling against the exact marginal, files and bad input.

use boltzmann::data::Dataset;
use boltzmann::eval::dbn::{log_prob_exact, lower_bound, lower_bound_exact};
use boltzmann::eval::log_partition_exact;
use boltzmann::model::Dbn;
use boltzmann::model::dbn::tied_layer;
use boltzmann::train::dbn::{DbnConfig, Propagate, train_greedy, train_layer_on_top};
use boltzmann::train::{Algorithm, Optimizer, TrainConfig};
use boltzmann::{Error, Rbm};

fn all_states(d: usize) -> Dataset {
    let x: Vec<f32> = (0..1usize << d).flat_map(|s| (0..d).map(move |i| ((s >> i) & 1) as f32)).collect();
    Dataset::new(x, d).unwrap()
}

fn with_biases(d: usize, h: usize, std: f32, seed: u64) -> Rbm {
    Rbm::random(d, h, std, 0.5, seed).unwrap()
}

/// A DBN whose second layer is the first one's transpose defines the same
/// p(v) as the first RBM, and its variational bound is tight (exact
/// enumeration, every visible state); the sampled bound estimates it
/// without bias. An untied second layer leaves a strictly positive gap.
#[test]
fn tied_two_layer_dbn_equals_its_rbm_and_the_bound_is_tight() {
    let rbm = with_biases(6, 4, 0.8, 11);
    let tied = tied_layer(&rbm).unwrap();
    let log_z = log_partition_exact(&rbm).unwrap();
    let log_z_tied = log_partition_exact(&tied).unwrap();
    assert!((log_z - log_z_tied).abs() < 1e-9, "{log_z} vs {log_z_tied}");
    let dbn = Dbn::new(vec![rbm.clone(), tied]).unwrap();
    let data = all_states(6);
    let logp = log_prob_exact(&dbn, &data, log_z_tied).unwrap();
    let bound = lower_bound_exact(&dbn, &data, log_z_tied).unwrap();
    let mut total = 0.0;
    for (e, (&lp, &b)) in logp.iter().zip(&bound).enumerate() {
        let want = -rbm.free_energy(data.row(e)).unwrap() - log_z;
        assert!((lp - want).abs() < 1e-9, "state {e}: DBN log p {lp} vs RBM {want}");
        assert!((b - want).abs() < 1e-9, "state {e}: bound {b} vs log p {want}");
        total += want.exp();
    }
    assert!((total - 1.0).abs() < 1e-9, "p(v) sums to {total}");
    // Sampled bound: unbiased around the exact one (4 standard errors).
    let est = lower_bound(&dbn, &data, log_z_tied, 400, 5).unwrap();
    let exact_mean = bound.iter().sum::<f64>() / bound.len() as f64;
    let mc_se = {
        // Standard error of the Monte-Carlo part alone: per-example
        // deviations from the exact per-example bound.
        let dev: Vec<f64> = est.per_example.iter().zip(&bound).map(|(a, b)| a - b).collect();
        let m = dev.iter().sum::<f64>() / dev.len() as f64;
        (dev.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (dev.len() - 1) as f64 / dev.len() as f64).sqrt()
    };
    assert!((est.mean - exact_mean).abs() < 4.0 * mc_se + 1e-9, "{} vs {exact_mean} (se {mc_se})", est.mean);
    // An untied second layer: bound strictly below log p on every state.
    let other = Dbn::new(vec![rbm, with_biases(4, 5, 0.8, 12)]).unwrap();
    let lz = log_partition_exact(other.top()).unwrap();
    let (lp, b) = (log_prob_exact(&other, &data, lz).unwrap(), lower_bound_exact(&other, &data, lz).unwrap());
    assert!(lp.iter().zip(&b).all(|(p, b)| b < &(p - 1e-6)), "no gap: {lp:?} {b:?}");
    let total: f64 = lp.iter().map(|x| x.exp()).sum();
    assert!((total - 1.0).abs() < 1e-9, "untied p(v) sums to {total}");
}

/// Three layers: the exact bound never exceeds the exact log p(v), and one
/// sampled estimate lands within 4 standard errors of the exact average.
#[test]
fn three_layer_bound_is_below_log_p() {
    let dbn = Dbn::new(vec![with_biases(5, 4, 1.0, 1), with_biases(4, 3, 1.0, 2), with_biases(3, 4, 1.0, 3)])
        .unwrap();
    let data = all_states(5);
    let lz = log_partition_exact(dbn.top()).unwrap();
    let lp = log_prob_exact(&dbn, &data, lz).unwrap();
    let b = lower_bound_exact(&dbn, &data, lz).unwrap();
    assert!(lp.iter().zip(&b).all(|(p, b)| b <= p), "{lp:?} {b:?}");
    assert!((lp.iter().map(|x| x.exp()).sum::<f64>() - 1.0).abs() < 1e-9);
    let est = lower_bound(&dbn, &data, lz, 2000, 9).unwrap();
    let exact = b.iter().sum::<f64>() / b.len() as f64;
    let dev: Vec<f64> = est.per_example.iter().zip(&b).map(|(a, b)| a - b).collect();
    let se = (dev.iter().map(|x| x * x).sum::<f64>() / (dev.len() * dev.len()) as f64).sqrt();
    assert!((est.mean - exact).abs() < 4.0 * se + 1e-9, "{} vs {exact} (se {se})", est.mean);
}

/// Data with structure: noisy copies of four prototypes on 8 units.
fn toy_data(n: usize, seed: u64) -> Dataset {
    let protos = [0b1100_0011u32, 0b0011_1100, 0b1010_0101, 0b0101_1010];
    let mut g = seed;
    let mut x = Vec::with_capacity(n * 8);
    for e in 0..n {
        for i in 0..8 {
            g = g.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let flip = (g >> 33).is_multiple_of(12);
            x.push((((protos[e % 4] >> i) & 1 == 1) ^ flip) as u8 as f32);
        }
    }
    Dataset::new(x, 8).unwrap()
}

fn layer_config(h: usize, epochs: usize, lr: f32, seed: u64) -> TrainConfig {
    TrainConfig::default()
        .n_hidden(h)
        .algorithm(Algorithm::Cd { k: 1 })
        .optimizer(Optimizer::Sgd { initial: 0.5, final_: 0.5, switch_epoch: 0 })
        .learning_rate(lr)
        .batch_size(20)
        .epochs(epochs)
        .l2(0.0)
        .seed(seed)
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Greedy training of a second layer from the tied start does not lower
/// the variational bound (exact enumeration); at the tied start the bound
/// equals the first RBM's exact log-likelihood.
#[test]
fn greedy_second_layer_does_not_lower_the_bound() {
    let data = toy_data(400, 3);
    let first = boltzmann::train::fit(layer_config(5, 60, 0.1, 1), &data).unwrap();
    let mut dbn = Dbn::new(vec![first.clone()]).unwrap();
    let lz1 = log_partition_exact(&first).unwrap();
    let ll1 = mean(&log_prob_exact(&dbn, &data, lz1).unwrap());
    let tied = Dbn::new(vec![first.clone(), tied_layer(&first).unwrap()]).unwrap();
    let b0 = mean(&lower_bound_exact(&tied, &data, log_partition_exact(tied.top()).unwrap()).unwrap());
    assert!((b0 - ll1).abs() < 1e-9, "tied bound {b0} vs log-likelihood {ll1}");
    let mut probs = dbn.clone();
    train_layer_on_top(&mut dbn, &layer_config(8, 40, 0.02, 2), true, Propagate::Samples, &data, 7, |_| {})
        .unwrap();
    let b1 = mean(&lower_bound_exact(&dbn, &data, log_partition_exact(dbn.top()).unwrap()).unwrap());
    println!("log-likelihood of layer 1 {ll1:.4}; bound: tied start {b0:.4}, after greedy training {b1:.4}");
    assert!(b1 > b0, "greedy training lowered the bound: {b0} → {b1}");
    // The same on posterior means (mean-field data) instead of samples.
    let cfg = layer_config(8, 40, 0.02, 2);
    train_layer_on_top(&mut probs, &cfg, true, Propagate::Probabilities, &data, 7, |_| {}).unwrap();
    let b2 = mean(&lower_bound_exact(&probs, &data, log_partition_exact(probs.top()).unwrap()).unwrap());
    println!("after greedy training on probabilities {b2:.4}");
    assert!(b2 > b0, "greedy training on probabilities lowered the bound: {b0} → {b2}");
}

/// Ancestral samples (long Gibbs runs in the top RBM, then one pass down)
/// follow the exact marginal p(v): chi-square over the 32 states at a fixed
/// seed, far below the 0.1 % critical value.
#[test]
fn ancestral_samples_match_exact_marginal() {
    let dbn = Dbn::new(vec![with_biases(5, 4, 1.2, 21), with_biases(4, 3, 1.2, 22)]).unwrap();
    let lz = log_partition_exact(dbn.top()).unwrap();
    let states = all_states(5);
    let p: Vec<f64> = log_prob_exact(&dbn, &states, lz).unwrap().iter().map(|x| x.exp()).collect();
    let n = 40_000usize;
    let s = dbn.sample(n, 200, 17).unwrap();
    let mut counts = [0usize; 32];
    for row in s.visible.chunks(5) {
        counts[row.iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>()] += 1;
    }
    let chi2: f64 = counts
        .iter()
        .zip(&p)
        .map(|(&c, &p)| {
            let e = p * n as f64;
            (c as f64 - e).powi(2) / e
        })
        .sum();
    println!("chi-square over 32 states (31 dof): {chi2:.1}");
    assert!(chi2 < 61.1, "chi-square {chi2} ≥ 61.1 (p < 0.001 at 31 dof)");
    assert!(s.visible_probs.iter().all(|&x| (0.0..=1.0).contains(&x)));
    // A wrong sampler is caught: samples of the first RBM alone do not fit.
    let alone = Dbn::new(vec![dbn.layers()[0].clone()]).unwrap().sample(n, 200, 17).unwrap();
    let mut c2 = [0usize; 32];
    for row in alone.visible.chunks(5) {
        c2[row.iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>()] += 1;
    }
    let chi2_alone: f64 =
        c2.iter().zip(&p).map(|(&c, &p)| (c as f64 - p * n as f64).powi(2) / (p * n as f64)).sum();
    assert!(chi2_alone > 200.0, "the first RBM's samples fit the DBN's marginal: {chi2_alone}");
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

/// Sampling, recognition, the sampled bound and greedy training give the
/// same bits for any thread count.
#[test]
fn dbn_results_are_thread_count_independent() {
    let data = toy_data(120, 5);
    for propagate in [Propagate::Samples, Propagate::Probabilities] {
        let config = DbnConfig::new(vec![layer_config(6, 3, 0.1, 1), layer_config(4, 3, 0.1, 2)])
            .tied_init(false)
            .seed(3)
            .propagate(propagate);
        let run = || {
            let dbn = train_greedy(&config, &data, |_, _| {}).unwrap();
            let s = dbn.sample(300, 20, 4).unwrap();
            let r = dbn.recognize(data.features(), 2, 6).unwrap();
            let b = lower_bound(&dbn, &data, 3.0, 7, 8).unwrap();
            (dbn, s, r, b)
        };
        let one = in_pool(1, run);
        for t in [2, 3] {
            assert_eq!(in_pool(t, run), one, "{propagate:?}: {t} threads");
        }
    }
}

#[cfg(feature = "io")]
#[test]
fn dbn_files_round_trip_and_reject_damage() {
    use boltzmann::io::{dbn_bytes, load_dbn, parse_dbn, parse_rbm, save_dbn};
    let dbn = Dbn::new(vec![with_biases(7, 5, 0.3, 1), with_biases(5, 3, 0.3, 2), with_biases(3, 6, 0.3, 3)])
        .unwrap();
    let dir = std::env::temp_dir().join(format!("boltzmann-dbn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dbn.safetensors");
    save_dbn(&dbn, &path).unwrap();
    assert_eq!(load_dbn(&path).unwrap(), dbn);
    let bytes = dbn_bytes(&dbn);
    assert!(parse_rbm(&bytes).is_err(), "a DBN file is not an RBM file");
    // Truncations anywhere: an error, never a panic.
    for cut in [0, 1, 8, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        assert!(parse_dbn(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // A missing layer: rename layer 2's tensors away.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains("layer2.weights"));
    let damaged: Vec<u8> = {
        let mut b = bytes.clone();
        let at = text.find("layer2.weights").unwrap();
        b[at + 5] = b'9'; // "layer9.weights"
        b
    };
    // Damaged bytes break the checksum.
    let err = parse_dbn(&damaged).unwrap_err().to_string();
    assert!(err.contains("corrupt"), "{err}");
    // The same change written as a consistent file: the missing layer is named.
    let mut st = boltzmann::io::safetensors::SafeTensors::from_bytes(&bytes, "dbn").unwrap();
    let t = st.tensors.remove("layer2.weights").unwrap();
    st.tensors.insert("layer9.weights".into(), t);
    let err = parse_dbn(&st.to_bytes()).unwrap_err().to_string();
    assert!(err.contains("layer2"), "{err}");
    // A layer count that disagrees with the sizes.
    let mut st = boltzmann::io::safetensors::SafeTensors::from_bytes(&bytes, "dbn").unwrap();
    assert_eq!(st.metadata.insert("layers".into(), "2".into()).as_deref(), Some("3"));
    assert!(parse_dbn(&st.to_bytes()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dbn_bad_input_is_an_error() {
    assert!(matches!(Dbn::new(vec![]), Err(Error::InvalidParam { .. })));
    let a = with_biases(6, 4, 0.1, 1);
    assert!(matches!(Dbn::new(vec![a.clone(), with_biases(5, 3, 0.1, 2)]), Err(Error::ShapeMismatch { .. })));
    let mut dbn = Dbn::new(vec![a.clone()]).unwrap();
    assert!(dbn.push(with_biases(3, 3, 0.1, 3)).is_err());
    dbn.push(with_biases(4, 3, 0.1, 3)).unwrap();
    assert!(dbn.transform(&[0.0; 6], 3).is_err());
    assert!(dbn.transform(&[0.0; 7], 1).is_err());
    assert!(dbn.transform(&[f32::NAN; 6], 1).is_err());
    assert!(dbn.sample(0, 5, 1).is_err());
    let data = Dataset::new(vec![1.0, 0.0, 1.0, 0.0, 1.0, 1.0], 6).unwrap();
    assert!(lower_bound(&dbn, &data, 1.0, 0, 1).is_err());
    assert!(lower_bound(&dbn, &data, f64::NAN, 5, 1).is_err());
    assert!(lower_bound(&dbn, &Dataset::new(vec![1.0; 5], 5).unwrap(), 1.0, 5, 1).is_err());
    assert!(matches!(
        lower_bound(&dbn, &Dataset::new(vec![0.5; 6], 6).unwrap(), 1.0, 5, 1),
        Err(Error::NotBinary { .. })
    ));
    let wide = Dbn::new(vec![with_biases(6, 21, 0.1, 1), with_biases(21, 2, 0.1, 2)]).unwrap();
    assert!(lower_bound_exact(&wide, &data, 1.0).is_err());
    assert!(log_prob_exact(&wide, &data, 1.0).is_err());
    let empty = DbnConfig::new(vec![]).tied_init(false).seed(0).propagate(Propagate::Samples);
    assert!(train_greedy(&empty, &data, |_, _| {}).is_err());
    let mismatched = DbnConfig::new(vec![layer_config(4, 1, 0.1, 1), layer_config(5, 1, 0.1, 2)])
        .tied_init(true)
        .seed(0)
        .propagate(Propagate::Samples);
    let d2 = Dataset::new([1.0f32, 0.0, 1.0, 0.0, 1.0, 1.0].repeat(20), 6).unwrap();
    let err = train_greedy(&mismatched, &d2, |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("tied"), "{err}");
}

/// The bound with a caller-supplied top term: with the exact `−F − log Z`
/// it is the plain bound (same samples); a wrong number of values is an
/// error; RAISE as the top term gives a lower value.
#[test]
fn bound_with_supplied_top_term() {
    use boltzmann::eval::dbn::lower_bound_with;
    let dbn = Dbn::new(vec![with_biases(6, 5, 0.7, 31), with_biases(5, 4, 0.7, 32)]).unwrap();
    let data = all_states(6);
    let lz = log_partition_exact(dbn.top()).unwrap();
    let plain = lower_bound(&dbn, &data, lz, 7, 3).unwrap();
    let top = dbn.top().clone();
    let with = lower_bound_with(&dbn, &data, 7, 3, |h| {
        Ok(h.chunks(5).map(|r| -top.free_energy(r).unwrap() - lz).collect())
    })
    .unwrap();
    // Equal up to the f32 free energy of the batch path against the f64 one.
    assert!(plain.per_example.iter().zip(&with.per_example).all(|(a, b)| (a - b).abs() < 1e-5));
    assert!(with.log_z_top.is_nan());
    assert!(lower_bound_with(&dbn, &data, 7, 3, |h| Ok(vec![0.0; h.len() / 5 - 1])).is_err());
    // RAISE as the top term: conservative against the exact bound (paired,
    // the same recognition samples).
    let base = vec![0.0f32; 5];
    let cfg = boltzmann::eval::RaiseConfig::default()
        .runs_per_example(1)
        .schedule(boltzmann::eval::linear_schedule(20))
        .seed(4);
    let cons = lower_bound_with(&dbn, &data, 7, 3, |h| {
        let hd = Dataset::new(h.to_vec(), 5)?;
        Ok(boltzmann::eval::raise(&top, &base, &hd, &cfg)?.log_probs)
    })
    .unwrap();
    println!("bound {:.4}, with RAISE top term {:.4}", plain.mean, cons.mean);
    assert!(cons.mean < plain.mean, "{} vs {}", cons.mean, plain.mean);
}

/// Up-down fine-tuning (contrastive wake-sleep) from a greedy start raises
/// the exact log-likelihood of the generative model and the exact bound
/// with the untied recognition weights (fixed seeds); at the tied start the
/// untied bound is the tied one; thread-count independent; bad input.
#[test]
fn up_down_fine_tuning_improves_the_model() {
    use boltzmann::eval::dbn::lower_bound_exact;
    use boltzmann::model::UntiedDbn;
    use boltzmann::train::dbn::{UpDownConfig, up_down};
    let data = toy_data(400, 11);
    let config = DbnConfig::new(vec![layer_config(6, 15, 0.1, 1), layer_config(8, 15, 0.1, 2)])
        .tied_init(false)
        .seed(4)
        .propagate(Propagate::Samples);
    let dbn = train_greedy(&config, &data, |_, _| {}).unwrap();
    let lz = log_partition_exact(dbn.top()).unwrap();
    let (ll0, b0) =
        (mean(&log_prob_exact(&dbn, &data, lz).unwrap()), mean(&lower_bound_exact(&dbn, &data, lz).unwrap()));
    let tied = UntiedDbn::from_tied(dbn.clone());
    assert!((mean(&lower_bound_exact(&tied, &data, lz).unwrap()) - b0).abs() < 1e-12);
    let ud = UpDownConfig::default().epochs(30).learning_rate(0.01).k(3).batch_size(20).seed(5);
    let tuned = in_pool(1, || up_down(&dbn, &data, &ud, |_| {}).unwrap());
    let g = tuned.generative();
    let lz1 = log_partition_exact(g.top()).unwrap();
    let ll1 = mean(&log_prob_exact(g, &data, lz1).unwrap());
    let b1 = mean(&lower_bound_exact(&tuned, &data, lz1).unwrap());
    println!("greedy: log p {ll0:.4}, bound {b0:.4}; up-down: log p {ll1:.4}, bound {b1:.4}");
    assert!(ll1 > ll0 && b1 > b0, "log p {ll0} → {ll1}, bound {b0} → {b1}");
    assert!(b1 <= ll1 + 1e-9);
    assert_eq!(in_pool(3, || up_down(&dbn, &data, &ud, |_| {}).unwrap()), tuned);
    #[cfg(feature = "io")]
    {
        use boltzmann::io::{dbn_bytes, parse_dbn, parse_untied_dbn, untied_dbn_bytes};
        let bytes = untied_dbn_bytes(&tuned);
        assert_eq!(parse_untied_dbn(&bytes).unwrap(), tuned);
        assert!(parse_dbn(&bytes).unwrap_err().to_string().contains("untied"));
        assert_eq!(parse_untied_dbn(&dbn_bytes(&dbn)).unwrap(), UntiedDbn::from_tied(dbn.clone()));
        for cut in [bytes.len() / 2, bytes.len() - 3] {
            assert!(parse_untied_dbn(&bytes[..cut]).is_err());
        }
    }
    // Bad input.
    let one = Dbn::new(vec![dbn.layers()[0].clone()]).unwrap();
    assert!(up_down(&one, &data, &ud, |_| {}).is_err());
    assert!(up_down(&dbn, &data, &(ud.clone()).learning_rate(0.0), |_| {}).is_err());
    assert!(up_down(&dbn, &Dataset::new(vec![1.0; 7], 7).unwrap(), &ud, |_| {}).is_err());
    assert!(UntiedDbn::new(dbn.clone(), vec![]).is_err());
    assert!(UntiedDbn::new(dbn.clone(), vec![with_biases(8, 5, 0.1, 1)]).is_err());
}
