//! Continuous energies and Langevin-type samplers: gradients against f64
//! finite differences, MALA exact and ULA biased on Gaussians, the
//! Song & Ermon mixture test for annealed Langevin, the Gaussian–Bernoulli
//! RBM's Gibbs and MALA samples against its exact moments, non-finite
//! chains, thread-count independence and bad input.

use boltzmann::energy::{Energy, Gaussian, GaussianMixture, TrainableEnergy, Workspace};
use boltzmann::model::GaussianRbm;
use boltzmann::sampler::langevin::{
    AnnealedConfig, LangevinChains, LangevinConfig, MalaConfig, geometric_schedule,
};
use boltzmann::{Error, Result};

fn softplus(x: f64) -> f64 {
    if x > 30.0 { x } else { x.exp().ln_1p() }
}

/// The GB-RBM free energy of one row, in f64 from the f32 parameters.
fn gb_free_energy(m: &GaussianRbm, v: &[f64]) -> f64 {
    let (d, h) = (m.n_visible(), m.n_hidden());
    let (w, b, c, s) = (m.weights(), m.visible_bias(), m.hidden_bias(), m.sigma());
    let quad: f64 = (0..d).map(|i| (v[i] - b[i] as f64).powi(2) / (2.0 * (s[i] as f64).powi(2))).sum();
    let soft: f64 = (0..h)
        .map(|j| {
            softplus(c[j] as f64 + (0..d).map(|i| v[i] / s[i] as f64 * w[i * h + j] as f64).sum::<f64>())
        })
        .sum();
    quad - soft
}

fn gb_model(sigma_one: bool) -> GaussianRbm {
    let (w, b, _, _) = GaussianRbm::random(5, 4, 0.7, 1.0, 3).unwrap().into_parts();
    let b: Vec<f32> = b.iter().enumerate().map(|(i, _)| 0.3 * i as f32 - 0.5).collect();
    let c: Vec<f32> = (0..4).map(|j| 0.2 - 0.15 * j as f32).collect();
    let s = if sigma_one { vec![1.0; 5] } else { vec![0.5, 1.0, 1.5, 0.8, 2.0] };
    GaussianRbm::new(5, 4, w, b, c, s).unwrap()
}

/// Central differences of `f` at `x` (f64), step `h`.
fn fd(f: &dyn Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            a[i] += h;
            b[i] -= h;
            (f(&a) - f(&b)) / (2.0 * h)
        })
        .collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: {g} vs {w}");
    }
}

