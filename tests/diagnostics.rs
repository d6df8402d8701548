//! Chain diagnostics against chains whose autocorrelation is known exactly:
//! AR(1) traces, and a tiny RBM's block-Gibbs chain whose transition matrix
//! is enumerated.

use boltzmann::eval::diagnostics::{autocorrelation, diagnose, integrated_autocorr_time, split_rhat};
use boltzmann::{Chains, Rbm, reference};

/// A deterministic AR(1) trace `x_t = φ x_{t−1} + ε_t`, ε uniform.
fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut x = vec![0.0; n];
    let mut prev = 0.0;
    for t in 0..n + 1000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let e = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        prev = phi * prev + e;
        if t >= 1000 {
            x[t - 1000] = prev;
        }
    }
    x
}

#[test]
fn ar1_autocorrelation_time_matches_theory() {
    for (phi, seed) in [(0.0, 1), (0.5, 2), (0.9, 3), (0.97, 4), (-0.5, 5)] {
        let x = ar1(phi, 400_000, seed);
        let tau = integrated_autocorr_time(&x).unwrap();
        let exact = (1.0 + phi) / (1.0 - phi);
        // Negative φ: Geyer's sequence truncates at the first negative pair
        // sum, which is where the exact τ < 1 is reached too.
        assert!((tau - exact).abs() < 0.06 * exact.max(1.0), "φ {phi}: τ {tau:.3} vs {exact:.3}");
        let rho = autocorrelation(&x, 3).unwrap();
        assert!((rho[1] - phi).abs() < 0.01, "ρ₁ {} vs {phi}", rho[1]);
    }
}

#[test]
fn split_rhat_separates_agreeing_from_disagreeing_chains() {
    let chains: Vec<Vec<f64>> = (0..8).map(|s| ar1(0.9, 20_000, 10 + s)).collect();
    let refs: Vec<&[f64]> = chains.iter().map(|c| c.as_slice()).collect();
    let r = split_rhat(&refs).unwrap();
    assert!(r < 1.01, "{r}");
    // One chain shifted by 2 stationary sd: not mixed.
    let mut shifted = chains.clone();
    let sd = (1.0 / 12.0 / (1.0 - 0.81f64)).sqrt();
    shifted[0].iter_mut().for_each(|x| *x += 2.0 * sd);
    let refs: Vec<&[f64]> = shifted.iter().map(|c| c.as_slice()).collect();
    assert!(split_rhat(&refs).unwrap() > 1.05);
    // A trend within each chain: the halves disagree.
    let trend: Vec<Vec<f64>> =
        chains.iter().map(|c| c.iter().enumerate().map(|(t, x)| x + t as f64 * 1e-3).collect()).collect();
    let refs: Vec<&[f64]> = trend.iter().map(|c| c.as_slice()).collect();
    assert!(split_rhat(&refs).unwrap() > 1.1);
}

