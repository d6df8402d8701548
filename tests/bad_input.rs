//! Bad input gives a clear error value, never a panic or an abort.

use boltzmann::{Chains, Error, Isa, Rbm};

#[test]
fn chains_reject_bad_input() {
    let rbm = Rbm::random(8, 4, 0.1, 0.0, 1).unwrap();
    assert!(matches!(Chains::new(&rbm, 0, 1), Err(Error::InvalidParam { name: "batch", .. })));
    // Absurd chain counts: TooLarge, not an allocation abort.
    assert!(matches!(Chains::new(&rbm, usize::MAX / 4, 1), Err(Error::TooLarge { .. })));
    assert!(matches!(Chains::new(&rbm, 1 << 40, 1), Err(Error::TooLarge { .. })));
    // Starting states: wrong length, empty, non-binary, NaN.
    assert!(matches!(Chains::from_visible(&rbm, &[0.0; 7], 1), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(Chains::from_visible(&rbm, &[], 1), Err(Error::ShapeMismatch { .. })));
    let mut v = vec![0.0f32; 16];
    v[9] = 0.5;
    assert!(matches!(Chains::from_visible(&rbm, &v, 1), Err(Error::NotBinary { index: 9, .. })));
    v[9] = f32::NAN;
    assert!(matches!(Chains::from_visible(&rbm, &v, 1), Err(Error::NotBinary { index: 9, .. })));
    v[9] = 1.0;
    let mut c = Chains::from_visible(&rbm, &v, 1).unwrap();
    assert_eq!(c.batch(), 2);
    assert_eq!(c.visible(), &v[..]);
    // A model of other sizes.
    let other = Rbm::random(8, 5, 0.1, 0.0, 1).unwrap();
    assert!(matches!(c.sweep(&other, 1), Err(Error::ShapeMismatch { .. })));
    let other = Rbm::random(9, 4, 0.1, 0.0, 1).unwrap();
    assert!(c.sweep(&other, 1).is_err());
    // k = 0 is a no-op.
    c.sweep(&rbm, 0).unwrap();
    assert_eq!(c.visible(), &v[..]);
}

#[test]
fn error_messages_are_readable() {
    let e = Rbm::new(2, 2, vec![0.0; 3], vec![0.0; 2], vec![0.0; 2]).unwrap_err();
    assert_eq!(e.to_string(), "shape mismatch for weights (n_visible × n_hidden): expected 4, got 3");
    let e = Chains::new(&Rbm::zeros(4, 4).unwrap(), 1 << 40, 0).unwrap_err();
    assert!(e.to_string().contains("would need"), "{e}");
    assert!(Isa::from_name("sse9").is_none());
    assert_eq!(Isa::from_name("AVX512"), Some(Isa::Avx512));
    assert!(Isa::Scalar.check().is_ok());
}

/// `BOLTZMANN_FORCE_ISA` is honoured (CI runs this file once per path).
#[test]
fn forced_isa_is_honoured() {
    if let Ok(name) = std::env::var("BOLTZMANN_FORCE_ISA") {
        let isa = Isa::from_name(&name).expect("a known ISA name");
        if isa.is_available() {
            assert_eq!(boltzmann::active_isa(), isa);
            let rbm = Rbm::random(5, 3, 0.5, 0.0, 0).unwrap();
            assert_eq!(Chains::new(&rbm, 2, 0).unwrap().isa(), isa);
        }
    }
}

/// `sampler::gibbs::sweep` on borrowed buffers checks what `Chains` checks.
#[test]
fn sweep_on_borrowed_buffers_rejects_bad_input() {
    use boltzmann::sampler::gibbs;
    let rbm = Rbm::random(6, 3, 0.2, 0.0, 1).unwrap();
    let mut s = boltzmann::rng::chain_streams(1, 2).unwrap();
    let (mut v, mut h) = (vec![0.0f32; 12], vec![0.0f32; 6]);
    assert!(matches!(gibbs::sweep(&rbm, &mut v[..11], &mut h, &mut s, 1), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(gibbs::sweep(&rbm, &mut v, &mut h[..5], &mut s, 1), Err(Error::ShapeMismatch { .. })));
    v[4] = 0.5;
    assert!(matches!(gibbs::sweep(&rbm, &mut v, &mut h, &mut s, 1), Err(Error::NotBinary { index: 4, .. })));
    v[4] = 1.0;
    let mut zero = vec![[0u64; 4]; 2];
    assert!(matches!(gibbs::sweep(&rbm, &mut v, &mut h, &mut zero, 1), Err(Error::InvalidParam { .. })));
    // Nothing was changed by the refused calls; k = 0 changes nothing either.
    let before = (v.clone(), h.clone(), s.clone());
    gibbs::sweep(&rbm, &mut v, &mut h, &mut s, 0).unwrap();
    assert_eq!((v.clone(), h.clone(), s.clone()), before);
    gibbs::sweep(&rbm, &mut v, &mut h, &mut s, 3).unwrap();
    assert_ne!(s, before.2, "streams advance");
}

/// `Binarization` parses the command line's spellings and refuses the rest;
/// `Dataset::binarize` follows it; `Dataset::standardize` gives mean 0 and
/// standard deviation 1 per channel and refuses shapes and constant channels.
#[test]
fn binarization_and_standardization() {
    use boltzmann::data::{Binarization, Dataset};
    let ok = [("threshold", Binarization::Threshold(0.5)), ("threshold:-1.5", Binarization::Threshold(-1.5))];
    for (s, want) in ok {
        assert_eq!(s.parse::<Binarization>().unwrap(), want, "{s}");
    }
    assert_eq!("stochastic".parse::<Binarization>().unwrap(), Binarization::Stochastic);
    for bad in
        ["", "Threshold", "threshold:", "threshold:x", "threshold:nan", "threshold:inf", "stochastic:1"]
    {
        let e = bad.parse::<Binarization>().unwrap_err().to_string();
        assert!(e.contains("threshold:T"), "{bad:?}: {e}");
    }
    let d = Dataset::new(vec![0.2, 0.9, 0.6, 0.1, 0.5, 0.3], 2).unwrap();
    let t = d.binarize(Binarization::Threshold(0.25), 0).unwrap();
    assert_eq!(t.features(), &[0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    assert_eq!(d.binarize(Binarization::Stochastic, 9).unwrap(), d.binarize_stochastic(9).unwrap());
    assert!(Dataset::new(vec![2.0, 0.0], 2).unwrap().binarize(Binarization::Stochastic, 1).is_err());

    // 3 examples of 2 channels × 2 pixels (feature i is channel i % 2).
    let x: Vec<f32> = vec![1.0, 5.0, 2.0, 7.0, 3.0, 9.0, 4.0, 11.0, 5.0, 13.0, 6.0, 15.0];
    let (z, stats) = Dataset::new(x, 4).unwrap().standardize(2).unwrap();
    for c in 0..2 {
        let v: Vec<f64> = z.features().iter().skip(c).step_by(2).map(|&v| v as f64).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "channel {c}: mean {mean}, var {var}");
    }
    assert_eq!(stats[0].0, 3.5);
    assert_eq!(stats[1].0, 10.0);
    let d4 = Dataset::new(vec![1.0, 2.0, 3.0, 4.0], 4).unwrap();
    assert!(d4.standardize(0).is_err());
    assert!(d4.standardize(3).is_err());
    let e = Dataset::new(vec![1.0, 2.0, 1.0, 3.0], 2).unwrap().standardize(2).unwrap_err().to_string();
    assert!(e.contains("channel 0") && e.contains("constant"), "{e}");
}