/// ∇ₓE of every energy against f64 finite differences of its f64 formula,
/// and the energies themselves.
#[test]
fn energy_gradients_match_finite_differences() {
    let x: Vec<f32> = vec![0.3, -1.2, 0.8, 2.0, -0.4, 1.1, 0.0, -2.5, 0.7, 0.2];
    let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut ws = Workspace::default();
    for unit in [true, false] {
        let m = gb_model(unit);
        let (mut e, mut g) = (vec![0.0f64; 2], vec![0.0f32; 10]);
        m.energy_grad(&x, &mut e, &mut g, &mut ws).unwrap();
        for r in 0..2 {
            let row = &xd[r * 5..(r + 1) * 5];
            let want = gb_free_energy(&m, row);
            assert!((e[r] - want).abs() < 1e-5 * (1.0 + want.abs()), "σ=1 {unit}: F {} vs {want}", e[r]);
            let num = fd(&|v| gb_free_energy(&m, v), row, 1e-5);
            assert_close("GB-RBM ∇F", &g[r * 5..(r + 1) * 5], &num, 2e-5);
        }
        // grad alone equals energy_grad's gradient.
        let mut g2 = vec![0.0f32; 10];
        m.grad(&x, &mut g2, &mut ws).unwrap();
        assert_eq!(g, g2);
    }
    // Full-precision Gaussian.
    let p = vec![
        2.0, 0.5, 0.0, 0.0, 0.0, 0.5, 1.0, 0.3, 0.0, 0.0, 0.0, 0.3, 1.5, 0.2, 0.0, 0.0, 0.0, 0.2, 1.0, 0.1,
        0.0, 0.0, 0.0, 0.1, 3.0,
    ];
    let mu = vec![0.1, -0.2, 0.3, 0.0, 1.0];
    let gauss = Gaussian::new(mu.clone(), p.clone()).unwrap();
    let f = |v: &[f64]| {
        let t: Vec<f64> = v.iter().zip(&mu).map(|(a, b)| a - b).collect();
        0.5 * (0..5).map(|i| t[i] * (0..5).map(|j| p[i * 5 + j] * t[j]).sum::<f64>()).sum::<f64>()
    };
    let mut g = vec![0.0f32; 10];
    gauss.grad(&x, &mut g, &mut ws).unwrap();
    for r in 0..2 {
        assert_close("Gaussian ∇E", &g[r * 5..(r + 1) * 5], &fd(&f, &xd[r * 5..(r + 1) * 5], 1e-5), 1e-5);
    }
    // Mixture, 2-D, at several points (incl. far from every mode).
    let mix = GaussianMixture::new(vec![0.8, 0.2], vec![5.0, 5.0, -5.0, -5.0], vec![1.0, 1.5]).unwrap();
    let pts: Vec<f32> = vec![0.0, 0.0, 5.0, 4.0, -4.0, -6.0, 30.0, -30.0];
    let mut g = vec![0.0f32; 8];
    let mut e = vec![0.0f64; 4];
    mix.energy_grad(&pts, &mut e, &mut g, &mut ws).unwrap();
    let fm = |v: &[f64]| {
        let c = |mx: f64, my: f64, s: f64, w: f64| {
            w * (-((v[0] - mx).powi(2) + (v[1] - my).powi(2)) / (2.0 * s * s)).exp()
                / (2.0 * std::f64::consts::PI * s * s)
        };
        -(c(5.0, 5.0, 1.0, 0.8) + c(-5.0, -5.0, 1.5, 0.2)).ln()
    };
    for r in 0..3 {
        let row: Vec<f64> = pts[r * 2..r * 2 + 2].iter().map(|&v| v as f64).collect();
        assert!((e[r] - fm(&row)).abs() < 1e-9 * (1.0 + e[r].abs()), "mixture E at {row:?}");
        assert_close("mixture ∇E", &g[r * 2..r * 2 + 2], &fd(&fm, &row, 1e-5), 1e-5);
    }
    assert!(
        e[3].is_finite() && g[6..].iter().all(|v| v.is_finite()),
        "far point: log-sum-exp must not underflow"
    );
}

/// `Σᵣ aᵣ ∇_θ F(xᵣ)` of the GB-RBM against finite differences of the f64
/// free energy in every parameter (W, b, c, log σ).
#[test]
fn gb_rbm_parameter_gradient_matches_finite_differences() {
    let m = gb_model(false);
    let x: Vec<f32> = vec![0.3, -1.2, 0.8, 2.0, -0.4, 1.1, 0.0, -2.5, 0.7, 0.2];
    let coef = [0.7f32, -1.3];
    let mut out = vec![0.0f64; m.n_params()];
    m.add_param_grad(&x, &coef, &mut out, &mut Workspace::default()).unwrap();
    let p0 = m.params();
    let total = |p: &[f64]| -> f64 {
        // The free energy in f64 with the f64 parameters.
        let (d, h) = (5, 4);
        let (w, rest) = p.split_at(d * h);
        let (b, rest) = rest.split_at(d);
        let (c, ls) = rest.split_at(h);
        (0..2)
            .map(|r| {
                let v: Vec<f64> = x[r * d..(r + 1) * d].iter().map(|&v| v as f64).collect();
                let s: Vec<f64> = ls.iter().map(|l| l.exp()).collect();
                let quad: f64 = (0..d).map(|i| (v[i] - b[i]).powi(2) / (2.0 * s[i] * s[i])).sum();
                let soft: f64 = (0..h)
                    .map(|j| softplus(c[j] + (0..d).map(|i| v[i] / s[i] * w[i * h + j]).sum::<f64>()))
                    .sum();
                coef[r] as f64 * (quad - soft)
            })
            .sum()
    };
    let pd: Vec<f64> = p0.iter().map(|&v| v as f64).collect();
    let num = fd(&total, &pd, 1e-6);
    for (i, (&g, &w)) in out.iter().zip(&num).enumerate() {
        assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "param {i}: {g} vs {w}");
    }
    // Round trip of the parameters.
    let mut m2 = m.clone();
    m2.set_params(&p0).unwrap();
    assert!(m2.sigma().iter().zip(m.sigma()).all(|(a, b)| (a - b).abs() < 1e-6));
    assert!(m2.set_params(&p0[1..]).is_err());
}

