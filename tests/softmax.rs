//! Softmax regression: it separates separable data, learns a noisy
//! three-class problem far better than chance, is thread-count
//! independent, and rejects bad input.

use boltzmann::data::Dataset;
use boltzmann::model::SoftmaxRegression;
use boltzmann::train::softmax::{SoftmaxConfig, fit_softmax};

fn blobs(n: usize, noise: f32, seed: u64) -> (Dataset, Vec<u8>) {
    let centres = [[2.0f32, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]];
    let mut g = seed;
    let mut next = || {
        g = g.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((g >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let k = i % 3;
        for c in centres[k] {
            x.push(c + noise * next());
        }
        y.push(k as u8);
    }
    (Dataset::new(x, 3).unwrap().with_labels(y.clone()).unwrap(), y)
}

#[test]
fn separable_data_is_separated_and_noisy_data_learned() {
    let (d, y) = blobs(300, 0.5, 1);
    let cfg = SoftmaxConfig::default().n_classes(3).epochs(20).batch_size(16);
    let m = fit_softmax(&d, &cfg).unwrap();
    assert_eq!(m.error_rate(d.features(), &y).unwrap(), 0.0);
    let p = m.predict_proba(d.features()).unwrap();
    assert!(p.chunks(3).all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-5));
    // Overlapping classes: as good as the nearest-centre rule (the best
    // linear rule for these symmetric blobs), within 2 points.
    let (d, y) = blobs(900, 2.0, 2);
    let m = fit_softmax(&d, &cfg).unwrap();
    let err = m.error_rate(d.features(), &y).unwrap();
    let nearest = d
        .features()
        .chunks(3)
        .zip(&y)
        .filter(|(x, k)| {
            let best = (0..3).max_by(|&a, &b| x[a].partial_cmp(&x[b]).unwrap()).unwrap();
            best != **k as usize
        })
        .count() as f64
        / y.len() as f64;
    println!("softmax error {err:.3}, nearest centre {nearest:.3}");
    assert!(nearest > 0.05 && err <= nearest + 0.02, "softmax {err} vs nearest centre {nearest}");
    // Zero parameters predict uniformly, so training must have moved them.
    let z = SoftmaxRegression::zeros(3, 3).unwrap();
    assert!(z.predict_proba(&[1.0, 2.0, 3.0]).unwrap().iter().all(|&p| (p - 1.0 / 3.0).abs() < 1e-6));
}

#[test]
fn softmax_fit_is_thread_count_independent() {
    let (d, _) = blobs(500, 1.5, 3);
    let cfg = SoftmaxConfig::default().n_classes(3).epochs(5).batch_size(37);
    let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
    let one = pool(1).install(|| fit_softmax(&d, &cfg).unwrap());
    let three = pool(3).install(|| fit_softmax(&d, &cfg).unwrap());
    assert_eq!(one, three);
}

#[test]
fn softmax_bad_input() {
    assert!(SoftmaxRegression::new(0, 3, vec![], vec![0.0; 3]).is_err());
    assert!(SoftmaxRegression::new(2, 1, vec![0.0; 2], vec![0.0]).is_err());
    assert!(SoftmaxRegression::new(2, 2, vec![0.0; 3], vec![0.0; 2]).is_err());
    assert!(SoftmaxRegression::new(2, 2, vec![0.0, f32::NAN, 0.0, 0.0], vec![0.0; 2]).is_err());
    let m = SoftmaxRegression::zeros(2, 2).unwrap();
    assert!(m.predict(&[1.0, 2.0, 3.0]).is_err());
    assert!(m.predict(&[1.0, f32::INFINITY]).is_err());
    assert!(m.error_rate(&[1.0, 2.0], &[0, 1]).is_err());
    let (d, _) = blobs(30, 0.5, 4);
    let unlabelled = Dataset::new(d.features().to_vec(), 3).unwrap();
    let ok = SoftmaxConfig::default().n_classes(3);
    assert!(fit_softmax(&unlabelled, &ok).unwrap_err().to_string().contains("labels"));
    let two = (ok.clone()).n_classes(2);
    assert!(fit_softmax(&d, &two).unwrap_err().to_string().contains("not below"));
    for bad in [
        (ok.clone()).learning_rate(0.0),
        (ok.clone()).learning_rate(f32::NAN),
        (ok.clone()).momentum(1.0),
        (ok.clone()).l2(-1.0),
        (ok.clone()).epochs(0),
        (ok.clone()).batch_size(0),
    ] {
        assert!(fit_softmax(&d, &bad).is_err(), "{bad:?}");
    }
    // A learning rate that makes the fit diverge is reported, not returned.
    let (big, _) = blobs(60, 0.5, 5);
    let scaled: Vec<f32> = big.features().iter().map(|v| v * 1e18).collect();
    let big = Dataset::new(scaled, 3).unwrap().with_labels(big.labels().unwrap().to_vec()).unwrap();
    let wild = ok.learning_rate(1e18);
    assert!(fit_softmax(&big, &wild).is_err());
}