/// Exact integrated autocorrelation time of `|v|` (units on) along the visible chain
/// of block Gibbs (`P(v→v′) = Σ_h p(h|v) p(v′|h)`), by powers of `P`.
fn exact_tau(rbm: &Rbm) -> f64 {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let (ns, nh) = (1usize << d, 1usize << h);
    let bits = |i: usize, n: usize| (0..n).map(|k| ((i >> k) & 1) as f32).collect::<Vec<f32>>();
    let states: Vec<Vec<f32>> = (0..ns).map(|i| bits(i, d)).collect();
    let hs: Vec<Vec<f32>> = (0..nh).map(|i| bits(i, h)).collect();
    let mut ph = vec![vec![0.0f64; nh]; ns]; // p(h|v)
    let mut pv = vec![vec![0.0f64; ns]; nh]; // p(v|h)
    let (w, b, c) = (rbm.weights(), rbm.visible_bias(), rbm.hidden_bias());
    for (vi, v) in states.iter().enumerate() {
        for (hi, hh) in hs.iter().enumerate() {
            let mut p = 1.0;
            for j in 0..h {
                let a = c[j] as f64 + (0..d).map(|i| v[i] as f64 * w[i * h + j] as f64).sum::<f64>();
                let s = reference::sigmoid(a);
                p *= if hh[j] == 1.0 { s } else { 1.0 - s };
            }
            ph[vi][hi] = p;
        }
    }
    for (hi, hh) in hs.iter().enumerate() {
        for (vi, v) in states.iter().enumerate() {
            let mut p = 1.0;
            for i in 0..d {
                let a = b[i] as f64 + (0..h).map(|j| hh[j] as f64 * w[i * h + j] as f64).sum::<f64>();
                let s = reference::sigmoid(a);
                p *= if v[i] == 1.0 { s } else { 1.0 - s };
            }
            pv[hi][vi] = p;
        }
    }
    let p: Vec<Vec<f64>> =
        (0..ns).map(|a| (0..ns).map(|z| (0..nh).map(|k| ph[a][k] * pv[k][z]).sum()).collect()).collect();
    let (_, pi) = reference::exact_visible_distribution(rbm);
    let f: Vec<f64> = states.iter().map(|v| v.iter().map(|&x| x as f64).sum()).collect();
    let mean: f64 = f.iter().zip(&pi).map(|(a, b)| a * b).sum();
    let fc: Vec<f64> = f.iter().map(|x| x - mean).collect();
    let var: f64 = fc.iter().zip(&pi).map(|(a, b)| a * a * b).sum();
    // g_k = P^k f̄, ρ_k = Σ π f̄ g_k / var.
    let mut g = fc.clone();
    let mut tau = 1.0;
    for _ in 0..2000 {
        g = (0..ns).map(|a| (0..ns).map(|z| p[a][z] * g[z]).sum()).collect();
        tau += 2.0 * pi.iter().zip(&fc).zip(&g).map(|((p, a), b)| p * a * b).sum::<f64>() / var;
    }
    tau
}

#[test]
fn tiny_rbm_autocorrelation_time_matches_the_exact_transition_matrix() {
    // Two modes (h = 0 with few units on, h = 1 with most on): a slowly
    // mixing chain.
    let rbm = Rbm::new(
        5,
        2,
        vec![2.5, 0.3, 2.5, -0.2, 2.5, 0.1, 2.5, 0.4, 2.5, -0.3],
        vec![-1.25; 5],
        vec![-6.25, 0.2],
    )
    .unwrap();
    let exact = exact_tau(&rbm);
    assert!(exact > 3.0, "want a slow chain, exact τ {exact}");
    let (n, len) = (200, 4000);
    let mut chains = Chains::new(&rbm, n, 4).unwrap();
    chains.sweep(&rbm, 200).unwrap();
    let mut traces = vec![0.0f64; n * len];
    for t in 0..len {
        chains.sweep(&rbm, 1).unwrap();
        for (c, v) in chains.visible().chunks_exact(5).enumerate() {
            traces[c * len + t] = v.iter().map(|&x| x as f64).sum();
        }
    }
    let dg = diagnose(&traces, n, len).unwrap();
    assert!((dg.iat_mean - exact).abs() < 0.1 * exact, "estimated τ {:.3} vs exact {exact:.3}", dg.iat_mean);
    assert!(dg.split_rhat < 1.01, "{}", dg.split_rhat);
    assert!((dg.ess - (n * len) as f64 / exact).abs() < 0.15 * (n * len) as f64 / exact);
}

#[test]
fn bad_traces_are_refused() {
    assert!(integrated_autocorr_time(&[1.0, 2.0, 3.0]).is_err());
    assert!(integrated_autocorr_time(&[1.0, f64::NAN, 3.0, 4.0]).is_err());
    assert!(split_rhat(&[&[1.0, 2.0, 3.0, 4.0]]).is_err());
    assert!(split_rhat(&[&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0]]).is_err());
    assert!(diagnose(&[0.0; 12], 1, 12).is_err());
    assert!(diagnose(&[0.0; 12], 4, 4).is_err());
    assert!(diagnose(&[0.0; 6], 2, 3).is_err());
    assert!(autocorrelation(&[1.0, 2.0, 3.0, 4.0], 4).is_err());
    // Constant traces are legal: τ = 1, R-hat 1 when equal.
    assert_eq!(integrated_autocorr_time(&[2.0; 10]).unwrap(), 1.0);
    assert_eq!(split_rhat(&[&[2.0; 10], &[2.0; 10]]).unwrap(), 1.0);
}