/// Mean and variance over the final states of independent chains.
fn moments(x: &[f32], d: usize, i: usize) -> (f64, f64) {
    let v: Vec<f64> = x.chunks(d).map(|r| r[i] as f64).collect();
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    (m, var)
}

/// On `N(μ, s²)`: MALA at a large step is exact (mean and variance within
/// 5 standard errors of the independent final states), ULA at the same
/// step shows its known bias `s²/(1 − ε/(4s²))`, and at a small step ULA
/// is close.
#[test]
fn mala_is_exact_and_ula_is_biased_on_a_gaussian() {
    let (mu, s) = (1.5f64, 1.0f64);
    let target = Gaussian::isotropic(vec![mu], s).unwrap();
    let n = 20_000;
    let eps = 1.0f32;
    let mut mala = LangevinChains::uniform(n, 1, -3.0, 3.0, 1).unwrap();
    let rep = mala.run_mala(&target, &MalaConfig::new(eps), 300).unwrap();
    println!("MALA acceptance {:.3}", rep.rate());
    assert!(rep.rate() > 0.5 && rep.rate() < 1.0, "{}", rep.rate());
    assert_eq!(rep.proposed, n as u64 * 300);
    assert_eq!(rep.accepted_per_chain.iter().map(|&a| a as u64).sum::<u64>(), rep.accepted);
    let (m, v) = moments(mala.states(), 1, 0);
    let se_m = (s * s / n as f64).sqrt();
    let se_v = s * s * (2.0 / n as f64).sqrt();
    assert!((m - mu).abs() < 5.0 * se_m, "MALA mean {m}");
    assert!((v - s * s).abs() < 5.0 * se_v, "MALA variance {v}");
    let mut ula = LangevinChains::uniform(n, 1, -3.0, 3.0, 1).unwrap();
    ula.run(&target, &LangevinConfig::ula(eps), 300).unwrap();
    let (m, v) = moments(ula.states(), 1, 0);
    let biased = s * s / (1.0 - eps as f64 / (4.0 * s * s));
    println!("ULA ε = 1: variance {v:.4} (theory {biased:.4}, target {:.4})", s * s);
    assert!((m - mu).abs() < 5.0 * (biased / n as f64).sqrt(), "ULA mean {m}");
    assert!((v - biased).abs() < 5.0 * biased * (2.0 / n as f64).sqrt(), "ULA variance {v} vs {biased}");
    assert!((v - s * s).abs() > 10.0 * se_v, "ULA's bias not visible: {v}");
    let mut small = LangevinChains::uniform(n, 1, -3.0, 3.0, 1).unwrap();
    small.run(&target, &LangevinConfig::ula(0.02), 1500).unwrap();
    let (_, v) = moments(small.states(), 1, 0);
    assert!((v - 1.0 / (1.0 - 0.005)).abs() < 5.0 * se_v, "ULA ε = 0.02: variance {v}");
}

/// MALA on a correlated 3-D Gaussian: means and the full covariance within
/// 5 standard errors.
#[test]
fn mala_recovers_a_correlated_covariance() {
    let p = vec![2.0, 0.8, 0.0, 0.8, 1.0, 0.4, 0.0, 0.4, 0.5];
    let target = Gaussian::new(vec![1.0, -2.0, 0.5], p).unwrap();
    let cov = target.covariance();
    let n = 10_000;
    let mut ch = LangevinChains::uniform(n, 3, -2.0, 2.0, 4).unwrap();
    let rep = ch.run_mala(&target, &MalaConfig::new(0.4), 400).unwrap();
    assert!(rep.rate() > 0.3, "{}", rep.rate());
    let x = ch.states();
    let mean: Vec<f64> = (0..3).map(|i| x.chunks(3).map(|r| r[i] as f64).sum::<f64>() / n as f64).collect();
    for i in 0..3 {
        let se = (cov[i * 4] / n as f64).sqrt();
        assert!((mean[i] - target.mean()[i]).abs() < 5.0 * se, "mean {i}: {}", mean[i]);
        for j in 0..3 {
            let c = x.chunks(3).map(|r| (r[i] as f64 - mean[i]) * (r[j] as f64 - mean[j])).sum::<f64>()
                / (n - 1) as f64;
            let se = ((cov[i * 3 + i] * cov[j * 3 + j] + cov[i * 3 + j].powi(2)) / n as f64).sqrt();
            assert!((c - cov[i * 3 + j]).abs() < 5.0 * se, "cov ({i},{j}): {c} vs {}", cov[i * 3 + j]);
        }
    }
}

