//! Statistical correctness of block Gibbs: on tiny RBMs whose visible
//! distribution is computed exactly by enumeration, the empirical
//! distribution of many independent chains must pass a chi-square
//! goodness-of-fit test at α = 0.001. Seeds are fixed, so the outcome is
//! deterministic; the threshold comes from the chi-square distribution for
//! the number of cells and samples, not from tuning.
#![allow(clippy::needless_range_loop)] // index loops mirror the math

use boltzmann::{Chains, Isa, Rbm, reference};

include!("common/chi2.rs");

/// `n` independent chains, each sampled once after `burn` sweeps.
fn sample_counts(rbm: &Rbm, n: usize, burn: usize, seed: u64, isa: Isa) -> Vec<u64> {
    let mut chains = Chains::new(rbm, n, seed).unwrap();
    chains.set_isa(isa).unwrap();
    chains.sweep(rbm, burn).unwrap();
    let d = rbm.n_visible();
    let mut counts = vec![0u64; 1 << d];
    for v in chains.visible().chunks_exact(d) {
        counts[reference::state_index(v)] += 1;
    }
    counts
}

fn check_model(rbm: &Rbm, name: &str, n: usize, burn: usize, seed: u64, isas: &[Isa]) {
    let (_, p) = reference::exact_visible_distribution(rbm);
    for &isa in isas {
        let counts = sample_counts(rbm, n, burn, seed, isa);
        let (stat, df) = chi_square(&counts, &p, n as u64);
        let crit = chi2_critical_001(df);
        let tv: f64 =
            counts.iter().zip(&p).map(|(&c, &q)| (c as f64 / n as f64 - q).abs()).sum::<f64>() / 2.0;
        println!("{name}/{isa}: chi2 = {stat:.1} on {df} df (critical {crit:.1}), TV = {tv:.4}");
        assert!(stat < crit, "{name}/{isa}: chi2 {stat:.1} ≥ {crit:.1} on {df} df");
    }
}

#[test]
fn weak_coupling_10x6() {
    let rbm = Rbm::random(10, 6, 0.3, 0.3, 11).unwrap();
    check_model(&rbm, "weak", 40_000, 50, 1, &Isa::available());
}

#[test]
fn moderate_coupling_10x6() {
    let rbm = Rbm::random(10, 6, 1.0, 0.5, 12).unwrap();
    check_model(&rbm, "moderate", 40_000, 100, 2, &Isa::available());
}

#[test]
fn strong_coupling_10x6() {
    // Weights N(0, 2.5²): a rugged, peaked distribution; chains need many
    // sweeps to forget the uniform start (at 2000 sweeps chi2 was 61.7 on
    // 37 df, at 8000 it is 45.2). Costly, so on the default path and the
    // scalar fallback only; the other models cover every path.
    let rbm = Rbm::random(10, 6, 2.5, 1.0, 13).unwrap();
    let mut isas = vec![Isa::Scalar];
    if boltzmann::active_isa() != Isa::Scalar {
        isas.push(boltzmann::active_isa());
    }
    check_model(&rbm, "strong", 40_000, 8000, 3, &isas);
}

#[test]
fn odd_sizes_12x7() {
    let rbm = Rbm::random(12, 7, 0.8, 0.8, 14).unwrap();
    check_model(&rbm, "12x7", 60_000, 200, 4, &Isa::available());
}

/// The test has power: samples from one model are rejected against the
/// exact distribution of a slightly different model.
#[test]
fn chi_square_rejects_wrong_model() {
    let rbm = Rbm::random(10, 6, 1.0, 0.5, 12).unwrap();
    let (w, b, mut c) = rbm.clone().into_parts();
    c[0] += 0.3;
    let other = Rbm::new(10, 6, w, b, c).unwrap();
    let (_, p_other) = reference::exact_visible_distribution(&other);
    let counts = sample_counts(&rbm, 40_000, 100, 2, boltzmann::active_isa());
    let (stat, df) = chi_square(&counts, &p_other, 40_000);
    assert!(stat > chi2_critical_001(df), "a wrong model passed: chi2 {stat:.1} on {df} df");
}

/// One fast sweep equals the naive f64 sweep from the same states and
/// streams (decisions can only differ within a few ulp of the boundary).
#[test]
fn sweep_equals_reference_sweep() {
    for (d, h) in [(10usize, 6usize), (17, 33), (65, 7)] {
        let rbm = Rbm::random(d, h, 1.0, 1.0, d as u64).unwrap();
        for isa in Isa::available() {
            let mut chains = Chains::new(&rbm, 37, 5).unwrap();
            chains.set_isa(isa).unwrap();
            let v0 = chains.visible().to_vec();
            let s0 = chains.streams().to_vec();
            chains.sweep(&rbm, 1).unwrap();
            let mut differ = 0;
            for c in 0..37 {
                let mut u = reference::Uniforms::new(s0[c]);
                let (v, hh) = reference::gibbs_sweep(&rbm, &v0[c * d..(c + 1) * d], &mut u);
                differ += v.iter().zip(&chains.visible()[c * d..(c + 1) * d]).filter(|(a, b)| a != b).count();
                differ += hh.iter().zip(&chains.hidden()[c * h..(c + 1) * h]).filter(|(a, b)| a != b).count();
                assert_eq!(u.state(), chains.streams()[c], "stream consumption, chain {c}");
            }
            assert_eq!(differ, 0, "{d}x{h}/{isa}: {differ} units differ from the reference sweep");
        }
    }
}

/// A model above the no-packing size whose chains are sparse (negative
/// biases) or dense (all ones): each chain's products go through the binary
/// kernel or the dense one by its own density, in the same blocks, and the
/// samples still equal the naive f64 sweep's.
#[test]
fn binary_product_sweep_equals_reference_sweep() {
    let (d, h, b) = (150usize, 70usize, 600usize); // D·H = 10,500: matrixmultiply / binary path
    let w = Rbm::random(d, h, 0.3, 0.0, 77).unwrap().weights().to_vec();
    let rbm = Rbm::new(d, h, w, vec![-2.5; d], vec![-1.5; h]).unwrap();
    let mut v0 = vec![0.0f32; b * d];
    for c in 0..b {
        for i in 0..d {
            v0[c * d + i] = if c % 3 == 0 { 1.0 } else { ((i * 7 + c) % 10 == 0) as u8 as f32 };
        }
    }
    for isa in Isa::available() {
        let mut chains = Chains::new(&rbm, b, 5).unwrap();
        chains.set_isa(isa).unwrap();
        chains.set_visible(&v0).unwrap();
        let s0 = chains.streams().to_vec();
        chains.sweep(&rbm, 1).unwrap(); // 600 chain-sweeps: the weights are packed
        let mut differ = 0;
        for c in 0..b {
            let mut u = reference::Uniforms::new(s0[c]);
            let (v, hh) = reference::gibbs_sweep(&rbm, &v0[c * d..(c + 1) * d], &mut u);
            differ += v.iter().zip(&chains.visible()[c * d..(c + 1) * d]).filter(|(a, b)| a != b).count();
            differ += hh.iter().zip(&chains.hidden()[c * h..(c + 1) * h]).filter(|(a, b)| a != b).count();
        }
        assert_eq!(differ, 0, "{isa}: {differ} units differ from the reference sweep");
        let dens = chains.visible().iter().sum::<f32>() / (b * d) as f32;
        assert!(dens < 0.3, "the test needs sparse states, got density {dens}");
    }
}
