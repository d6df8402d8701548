//! `Rbm`: energies, free energies and conditionals against brute force, and
//! parameter validation.
#![allow(clippy::needless_range_loop)] // index loops mirror the math

use boltzmann::{Error, Rbm, reference};

fn bits(s: usize, n: usize) -> Vec<f32> {
    (0..n).map(|i| ((s >> i) & 1) as f32).collect()
}

fn small(scale: f32, seed: u64) -> Rbm {
    Rbm::random(7, 5, scale, scale, seed).unwrap()
}

#[test]
fn free_energy_equals_log_sum_over_hidden() {
    for (scale, seed) in [(0.1, 1), (1.0, 2), (4.0, 3)] {
        let rbm = small(scale, seed);
        for s in 0..(1 << 7) {
            let v = bits(s, 7);
            // F(v) = −log Σ_h exp(−E(v, h)).
            let es: Vec<f64> = (0..(1 << 5)).map(|t| -rbm.energy(&v, &bits(t, 5)).unwrap()).collect();
            let m = es.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let brute = -(m + es.iter().map(|e| (e - m).exp()).sum::<f64>().ln());
            let f = rbm.free_energy(&v).unwrap();
            assert!((f - brute).abs() < 1e-9 * (1.0 + brute.abs()), "scale {scale}: {f} vs {brute}");
        }
    }
}

#[test]
fn free_energy_batch_matches_scalar() {
    let rbm = Rbm::random(65, 33, 0.5, 0.5, 4).unwrap();
    let vs: Vec<f32> = (0..65 * 9).map(|i| ((i * 7919) % 3 == 0) as u8 as f32).collect();
    let mut out = vec![0.0f64; 9];
    rbm.free_energy_batch(&vs, &mut out).unwrap();
    for r in 0..9 {
        let f = rbm.free_energy(&vs[r * 65..(r + 1) * 65]).unwrap();
        assert!((out[r] - f).abs() < 1e-4 * (1.0 + f.abs()), "{} vs {f}", out[r]);
    }
    assert!(rbm.free_energy_batch(&vs[..64], &mut out).is_err());
}

#[test]
fn conditionals_match_brute_force() {
    let rbm = small(1.5, 9);
    // p(h_j = 1 | v) by summing exp(−E) over all h.
    let mut probs = vec![0.0f32; 5];
    for s in [0usize, 1, 37, 127] {
        let v = bits(s, 7);
        rbm.hidden_probs(&v, &mut probs).unwrap();
        let ws: Vec<f64> = (0..32).map(|t| (-rbm.energy(&v, &bits(t, 5)).unwrap()).exp()).collect();
        let z: f64 = ws.iter().sum();
        for j in 0..5 {
            let p: f64 = (0..32).filter(|t| (t >> j) & 1 == 1).map(|t| ws[t]).sum::<f64>() / z;
            assert!((probs[j] as f64 - p).abs() < 1e-6, "h{j}: {} vs {p}", probs[j]);
        }
    }
    let mut pv = vec![0.0f32; 7];
    for t in [0usize, 5, 31] {
        let h = bits(t, 5);
        rbm.visible_probs(&h, &mut pv).unwrap();
        let ws: Vec<f64> = (0..128).map(|s| (-rbm.energy(&bits(s, 7), &h).unwrap()).exp()).collect();
        let z: f64 = ws.iter().sum();
        for i in 0..7 {
            let p: f64 = (0..128).filter(|s| (s >> i) & 1 == 1).map(|s| ws[s]).sum::<f64>() / z;
            assert!((pv[i] as f64 - p).abs() < 1e-6, "v{i}: {} vs {p}", pv[i]);
        }
    }
}

#[test]
fn exact_distribution_sums_to_one() {
    let rbm = small(1.0, 5);
    let (log_z, p) = reference::exact_visible_distribution(&rbm);
    assert!(log_z.is_finite());
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn validation_errors() {
    assert!(matches!(Rbm::new(0, 3, vec![], vec![], vec![0.0; 3]), Err(Error::InvalidParam { .. })));
    assert!(matches!(Rbm::new(2, 0, vec![], vec![0.0; 2], vec![]), Err(Error::InvalidParam { .. })));
    assert!(matches!(
        Rbm::new(2, 2, vec![0.0; 3], vec![0.0; 2], vec![0.0; 2]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Rbm::new(2, 2, vec![0.0; 4], vec![0.0; 3], vec![0.0; 2]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Rbm::new(2, 2, vec![0.0; 4], vec![0.0; 2], vec![0.0; 1]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Rbm::new(2, 2, vec![0.0, f32::NAN, 0.0, 0.0], vec![0.0; 2], vec![0.0; 2]),
        Err(Error::NonFinite { what: "weights", index: 1 })
    ));
    assert!(matches!(
        Rbm::new(2, 2, vec![0.0; 4], vec![f32::INFINITY, 0.0], vec![0.0; 2]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        Rbm::new(2, 2, vec![0.0; 4], vec![0.0; 2], vec![0.0, f32::NEG_INFINITY]),
        Err(Error::NonFinite { .. })
    ));
    // Finite weights whose sum overflows f32: could produce inf − inf = NaN.
    assert!(matches!(
        Rbm::new(2, 1, vec![f32::MAX, f32::MAX], vec![0.0; 2], vec![0.0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(Rbm::random(3, 3, -1.0, 0.0, 0).is_err());
    assert!(Rbm::random(3, 3, f32::NAN, 0.0, 0).is_err());
    assert!(Rbm::random(3, 3, 0.1, f32::INFINITY, 0).is_err());
    // Absurd sizes: an error, not an abort.
    assert!(matches!(Rbm::zeros(1 << 31, 1 << 31), Err(Error::TooLarge { .. })));
    assert!(Rbm::zeros(usize::MAX, 2).is_err());
}

#[test]
fn input_errors() {
    let rbm = small(1.0, 1);
    assert!(rbm.energy(&[0.0; 6], &[0.0; 5]).is_err());
    assert!(rbm.energy(&[0.0; 7], &[0.0; 4]).is_err());
    assert!(matches!(rbm.free_energy(&[f32::NAN; 7]), Err(Error::NonFinite { .. })));
    let mut out = vec![0.0; 5];
    assert!(rbm.hidden_probs(&[0.0; 8], &mut out).is_err());
    assert!(rbm.hidden_probs(&[0.0; 14], &mut out).is_err());
    let mut out = vec![0.0; 7];
    assert!(rbm.visible_probs(&[f32::NAN; 5], &mut out).is_err());
}