/// The test energies' exact samplers: a correlated Gaussian's sample
/// covariance is its `P⁻¹`, a mixture's component shares are its weights
/// (5 standard errors).
#[test]
fn exact_samplers_of_the_test_energies() {
    let p = vec![2.0, 0.8, 0.0, 0.8, 1.0, 0.4, 0.0, 0.4, 0.5];
    let g = Gaussian::new(vec![1.0, -2.0, 0.5], p).unwrap();
    let cov = g.covariance();
    let n = 40_000;
    let x = g.sample(n, 3).unwrap();
    let mean: Vec<f64> = (0..3).map(|i| x.chunks(3).map(|r| r[i] as f64).sum::<f64>() / n as f64).collect();
    for i in 0..3 {
        assert!((mean[i] - g.mean()[i]).abs() < 5.0 * (cov[i * 4] / n as f64).sqrt(), "mean {i}");
        for j in 0..3 {
            let c = x.chunks(3).map(|r| (r[i] as f64 - mean[i]) * (r[j] as f64 - mean[j])).sum::<f64>()
                / (n - 1) as f64;
            let se = ((cov[i * 3 + i] * cov[j * 3 + j] + cov[i * 3 + j].powi(2)) / n as f64).sqrt();
            assert!((c - cov[i * 3 + j]).abs() < 5.0 * se, "cov ({i},{j}): {c} vs {}", cov[i * 3 + j]);
        }
    }
    let mix = GaussianMixture::new(vec![0.7, 0.3], vec![4.0, 0.0, -4.0, 0.0], vec![1.0, 1.0]).unwrap();
    let y = mix.sample(n, 5).unwrap();
    let share = y.chunks(2).filter(|r| r[0] > 0.0).count() as f64 / n as f64;
    assert!((share - 0.7).abs() < 5.0 * (0.21 / n as f64).sqrt() + 1e-4, "mixture share {share}");
}

/// Song & Ermon (2019), section 3.2 and figure 3: for
/// `0.8·N((5,5), I) + 0.2·N((−5,−5), I)` sampled from uniform starts with
/// the exact score, plain Langevin keeps the weights the start region gave
/// each basin, annealed Langevin recovers 0.8 / 0.2.
#[test]
fn annealed_langevin_recovers_mixture_weights_plain_langevin_does_not() {
    let mix = GaussianMixture::new(vec![0.8, 0.2], vec![5.0, 5.0, -5.0, -5.0], vec![1.0, 1.0]).unwrap();
    let n = 4000;
    let share = |x: &[f32]| x.chunks(2).filter(|r| r[0] + r[1] > 0.0).count() as f64 / n as f64;
    let mut plain = LangevinChains::uniform(n, 2, -8.0, 8.0, 11).unwrap();
    plain.run(&mix, &LangevinConfig::ula(0.1), 1000).unwrap();
    let mut annealed = LangevinChains::uniform(n, 2, -8.0, 8.0, 11).unwrap();
    let config = AnnealedConfig::new(geometric_schedule(20.0, 1.0, 10).unwrap(), 0.1, 100);
    annealed.run_annealed(&mix, &config).unwrap();
    let (p, a) = (share(plain.states()), share(annealed.states()));
    println!("share in the 0.8 mode: plain Langevin {p:.3}, annealed {a:.3}");
    let se = (0.8 * 0.2 / n as f64).sqrt();
    assert!((a - 0.8).abs() < 5.0 * se, "annealed share {a}");
    assert!((p - 0.8).abs() > 0.15, "plain Langevin recovered the weights: {p}");
    // Within the main mode the spread is that of the last level's target,
    // the mixture smoothed by σ_L = 1 (component variance 1 + 1), with the
    // O(ε) bias of the final step α = 0.1: 2/(1 − 0.1/8).
    let main: Vec<f32> =
        annealed.states().chunks(2).filter(|r| r[0] + r[1] > 0.0).flatten().copied().collect();
    let (m, v) = moments(&main, 2, 0);
    let want = 2.0 / (1.0 - 0.1 / 8.0);
    println!("main mode: mean {m:.3}, x-variance {v:.3} (want 5, {want:.3})");
    assert!((m - 5.0).abs() < 0.1 && (v - want).abs() < 0.08 * want, "main mode mean {m}, variance {v}");
}

/// The GB-RBM's `p(v)` is a mixture of 2ᴴ Gaussians with
/// `p(h) ∝ exp(c·h + Σᵢ (bᵢ mᵢ/σᵢ + mᵢ²/2))`, `m = Wh`: block Gibbs and
/// MALA on its free energy both match its exact mean and variances.
#[test]
fn gb_rbm_gibbs_and_mala_match_exact_moments() {
    let m = gb_model(false);
    let (d, h) = (5, 4);
    let (w, b, c, s) = (m.weights(), m.visible_bias(), m.hidden_bias(), m.sigma());
    let mut logp = Vec::new();
    let mut means = Vec::new();
    for hs in 0..1usize << h {
        let hv: Vec<f64> = (0..h).map(|j| ((hs >> j) & 1) as f64).collect();
        let mv: Vec<f64> = (0..d).map(|i| (0..h).map(|j| w[i * h + j] as f64 * hv[j]).sum()).collect();
        let lp = (0..h).map(|j| c[j] as f64 * hv[j]).sum::<f64>()
            + (0..d).map(|i| b[i] as f64 * mv[i] / s[i] as f64 + mv[i] * mv[i] / 2.0).sum::<f64>();
        logp.push(lp);
        means.push((0..d).map(|i| b[i] as f64 + s[i] as f64 * mv[i]).collect::<Vec<f64>>());
    }
    let mx = logp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = logp.iter().map(|l| (l - mx).exp()).sum();
    let ph: Vec<f64> = logp.iter().map(|l| (l - mx).exp() / z).collect();
    let mean: Vec<f64> = (0..d).map(|i| ph.iter().zip(&means).map(|(p, m)| p * m[i]).sum()).collect();
    let var: Vec<f64> = (0..d)
        .map(|i| {
            ph.iter().zip(&means).map(|(p, m)| p * (m[i] * m[i] + (s[i] as f64).powi(2))).sum::<f64>()
                - mean[i] * mean[i]
        })
        .collect();
    let n = 20_000;
    let check = |name: &str, x: &[f32]| {
        for i in 0..d {
            let (mm, vv) = moments(x, d, i);
            assert!(
                (mm - mean[i]).abs() < 5.0 * (var[i] / n as f64).sqrt(),
                "{name} mean {i}: {mm} vs {}",
                mean[i]
            );
            assert!((vv - var[i]).abs() < 0.06 * var[i], "{name} variance {i}: {vv} vs {}", var[i]);
        }
    };
    let mut v = vec![0.0f32; n * d];
    let mut streams = boltzmann::rng::chain_streams(5, n).unwrap();
    m.gibbs(&mut v, &mut streams, 100).unwrap();
    check("Gibbs", &v);
    let mut ch = LangevinChains::uniform(n, d, -2.0, 2.0, 6).unwrap();
    let rep = ch.run_mala(&m, &MalaConfig::new(0.3), 400).unwrap();
    println!("GB-RBM MALA acceptance {:.3}", rep.rate());
    check("MALA", ch.states());
}

/// An energy whose gradient is NaN where x₀ > 100 (and energy +inf where
/// x₀ < −100): those chains stop, recorded; the others are bit-identical to
/// a run where every chain is healthy.
struct Poisoned(Gaussian);

impl Energy for Poisoned {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, x: &[f32], out: &mut [f64], ws: &mut Workspace) -> Result<()> {
        self.0.energy(x, out, ws)?;
        for (o, r) in out.iter_mut().zip(x.chunks(2)) {
            if r[0] < -100.0 {
                *o = f64::INFINITY;
            }
        }
        Ok(())
    }
    fn grad(&self, x: &[f32], g: &mut [f32], ws: &mut Workspace) -> Result<()> {
        self.0.grad(x, g, ws)?;
        for (g, r) in g.chunks_mut(2).zip(x.chunks(2)) {
            if r[0] > 100.0 {
                g[1] = f32::NAN;
            }
        }
        Ok(())
    }
}

#[test]
fn non_finite_chains_stop_without_poisoning_the_others() {
    let target = Gaussian::isotropic(vec![0.0, 0.0], 1.0).unwrap();
    let mut start: Vec<f32> = (0..20).map(|i| (i as f32 * 0.37).sin()).collect();
    let healthy = start.clone();
    start[2 * 3] = 150.0; // chain 3: NaN gradient at step 0
    start[2 * 7] = -150.0; // chain 7: infinite energy (MALA only)
    for mala in [false, true] {
        let mut bad = LangevinChains::new(2, start.clone(), 9).unwrap();
        let mut good = LangevinChains::new(2, healthy.clone(), 9).unwrap();
        if mala {
            bad.run_mala(&Poisoned(target.clone()), &MalaConfig::new(0.3), 20).unwrap();
            good.run_mala(&Poisoned(target.clone()), &MalaConfig::new(0.3), 20).unwrap();
        } else {
            bad.run(&Poisoned(target.clone()), &LangevinConfig::ula(0.1), 20).unwrap();
            good.run(&Poisoned(target.clone()), &LangevinConfig::ula(0.1), 20).unwrap();
        }
        let mut f = bad.failures().to_vec();
        f.sort_by_key(|f| f.chain);
        assert_eq!((f[0].chain, f[0].step, f[0].what), (3, 0, "gradient"), "{f:?}");
        if mala {
            assert_eq!(f.len(), 2, "{f:?}");
            assert_eq!((f[1].chain, f[1].step, f[1].what), (7, 0, "energy"));
        } else {
            assert_eq!(f.len(), 1, "{f:?}");
        }
        let msg = bad.check_failures().unwrap_err().to_string();
        assert!(msg.contains("at step 0") && msg.contains(&format!("{} chain(s)", f.len())), "{msg}");
        assert!(!bad.alive()[3] && bad.alive()[0]);
        assert_eq!(&bad.states()[6..8], &start[6..8], "a failed chain keeps its last finite state");
        for c in (0..10).filter(|&c| c != 3 && c != 7) {
            assert_eq!(
                bad.states()[2 * c..2 * c + 2],
                good.states()[2 * c..2 * c + 2],
                "mala {mala}: chain {c}"
            );
        }
        assert!(good.check_failures().is_ok());
    }
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn langevin_results_are_thread_count_independent() {
    let m = GaussianRbm::random(40, 30, 0.1, 1.0, 2).unwrap();
    let mix = GaussianMixture::new(vec![0.5, 0.5], vec![2.0, 0.0, -2.0, 0.0], vec![0.5, 0.5]).unwrap();
    let run = || {
        let mut a = LangevinChains::uniform(300, 40, 0.0, 1.0, 3).unwrap();
        a.run(&m, &LangevinConfig::ula(0.01).noise(0.05).grad_clip(Some(0.5)).clamp(Some((0.0, 1.0))), 5)
            .unwrap();
        let r = a.run_mala(&m, &MalaConfig::new(0.05), 5).unwrap();
        let mut b = LangevinChains::uniform(300, 2, -3.0, 3.0, 4).unwrap();
        let cfg = AnnealedConfig::new(vec![2.0, 1.0, 0.5], 0.05, 4);
        b.run_annealed(&mix, &cfg).unwrap();
        let mut v = a.states().to_vec();
        let mut st = boltzmann::rng::chain_streams(1, 300).unwrap();
        m.gibbs(&mut v, &mut st, 3).unwrap();
        (a.states().to_vec(), r, b.states().to_vec(), v)
    };
    let one = in_pool(1, run);
    for t in [2, 3] {
        assert_eq!(in_pool(t, run), one, "{t} threads");
    }
}

#[test]
fn langevin_bad_input_is_an_error() {
    let g = Gaussian::isotropic(vec![0.0, 0.0], 1.0).unwrap();
    let mut ch = LangevinChains::uniform(10, 2, -1.0, 1.0, 1).unwrap();
    for cfg in [
        LangevinConfig::ula(0.0),
        LangevinConfig::ula(-1.0),
        (LangevinConfig::ula(0.1)).noise(f32::NAN),
        (LangevinConfig::ula(0.1)).grad_clip(Some(0.0)),
        (LangevinConfig::ula(0.1)).clamp(Some((1.0, 0.0))),
    ] {
        assert!(matches!(ch.run(&g, &cfg, 1), Err(Error::InvalidParam { .. })), "{cfg:?}");
    }
    assert!(ch.run_mala(&g, &MalaConfig::new(0.0), 1).is_err());
    assert!(ch.run_mala(&g, &MalaConfig::new(f32::NAN), 1).is_err());
    let g3 = Gaussian::isotropic(vec![0.0; 3], 1.0).unwrap();
    assert!(matches!(ch.run(&g3, &LangevinConfig::ula(0.1), 1), Err(Error::ShapeMismatch { .. })));
    let mix = GaussianMixture::new(vec![1.0], vec![0.0, 0.0], vec![1.0]).unwrap();
    for sigmas in [vec![1.0, 2.0], vec![1.0, 1.0], vec![1.0, -0.5], vec![], vec![f32::NAN]] {
        let cfg = AnnealedConfig::new(sigmas.clone(), 0.1, 1);
        assert!(ch.run_annealed(&mix, &cfg).is_err(), "{sigmas:?}");
    }
    let cfg = AnnealedConfig::new(vec![1.0, 0.5], 0.1, 0);
    assert!(ch.run_annealed(&mix, &cfg).is_err());
    assert!(geometric_schedule(1.0, 2.0, 5).is_err());
    assert!(geometric_schedule(1.0, 0.1, 1).is_err());
    assert!(LangevinChains::new(2, vec![0.0, f32::NAN], 1).is_err());
    assert!(LangevinChains::new(2, vec![0.0; 3], 1).is_err());
    assert!(LangevinChains::new(0, vec![], 1).is_err());
    assert!(LangevinChains::uniform(3, 2, 1.0, 1.0, 1).is_err());
    assert_eq!(ch.steps(), 0, "failed calls must not step");
    // Energies and models refuse bad shapes and parameters.
    assert!(Gaussian::new(vec![0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]).is_err()); // not PD
    assert!(Gaussian::new(vec![0.0, 0.0], vec![1.0, 0.5, 0.0, 1.0]).is_err()); // not symmetric
    assert!(GaussianMixture::new(vec![0.5, -0.5], vec![0.0, 1.0], vec![1.0, 1.0]).is_err());
    assert!(GaussianMixture::new(vec![0.5, 0.5], vec![0.0, 1.0, 2.0], vec![1.0, 1.0]).is_err());
    assert!(GaussianRbm::new(2, 1, vec![0.0; 2], vec![0.0; 2], vec![0.0], vec![1.0, -1.0]).is_err());
    assert!(GaussianRbm::new(2, 1, vec![f32::NAN; 2], vec![0.0; 2], vec![0.0], vec![1.0; 2]).is_err());
    let m = GaussianRbm::random(3, 2, 0.1, 1.0, 1).unwrap();
    let mut ws = Workspace::default();
    assert!(m.grad(&[0.0; 4], &mut [0.0; 4], &mut ws).is_err());
    assert!(m.energy(&[0.0; 6], &mut [0.0; 3], &mut ws).is_err());
    assert!(m.gibbs(&mut [0.0; 6], &mut boltzmann::rng::chain_streams(1, 3).unwrap(), 1).is_err());
}

/// A step whose result overflows is not taken: the chain keeps its last
/// finite state and is reported as a "state" failure.
#[test]
fn overflowing_step_keeps_the_last_finite_state() {
    struct Huge;
    impl Energy for Huge {
        fn dim(&self) -> usize {
            1
        }
        fn energy(&self, x: &[f32], out: &mut [f64], _: &mut Workspace) -> Result<()> {
            out.iter_mut().zip(x).for_each(|(o, &v)| *o = 0.5 * (v as f64).powi(2));
            Ok(())
        }
        fn grad(&self, x: &[f32], g: &mut [f32], _: &mut Workspace) -> Result<()> {
            g.iter_mut().zip(x).for_each(|(g, &v)| *g = if v > 50.0 { f32::MAX } else { v });
            Ok(())
        }
    }
    use boltzmann::sampler::langevin::ChainFailure;
    let mut ch = LangevinChains::new(1, vec![0.5, 60.0, -0.3], 1).unwrap();
    ch.run(&Huge, &LangevinConfig::ula(10.0).noise(0.0).grad_clip(None).clamp(None), 3).unwrap();
    assert_eq!(ch.failures(), &[ChainFailure { chain: 1, step: 0, what: "state" }]);
    assert_eq!(ch.states()[1], 60.0);
    assert!(ch.states()[0].is_finite() && ch.states()[2].is_finite());
    assert_eq!(ch.alive(), &[true, false, true]);
}
