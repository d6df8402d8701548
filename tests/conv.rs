//! Convolutional RBMs: kernels against their naive twins, the free energy
//! against enumeration, block Gibbs against the exact joint distribution of
//! tiny models (χ²), the pooling constraint, thread-count invariance, bad
//! input.

use boltzmann::kernels::conv::{self, ConvShape};
use boltzmann::model::ConvRbm;
use boltzmann::sampler::ConvChains;
use boltzmann::{Error, reference, rng};

include!("common/chi2.rs");

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

fn uniforms(seed: u64, n: usize) -> Vec<f32> {
    let mut st = rng::chain_streams(seed, 1).unwrap();
    let mut u = vec![0.0; n];
    rng::fill_uniform(&mut st, n, &mut u).unwrap();
    u
}

fn shape(
    height: usize,
    width: usize,
    channels: usize,
    filters: usize,
    filter_size: usize,
    pool: usize,
) -> ConvShape {
    ConvShape { height, width, channels, filters, filter_size, pool }
}

fn close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn kernels_match_their_naive_twins() {
    let shapes = [
        shape(6, 6, 1, 3, 3, 2),
        shape(7, 9, 2, 4, 2, 2),
        shape(8, 5, 3, 5, 3, 3),
        shape(4, 4, 1, 1, 4, 1),
        shape(28, 28, 1, 8, 9, 4),
        shape(5, 6, 2, 17, 1, 1),
    ];
    for (t, s) in shapes.iter().enumerate() {
        s.check().unwrap();
        let seed = t as u64 + 1;
        let w: Vec<f32> = uniforms(seed, s.n_weights()).iter().map(|u| 2.0 * u - 1.0).collect();
        let v_bin: Vec<f32> =
            uniforms(seed + 10, s.n_visible()).iter().map(|&u| (u < 0.3) as u8 as f32).collect();
        let v_real = uniforms(seed + 20, s.n_visible());
        let mut cols = vec![0.0; s.positions() * s.taps()];
        let mut out = vec![0.0; s.n_hidden()];
        for v in [&v_bin, &v_real] {
            conv::correlate(s, v, &w, &mut cols, &mut out).unwrap();
            close(&out, &reference::conv_correlate(s, v, &w), 1e-5, "correlate");
        }
        // h → v: binary maps through the filter-adding path, real ones through the product.
        let h_bin: Vec<f32> =
            uniforms(seed + 30, s.n_hidden()).iter().map(|&u| (u < 0.2) as u8 as f32).collect();
        let h_real = uniforms(seed + 40, s.n_hidden());
        let mut wt = vec![0.0; s.n_weights()];
        for q in 0..s.taps() {
            for k in 0..s.filters {
                wt[k * s.taps() + q] = w[q * s.filters + k];
            }
        }
        let mut img = vec![0.0; s.n_visible()];
        conv::convolve_binary(s, &h_bin, &wt, &mut img).unwrap();
        close(&img, &reference::conv_full(s, &h_bin, &w), 1e-5, "convolve_binary");
        conv::convolve_dense(s, &h_real, &w, &mut cols, &mut img).unwrap();
        close(&img, &reference::conv_full(s, &h_real, &w), 1e-5, "convolve_dense");
        conv::convolve_dense(s, &h_bin, &w, &mut cols, &mut img).unwrap();
        close(&img, &reference::conv_full(s, &h_bin, &w), 1e-5, "convolve_dense (binary maps)");
        // Filter statistics: Σ_p cols[p][q]·h[p][k], accumulated twice.
        conv::im2col(s, &v_real, &mut cols).unwrap();
        let mut acc = vec![0.0; s.n_weights()];
        conv::add_filter_stats(s, &cols, &h_real, &mut acc).unwrap();
        conv::add_filter_stats(s, &cols, &h_real, &mut acc).unwrap();
        let mut want = vec![0.0f64; s.n_weights()];
        for p in 0..s.positions() {
            for q in 0..s.taps() {
                for k in 0..s.filters {
                    want[q * s.filters + k] +=
                        2.0 * cols[p * s.taps() + q] as f64 * h_real[p * s.filters + k] as f64;
                }
            }
        }
        close(&acc, &want, 1e-5, "add_filter_stats");
        // The filter statistics are the gradient of Σ h·(W̃*v) in W: the
        // correlate output dotted with h equals Σ acc·w / 2.
        let pre = reference::conv_correlate(s, &v_real, &w);
        let lhs: f64 = pre.iter().zip(&h_real).map(|(a, &b)| a * b as f64).sum();
        let rhs: f64 = acc.iter().zip(&w).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>() / 2.0;
        assert!((lhs - rhs).abs() < 1e-3 * (1.0 + lhs.abs()), "adjoint: {lhs} vs {rhs}");
    }
}

#[test]
fn kernels_refuse_bad_lengths() {
    let s = shape(6, 6, 1, 3, 3, 2);
    let w = vec![0.0; s.n_weights()];
    let v = vec![0.0; s.n_visible()];
    let mut cols = vec![0.0; s.positions() * s.taps()];
    let mut out = vec![0.0; s.n_hidden()];
    assert!(matches!(
        conv::correlate(&s, &v[1..], &w, &mut cols, &mut out),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        conv::correlate(&s, &v, &w[1..], &mut cols, &mut out),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        conv::correlate(&s, &v, &w, &mut cols[1..], &mut out),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut img = vec![0.0; s.n_visible()];
    assert!(matches!(conv::convolve_binary(&s, &out[1..], &w, &mut img), Err(Error::ShapeMismatch { .. })));
    let mut pooled = vec![0.0; s.n_pooled()];
    let u = vec![0.5; s.n_pooled()];
    let mut h = vec![0.0; s.n_hidden()];
    assert!(matches!(
        conv::sample_max_pool(&s, &out, &u[1..], &mut h, &mut pooled, &mut []),
        Err(Error::ShapeMismatch { .. })
    ));
    out[3] = f32::NAN;
    assert!(matches!(conv::max_pool_probs(&s, &out, &mut [], &mut pooled), Err(Error::NonFinite { .. })));
    out[3] = f32::INFINITY;
    assert!(matches!(conv::pool_log_partition(&s, &out), Err(Error::NonFinite { .. })));
}

#[test]
fn max_pooling_probabilities_are_a_multinomial_per_block() {
    let s = shape(9, 9, 1, 2, 2, 4);
    let logits: Vec<f32> = uniforms(3, s.n_hidden()).iter().map(|u| 200.0 * u - 100.0).collect();
    let mut probs = vec![0.0; s.n_hidden()];
    let mut pooled = vec![0.0; s.n_pooled()];
    conv::max_pool_probs(&s, &logits, &mut probs, &mut pooled).unwrap();
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let mut log_z = 0.0f64;
    for py in 0..s.hidden_height() / p {
        for px in 0..wh / p {
            for k in 0..kk {
                let units: Vec<usize> =
                    (0..p * p).map(|i| ((py * p + i / p) * wh + px * p + i % p) * kk + k).collect();
                let sum: f64 = units.iter().map(|&i| probs[i] as f64).sum();
                let b = (py * (wh / p) + px) * kk + k;
                assert!((sum - pooled[b] as f64).abs() < 1e-5, "block sum {sum} vs pool {}", pooled[b]);
                // Exact, in f64: 1 / (1 + Σ e^ℓ) for the off state.
                let m = units.iter().map(|&i| logits[i] as f64).fold(0.0f64, f64::max);
                let z = (-m).exp() + units.iter().map(|&i| (logits[i] as f64 - m).exp()).sum::<f64>();
                for &i in &units {
                    let want = (logits[i] as f64 - m).exp() / z;
                    assert!((probs[i] as f64 - want).abs() < 1e-5);
                }
                log_z += m + z.ln();
            }
        }
    }
    let got = conv::pool_log_partition(&s, &logits).unwrap();
    assert!((got - log_z).abs() < 1e-9 * log_z.abs().max(1.0), "{got} vs {log_z}");
    assert!(probs.iter().chain(&pooled).all(|x| x.is_finite() && (0.0..=1.0).contains(x)));
}

/// Every detection configuration of one image that respects the pooling
/// constraint (each block: off, or one of its P² units on).
fn configurations(s: &ConvShape) -> Vec<Vec<f32>> {
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let nb = s.n_pooled();
    let per = p * p + 1;
    let total = per.pow(nb as u32);
    let mut all = Vec::with_capacity(total);
    for mut code in 0..total {
        let mut h = vec![0.0f32; s.n_hidden()];
        for b in 0..nb {
            let choice = code % per;
            code /= per;
            if choice > 0 {
                let i = choice - 1;
                let k = b % kk;
                let blk = b / kk;
                let (py, px) = (blk / (wh / p), blk % (wh / p));
                h[((py * p + i / p) * wh + px * p + i % p) * kk + k] = 1.0;
            }
        }
        all.push(h);
    }
    all
}

fn binary_image(code: usize, d: usize) -> Vec<f32> {
    (0..d).map(|i| ((code >> i) & 1) as f32).collect()
}

fn pooled_of(s: &ConvShape, h: &[f32]) -> Vec<f32> {
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let mut out = vec![0.0; s.n_pooled()];
    for (i, &x) in h.iter().enumerate() {
        if x != 0.0 {
            let (pos, k) = (i / kk, i % kk);
            let (y, xx) = (pos / wh, pos % wh);
            out[((y / p) * (wh / p) + xx / p) * kk + k] = 1.0;
        }
    }
    out
}

fn random_model(s: ConvShape, std: f32, seed: u64) -> ConvRbm {
    let w: Vec<f32> = uniforms(seed, s.n_weights()).iter().map(|u| std * (2.0 * u - 1.0)).collect();
    let b: Vec<f32> = uniforms(seed + 1, s.filters).iter().map(|u| u - 1.0).collect();
    let c: Vec<f32> = uniforms(seed + 2, s.channels).iter().map(|u| u - 0.5).collect();
    ConvRbm::new(s, w, b, c).unwrap()
}

#[test]
fn free_energy_and_energy_match_enumeration_over_the_detection_units() {
    for (s, seed) in
        [(shape(3, 5, 1, 2, 2, 2), 5u64), (shape(3, 3, 2, 2, 2, 2), 9), (shape(2, 3, 1, 2, 1, 1), 13)]
    {
        let m = random_model(s, 1.5, seed);
        let hs = configurations(&s);
        for code in [0usize, 1, 5, 77, (1 << s.n_visible()) - 1] {
            let v = binary_image(code % (1 << s.n_visible()), s.n_visible());
            let es: Vec<f64> = hs.iter().map(|h| reference::conv_energy(&m, &v, h).unwrap()).collect();
            let mx = es.iter().map(|e| -e).fold(f64::NEG_INFINITY, f64::max);
            let want = -(mx + es.iter().map(|e| (-e - mx).exp()).sum::<f64>().ln());
            let got = m.free_energy(&v).unwrap();
            assert!((got - want).abs() < 1e-4 * (1.0 + want.abs()), "{s}: F = {got} vs {want}");
            for h in hs.iter().step_by(7) {
                let e = m.energy(&v, h).unwrap();
                let r = reference::conv_energy(&m, &v, h).unwrap();
                assert!((e - r).abs() < 1e-4 * (1.0 + r.abs()));
            }
        }
    }
    // Two units of one block on: probability 0, refused.
    let s = shape(3, 3, 1, 1, 2, 2);
    let m = random_model(s, 1.0, 1);
    assert!(matches!(m.energy(&[0.0; 9], &[1.0, 1.0, 0.0, 0.0]), Err(Error::InvalidParam { .. })));
}

/// Exact joint of (image, pooling units) by enumeration, in the order
/// `image code · 2^pooled + pooled code`.
fn exact_joint(m: &ConvRbm) -> Vec<f64> {
    let s = m.shape();
    let hs = configurations(&s);
    let np = s.n_pooled();
    let mut p = vec![0.0f64; (1 << s.n_visible()) << np];
    for code in 0..1usize << s.n_visible() {
        let v = binary_image(code, s.n_visible());
        for h in &hs {
            let e = reference::conv_energy(m, &v, h).unwrap();
            let pc = pooled_of(&s, h).iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>();
            p[(code << np) | pc] += (-e).exp();
        }
    }
    let z: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= z);
    p
}

#[test]
fn block_gibbs_samples_the_exact_joint_of_tiny_models() {
    // 3×3 image, two 2×2 filters, 2×2 pooling (one block per filter); and
    // two channels, 1×1 filters, one 2×2 block.
    for (s, seed) in [(shape(3, 3, 1, 2, 2, 2), 21u64), (shape(2, 2, 2, 1, 1, 2), 22)] {
        let m = random_model(s, 2.0, seed);
        let exact = exact_joint(&m);
        let np = s.n_pooled();
        let chains = 2000;
        let mut c = ConvChains::new(&m, chains, seed).unwrap();
        c.sweep(&m, 50).unwrap();
        let mut counts = vec![0u64; exact.len()];
        let rounds = 40;
        for _ in 0..rounds {
            c.sweep(&m, 3).unwrap();
            // The joint of v and the pooling units drawn from p(·|v).
            c.sample_hidden(&m).unwrap();
            for (v, p) in c.visible().chunks(s.n_visible()).zip(c.pooled().chunks(np)) {
                let code = v.iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>();
                let pc = p.iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>();
                counts[(code << np) | pc] += 1;
            }
        }
        let n = (chains * rounds) as u64;
        let (stat, df) = chi_square(&counts, &exact, n);
        let crit = chi2_critical_001(df);
        println!("{s}: chi2 = {stat:.1} on {df} df (critical {crit:.1})");
        assert!(stat < crit, "{s}: chi2 {stat:.1} ≥ {crit:.1} on {df} df");
    }
}

#[test]
fn sampler_never_turns_on_two_units_of_a_block() {
    let s = shape(12, 12, 1, 4, 3, 5);
    // Strong filters and positive biases: every unit wants to be on.
    let m = ConvRbm::new(s, vec![0.8; s.n_weights()], vec![4.0; 4], vec![1.0]).unwrap();
    let mut c = ConvChains::new(&m, 16, 3).unwrap();
    c.sweep(&m, 5).unwrap();
    c.sample_hidden(&m).unwrap();
    let (nh, np) = (s.n_hidden(), s.n_pooled());
    let mut on_blocks = 0;
    for (h, p) in c.hidden().chunks(nh).zip(c.pooled().chunks(np)) {
        let counted = pooled_of(&s, h);
        let mut per_block = vec![0usize; np];
        let (pp, wh, kk) = (s.pool, s.hidden_width(), s.filters);
        for (i, &x) in h.iter().enumerate() {
            if x != 0.0 {
                let (pos, k) = (i / kk, i % kk);
                per_block[((pos / wh / pp) * (wh / pp) + (pos % wh) / pp) * kk + k] += 1;
            }
        }
        assert!(per_block.iter().all(|&n| n <= 1), "two units on in one block");
        assert_eq!(counted, p, "pooling units on iff their block is");
        on_blocks += per_block.iter().sum::<usize>();
    }
    assert!(on_blocks > 16 * np / 2, "the strong model turns most blocks on ({on_blocks})");
}

#[test]
fn chains_are_the_same_bits_for_any_thread_count() {
    let s = shape(10, 10, 2, 6, 3, 2);
    let m = random_model(s, 0.5, 4);
    let runs: Vec<ConvChains> = [1, 2, 5]
        .iter()
        .map(|&t| {
            pool(t).install(|| {
                let mut c = ConvChains::new(&m, 23, 11).unwrap();
                c.sweep(&m, 7).unwrap();
                c
            })
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
    // Free energies and probabilities too.
    let v = runs[0].visible();
    let fe: Vec<Vec<f64>> = [1, 3]
        .iter()
        .map(|&t| {
            let mut out = vec![0.0; 23];
            pool(t).install(|| m.free_energy_batch(v, &mut out)).unwrap();
            out
        })
        .collect();
    assert_eq!(fe[0], fe[1]);
}

#[test]
fn bad_shapes_models_and_states_are_refused() {
    let ok = shape(6, 6, 1, 3, 3, 2);
    for bad in [
        ConvShape { pool: 3, ..ok },
        ConvShape { filter_size: 7, ..ok },
        ConvShape { filters: 0, ..ok },
        ConvShape { channels: 0, ..ok },
        ConvShape { height: 0, ..ok },
        ConvShape { pool: 0, ..ok },
        ConvShape { width: usize::MAX, ..ok },
        // Every side allowed, but an im2col buffer of ~2^66 elements.
        ConvShape {
            height: 16384,
            width: 16384,
            channels: 16384,
            filters: 16384,
            filter_size: 8193,
            pool: 1,
        },
    ] {
        assert!(matches!(bad.check(), Err(Error::InvalidParam { .. })), "{bad:?}");
        assert!(ConvRbm::random(bad, 0.1, 0.0, 1).is_err());
    }
    let n = ok.n_weights();
    assert!(matches!(
        ConvRbm::new(ok, vec![0.0; n - 1], vec![0.0; 3], vec![0.0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        ConvRbm::new(ok, vec![0.0; n], vec![0.0; 2], vec![0.0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        ConvRbm::new(ok, vec![0.0; n], vec![0.0; 3], vec![0.0; 2]),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut w = vec![0.0; n];
    w[5] = f32::NAN;
    assert!(matches!(ConvRbm::new(ok, w, vec![0.0; 3], vec![0.0]), Err(Error::NonFinite { .. })));
    assert!(ConvRbm::random(ok, -1.0, 0.0, 1).is_err());
    // Parameters so large that logits could overflow are refused.
    let mut w = vec![0.0; n];
    w[2] = -2e6;
    assert!(matches!(ConvRbm::new(ok, w, vec![0.0; 3], vec![0.0]), Err(Error::InvalidParam { .. })));
    assert!(matches!(
        ConvRbm::new(ok, vec![0.0; n], vec![0.0; 3], vec![1e7]),
        Err(Error::InvalidParam { .. })
    ));
    let m = ConvRbm::random(ok, 0.1, 0.0, 1).unwrap();
    assert!(ConvChains::new(&m, 0, 1).is_err());
    let st = rng::chain_streams(1, 2).unwrap();
    let mut img = vec![0.0; 2 * 36];
    img[3] = 0.5;
    assert!(matches!(ConvChains::with_images(&m, img, st.clone()), Err(Error::InvalidParam { .. })));
    assert!(matches!(
        ConvChains::with_images(&m, vec![0.0; 71], st.clone()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        ConvChains::with_images(&m, vec![0.0; 72], vec![[0; 4]; 2]),
        Err(Error::InvalidParam { .. })
    ));
    let mut c = ConvChains::with_images(&m, vec![0.0; 72], st).unwrap();
    let other = ConvRbm::random(shape(8, 8, 1, 3, 3, 2), 0.1, 0.0, 1).unwrap();
    assert!(matches!(c.sweep(&other, 1), Err(Error::ShapeMismatch { .. })));
    assert_eq!(c.sweeps_done(), 0);
    let mut fe = vec![0.0; 1];
    assert!(matches!(m.free_energy_batch(&[0.0; 35], &mut fe), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(m.free_energy_batch(&[f32::NAN; 36], &mut fe), Err(Error::NonFinite { .. })));
}

/// 3 × 4 binary images: a bar (horizontal or vertical) at a random place,
/// pixels flipped with probability 0.05.
fn bars(n: usize, seed: u64) -> boltzmann::data::Dataset {
    let u = uniforms(seed, n * 14);
    let mut x = vec![0.0f32; n * 12];
    for (i, img) in x.chunks_exact_mut(12).enumerate() {
        let r = &u[i * 14..(i + 1) * 14];
        if r[0] < 0.5 {
            let row = (r[1] * 3.0) as usize;
            (0..4).for_each(|c| img[row * 4 + c] = 1.0);
        } else {
            let col = (r[1] * 4.0) as usize;
            (0..3).for_each(|y| img[y * 4 + col] = 1.0);
        }
        for (p, &f) in img.iter_mut().zip(&r[2..]) {
            if f < 0.05 {
                *p = 1.0 - *p;
            }
        }
    }
    boltzmann::data::Dataset::new(x, 12).unwrap()
}

#[test]
fn training_raises_the_exact_log_likelihood_for_cd_and_pcd() {
    use boltzmann::eval::conv::{average_log_prob, log_z_exact};
    use boltzmann::train::conv::{ConvTrainConfig, train_conv_rbm};
    let data = bars(600, 3);
    let test = bars(300, 4);
    for (persistent, seed) in [(true, 1u64), (true, 2), (false, 3)] {
        let cfg = ConvTrainConfig::default()
            .filters(6)
            .filter_size(3)
            .pool(1)
            .epochs(1)
            .batch_size(20)
            .chains(50)
            .learning_rate(0.5)
            .weight_init_std(0.1)
            .sparsity_cost(0.0)
            .persistent(persistent)
            .seed(seed);
        let first = train_conv_rbm(&data, (3, 4, 1), &cfg, |_| {}).unwrap();
        let trained = train_conv_rbm(&data, (3, 4, 1), &cfg.clone().epochs(60), |r| {
            assert!(r.reconstruction_error.is_finite() && r.free_energy.is_finite())
        })
        .unwrap();
        let ll = |m: &ConvRbm| average_log_prob(m, &test, log_z_exact(m).unwrap()).unwrap();
        let (a, b) = (ll(&first), ll(&trained));
        // A uniform model scores 12 ln ½ = −8.32; this data's entropy is far lower.
        println!(
            "persistent {persistent} seed {seed}: test log-likelihood {a:.3} after 1 epoch, {b:.3} after 60"
        );
        assert!(b > a + 1.0 && b > -6.0, "persistent {persistent}: {a:.3} → {b:.3}");
    }
}

#[test]
fn training_is_the_same_bits_for_any_thread_count_and_refuses_bad_settings() {
    use boltzmann::train::conv::{ConvTrainConfig, train_conv_rbm};
    let data = bars(64, 5);
    let cfg = ConvTrainConfig::default().filters(3).filter_size(2).pool(1).epochs(2).batch_size(16).chains(8);
    let models: Vec<ConvRbm> = [1, 2, 4]
        .iter()
        .map(|&t| pool(t).install(|| train_conv_rbm(&data, (3, 4, 1), &cfg, |_| {})).unwrap())
        .collect();
    assert_eq!(models[0], models[1]);
    assert_eq!(models[0], models[2]);
    let cd = cfg.clone().persistent(false);
    let a = pool(1).install(|| train_conv_rbm(&data, (3, 4, 1), &cd, |_| {})).unwrap();
    let b = pool(3).install(|| train_conv_rbm(&data, (3, 4, 1), &cd, |_| {})).unwrap();
    assert_eq!(a, b);
    let bad = |c: ConvTrainConfig| train_conv_rbm(&data, (3, 4, 1), &c, |_| {}).unwrap_err();
    for c in [
        cfg.clone().pool(2),
        cfg.clone().filter_size(5),
        cfg.clone().k(0),
        cfg.clone().epochs(0),
        cfg.clone().batch_size(0),
        cfg.clone().chains(0),
        cfg.clone().learning_rate(f32::NAN),
        cfg.clone().learning_rate(-1.0),
        cfg.clone().momentum(1.0),
        cfg.clone().l2(-1.0),
        cfg.clone().sparsity_target(0.0),
        cfg.clone().sparsity_target(1.0),
        cfg.clone().sparsity_cost(-1.0),
        cfg.clone().initial_hidden_bias(f32::INFINITY),
    ] {
        assert!(matches!(bad(c.clone()), Error::InvalidParam { .. }), "{c:?}");
    }
    // Images of another shape, grey pixels.
    assert!(matches!(
        train_conv_rbm(&data, (4, 4, 1), &cfg, |_| {}).unwrap_err(),
        Error::ShapeMismatch { .. } | Error::InvalidParam { .. }
    ));
    let grey = boltzmann::data::Dataset::new(vec![0.5; 12 * 4], 12).unwrap();
    assert!(matches!(train_conv_rbm(&grey, (3, 4, 1), &cfg, |_| {}).unwrap_err(), Error::NotBinary { .. }));
    // A learning rate that blows up is reported, not returned as a model.
    let wild = cfg.clone().learning_rate(1e30).momentum(0.0);
    assert!(matches!(bad(wild), Error::Diverged { .. } | Error::InvalidParam { .. }));
}

#[test]
fn conv_dbn_features_trains_greedily_and_round_trips() {
    use boltzmann::model::ConvDbn;
    use boltzmann::train::conv::{ConvTrainConfig, train_conv_dbn};
    // 48 images of 12 × 12: diagonal stripes at varying offsets.
    let x: Vec<f32> =
        (0..48 * 144).map(|i| (((i % 12) + (i % 144) / 12 + i / 144) % 5 == 0) as u8 as f32).collect();
    let data = boltzmann::data::Dataset::new(x, 144).unwrap();
    let one =
        ConvTrainConfig::default().filters(4).filter_size(5).pool(2).epochs(2).batch_size(12).chains(12);
    let two = one.clone().filters(3).filter_size(3).pool(1).seed(7);
    let nets: Vec<ConvDbn> = [1, 3]
        .iter()
        .map(|&t| {
            pool(t)
                .install(|| train_conv_dbn(&data, (12, 12, 1), &[one.clone(), two.clone()], |_, _| {}))
                .unwrap()
        })
        .collect();
    assert_eq!(nets[0], nets[1], "greedy training depends on the thread count");
    let net = &nets[0];
    assert_eq!(net.shape(2).unwrap().channels, 4);
    assert_eq!(net.feature_len(2).unwrap(), 2 * 2 * 3);
    // Features: the up-pass of pooling probabilities, layer by layer.
    let imgs = &data.features()[..5 * 144];
    let l1 = net.features(imgs, 1).unwrap();
    let mut want1 = vec![0.0; 5 * net.feature_len(1).unwrap()];
    net.layers()[0].hidden_probs(imgs, &mut [], &mut want1).unwrap();
    assert_eq!(l1, want1);
    let mut want2 = vec![0.0; 5 * net.feature_len(2).unwrap()];
    net.layers()[1].hidden_probs(&want1, &mut [], &mut want2).unwrap();
    assert_eq!(net.features(imgs, 2).unwrap(), want2);
    assert!(net.features(imgs, 3).is_err() && net.features(imgs, 0).is_err());
    assert!(matches!(net.features(&imgs[1..], 1), Err(Error::ShapeMismatch { .. })));
    // Files.
    #[cfg(feature = "io")]
    {
        let bytes = boltzmann::io::conv_dbn_bytes(net);
        assert_eq!(&boltzmann::io::parse_conv_dbn(&bytes).unwrap(), net);
        match boltzmann::io::ModelFile::from_bytes(&bytes).unwrap() {
            boltzmann::io::ModelFile::ConvDbn(d) => assert_eq!(&d, net),
            other => panic!("read back a {}", other.kind()),
        }
        let single = boltzmann::io::conv_rbm_bytes(&net.layers()[0]);
        assert!(
            boltzmann::io::parse_conv_dbn(&single)
                .unwrap_err()
                .to_string()
                .contains("expected a \"conv-dbn\"")
        );
    }
    // Settings of a layer that cannot sit on the one below are refused before training.
    let bad = two.clone().filter_size(5);
    let e = train_conv_dbn(&data, (12, 12, 1), &[one.clone(), bad], |_, _| panic!("trained")).unwrap_err();
    assert!(matches!(e, Error::InvalidParam { .. }), "{e}");
    assert!(train_conv_dbn(&data, (12, 12, 1), &[], |_, _| {}).is_err());
    // Layers that do not chain.
    let l2 = net.layers()[1].clone();
    assert!(ConvDbn::new(vec![l2, net.layers()[0].clone()]).is_err());
    assert!(ConvDbn::new(vec![]).is_err());
}

/// A greedy convolutional-DBN run saved after any epoch (through the
/// checkpoint's bytes) and resumed — in either layer, PCD or CD, on another
/// thread count — ends with the uninterrupted run's model; bad checkpoints
/// and resumes are refused.
#[cfg(feature = "io")]
#[test]
fn conv_dbn_runs_resume_exactly_after_any_epoch() {
    use boltzmann::io::{ModelFile, conv_dbn_checkpoint_bytes, parse_conv_dbn_checkpoint};
    use boltzmann::train::conv::{ConvTrainConfig, train_conv_dbn};
    use boltzmann::train::conv_dbn::ConvDbnTrainer;
    let x: Vec<f32> =
        (0..36 * 144).map(|i| (((i % 12) + 2 * ((i % 144) / 12) + i / 144) % 5 == 0) as u8 as f32).collect();
    let data = boltzmann::data::Dataset::new(x, 144).unwrap();
    let one =
        ConvTrainConfig::default().filters(3).filter_size(5).pool(2).epochs(2).batch_size(12).chains(12);
    let two = one.clone().filters(2).filter_size(3).pool(1).epochs(3).seed(5);
    for persistent in [true, false] {
        let cfgs = [one.clone().persistent(persistent), two.clone().persistent(persistent)];
        let whole = train_conv_dbn(&data, (12, 12, 1), &cfgs, |_, _| {}).unwrap();
        for stop in 0..5 {
            let mut t = pool(2).install(|| ConvDbnTrainer::new(&data, (12, 12, 1), &cfgs)).unwrap();
            for _ in 0..stop {
                pool(2).install(|| t.run_epoch(&data)).unwrap();
            }
            assert_eq!(t.layer(), if stop < 2 { 1 } else { 2 });
            let bytes = conv_dbn_checkpoint_bytes(&t.state());
            let state = parse_conv_dbn_checkpoint(&bytes).unwrap();
            assert_eq!(state, t.state(), "checkpoint round trip");
            assert!(matches!(ModelFile::from_bytes(&bytes).unwrap(), ModelFile::ConvDbnCheckpoint(_)));
            let mut r = pool(3).install(|| ConvDbnTrainer::resume(state, &data)).unwrap();
            while !r.is_done() {
                pool(3).install(|| r.run_epoch(&data)).unwrap();
            }
            assert_eq!(
                r.into_model().unwrap(),
                whole,
                "persistent {persistent}, resumed after {stop} epochs"
            );
        }
    }
    // Bad resumes: other data, a finished layer of another shape, settings
    // that are not the stack's, nothing left to train.
    let cfgs = [one.clone(), two.clone()];
    let mut t = ConvDbnTrainer::new(&data, (12, 12, 1), &cfgs).unwrap();
    for _ in 0..3 {
        t.run_epoch(&data).unwrap();
    }
    let other = boltzmann::data::Dataset::new(data.features()[144..].to_vec(), 144).unwrap();
    assert!(ConvDbnTrainer::resume(t.state(), &other).unwrap_err().to_string().contains("not the data"));
    let mut st = t.state();
    st.done[0] = ConvRbm::random(ConvShape { filters: 4, ..st.done[0].shape() }, 0.1, 0.0, 1).unwrap();
    assert!(ConvDbnTrainer::resume(st, &data).is_err());
    let mut st = t.state();
    st.current.config = st.current.config.clone().filters(7);
    assert!(ConvDbnTrainer::resume(st, &data).is_err());
    let mut st = t.state();
    st.done.push(st.done[0].clone());
    assert!(ConvDbnTrainer::resume(st, &data).is_err());
    // Bad files: each change to the metadata is refused with a message.
    let good = conv_dbn_checkpoint_bytes(&t.state());
    let with = |key: &str, value: &str| {
        let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        let mut h: serde_json::Value = serde_json::from_slice(&good[8..8 + n]).unwrap();
        h["__metadata__"][key] = serde_json::Value::String(value.into());
        let head = serde_json::to_vec(&h).unwrap();
        let mut b = (head.len() as u64).to_le_bytes().to_vec();
        b.extend(head);
        b.extend(&good[8 + n..]);
        b
    };
    for (key, value) in [
        ("layers", "0"),
        ("layers", "65"),
        ("done", "2"),
        ("configs", "[]"),
        ("configs", "{"),
        ("image", "12x12"),
        ("data.checksum", "zz"),
        ("visible_units", "gaussian"),
        ("current.epoch", "x"),
    ] {
        let e = parse_conv_dbn_checkpoint(&with(key, value)).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{key} = {value}: {e}");
    }
    assert!(parse_conv_dbn_checkpoint(&good[..good.len() / 2]).is_err());
    assert!(parse_conv_dbn_checkpoint(&boltzmann::io::conv_rbm_bytes(&t.state().done[0])).is_err());
}

#[test]
fn second_layer_filter_pictures_are_shifted_first_layer_filters() {
    use boltzmann::model::ConvDbn;
    let s1 = shape(10, 10, 2, 2, 3, 2); // pooling maps 4 × 4 × 2
    let w1: Vec<f32> = (0..s1.n_weights()).map(|i| i as f32 * 0.1 - 1.0).collect();
    let l1 = ConvRbm::new(s1, w1.clone(), vec![0.0; 2], vec![0.0; 2]).unwrap();
    let s2 = shape(4, 4, 2, 1, 2, 1);
    // One tap on: (a, b) = (1, 0), channel (= layer-1 filter) 1, weight 4.
    let mut w2 = vec![0.0; s2.n_weights()];
    w2[5] = 4.0; // row (a·r + b)·C + c = (1·2 + 0)·2 + 1, K = 1
    let l2 = ConvRbm::new(s2, w2, vec![0.0], vec![0.0; 2]).unwrap();
    let net = ConvDbn::new(vec![l1, l2]).unwrap();
    let (p1, side1) = net.filter_pictures(1).unwrap();
    assert_eq!(side1, 3);
    for t in 0..9 {
        let want: f32 = (0..2).map(|c| w1[(t * 2 + c) * 2 + 1]).sum();
        assert_eq!(p1[9 + t], want);
    }
    let (p2, side2) = net.filter_pictures(2).unwrap();
    assert_eq!(side2, 2 * 2 + 3 - 1);
    // Filter 1's picture, weighted 4 / P² = 1, at the four offsets (2 + dy, dx).
    let mut want = vec![0.0f32; side2 * side2];
    for dy in 0..2 {
        for dx in 0..2 {
            for y in 0..3 {
                for x in 0..3 {
                    want[(2 + dy + y) * side2 + dx + x] += p1[9 + y * 3 + x];
                }
            }
        }
    }
    for (g, w) in p2.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "{p2:?} vs {want:?}");
    }
    assert!(net.filter_pictures(3).is_err());
}

/// Several layers' features side by side: per image, each named layer's
/// pooling probabilities in the order named (as `features` gives them), for
/// grey images too; bad lists refused.
#[test]
fn features_of_layers_concatenates_each_layer() {
    use boltzmann::model::ConvDbn;
    let l1 = ConvRbm::random(shape(10, 10, 1, 3, 3, 2), 0.5, -0.5, 1).unwrap(); // 4 × 4 × 3
    let l2 = ConvRbm::random(shape(4, 4, 3, 2, 3, 2), 0.5, -0.5, 2).unwrap(); // 1 × 1 × 2
    let net = ConvDbn::new(vec![l1, l2]).unwrap();
    let n = 5;
    let images: Vec<f32> = (0..n * 100).map(|i| ((i * 7919) % 101) as f32 / 100.0).collect();
    let (f1, f2) = (net.features(&images, 1).unwrap(), net.features(&images, 2).unwrap());
    let (w1, w2) = (48, 2);
    for (layers, parts) in
        [(vec![1, 2], vec![(&f1, w1), (&f2, w2)]), (vec![2, 1], vec![(&f2, w2), (&f1, w1)])]
    {
        let f = net.features_of_layers(&images, &layers).unwrap();
        assert_eq!(f.len(), n * (w1 + w2));
        for (i, row) in f.chunks_exact(w1 + w2).enumerate() {
            let want: Vec<f32> =
                parts.iter().flat_map(|(x, w)| x[i * w..(i + 1) * w].iter().copied()).collect();
            assert_eq!(row, &want[..], "{layers:?}, image {i}");
        }
    }
    assert_eq!(net.features_of_layers(&images, &[2]).unwrap(), f2);
    for bad in [&[][..], &[1, 1], &[0], &[3], &[2, 1, 2]] {
        assert!(matches!(net.features_of_layers(&images, bad), Err(Error::InvalidParam { .. })), "{bad:?}");
    }
}

/// Gaussian visible units: the free energy is the enumeration over the
/// detection units, and block Gibbs samples the marginal `p(v) ∝ e^{−F(v)}`
/// of a one-pixel model (χ² on bins against numerical integration).
#[test]
fn gaussian_visible_units_free_energy_and_sampler() {
    use boltzmann::model::ConvVisible;
    let s = shape(3, 5, 1, 2, 2, 2);
    let m = random_model(s, 1.0, 31).with_visible(ConvVisible::Gaussian);
    let hs = configurations(&s);
    let v: Vec<f32> = uniforms(5, 15).iter().map(|u| 4.0 * u - 2.0).collect();
    let es: Vec<f64> = hs.iter().map(|h| reference::conv_energy(&m, &v, h).unwrap()).collect();
    let mx = es.iter().map(|e| -e).fold(f64::NEG_INFINITY, f64::max);
    let want = -(mx + es.iter().map(|e| (-e - mx).exp()).sum::<f64>().ln());
    let got = m.free_energy(&v).unwrap();
    assert!((got - want).abs() < 1e-4 * (1.0 + want.abs()), "F = {got} vs {want}");
    // One pixel, three 1 × 1 filters: p(v) ∝ exp(−½(v − c)² + Σ log(1 + e^{b + w v})).
    let one = shape(1, 1, 1, 3, 1, 1);
    let m = ConvRbm::new(one, vec![1.5, -2.0, 0.8], vec![-1.0, 0.5, -3.0], vec![0.3])
        .unwrap()
        .with_visible(ConvVisible::Gaussian);
    let (lo, hi, bins) = (-6.0f64, 6.0f64, 48usize);
    let width = (hi - lo) / bins as f64;
    let mut p = vec![0.0f64; bins];
    for (b, pb) in p.iter_mut().enumerate() {
        for t in 0..200 {
            let x = lo + width * (b as f64 + (t as f64 + 0.5) / 200.0);
            *pb += (-m.free_energy(&[x as f32]).unwrap()).exp() * width / 200.0;
        }
    }
    let z: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= z);
    let mut c = ConvChains::new(&m, 4000, 9).unwrap();
    c.sweep(&m, 20).unwrap();
    let mut counts = vec![0u64; bins];
    let mut n = 0u64;
    for _ in 0..25 {
        c.sweep(&m, 2).unwrap();
        for &x in c.visible() {
            let b = ((x as f64 - lo) / width).floor();
            if (0.0..bins as f64).contains(&b) {
                counts[b as usize] += 1;
            }
            n += 1;
        }
    }
    let (stat, df) = chi_square(&counts, &p, n);
    let crit = chi2_critical_001(df);
    println!("gaussian 1-pixel: chi2 = {stat:.1} on {df} df (critical {crit:.1})");
    assert!(stat < crit, "chi2 {stat:.1} ≥ {crit:.1} on {df} df");
    // Images of any finite value; not binary ones only.
    let st = rng::chain_streams(1, 2).unwrap();
    assert!(ConvChains::with_images(&m, vec![0.25, -3.0], st.clone()).is_ok());
    assert!(ConvChains::with_images(&m, vec![f32::NAN, 0.0], st).is_err());
}

#[test]
fn gaussian_conv_rbm_trains_and_round_trips() {
    use boltzmann::model::{ConvDbn, ConvVisible};
    use boltzmann::train::conv::{ConvTrainConfig, train_conv_rbm};
    // Standardized-looking real images: smooth bumps plus noise.
    let u = uniforms(12, 40 * 64);
    let x: Vec<f32> =
        (0..40 * 64).map(|i| ((i % 8) as f32 * 0.8 + (i / 64) as f32).sin() + 0.3 * (u[i] - 0.5)).collect();
    let data = boltzmann::data::Dataset::new(x, 64).unwrap();
    let cfg = ConvTrainConfig::default()
        .visible(ConvVisible::Gaussian)
        .filters(4)
        .filter_size(3)
        .pool(2)
        .epochs(3)
        .batch_size(10)
        .chains(10)
        .learning_rate(0.01)
        .schedule(boltzmann::train::Schedule::Constant);
    let mut errs = Vec::new();
    let runs: Vec<ConvRbm> = [1, 2]
        .iter()
        .map(|&t| {
            pool(t)
                .install(|| train_conv_rbm(&data, (8, 8, 1), &cfg, |r| errs.push(r.reconstruction_error)))
                .unwrap()
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0].visible_units(), ConvVisible::Gaussian);
    assert!(errs.iter().all(|e| e.is_finite()));
    #[cfg(feature = "io")]
    {
        let bytes = boltzmann::io::conv_rbm_bytes(&runs[0]);
        assert_eq!(boltzmann::io::parse_conv_rbm(&bytes).unwrap(), runs[0]);
    }
    // Only the first layer of a stack may be Gaussian.
    let s2 = shape(3, 3, 4, 2, 1, 1);
    let top = ConvRbm::random(s2, 0.1, 0.0, 1).unwrap();
    assert!(ConvDbn::new(vec![runs[0].clone(), top.clone()]).is_ok());
    assert!(ConvDbn::new(vec![runs[0].clone(), top.with_visible(ConvVisible::Gaussian)]).is_err());
}

/// A run saved after some epochs and resumed (through the checkpoint's
/// bytes) ends with the same bits as the run that never stopped, for PCD
/// and CD; other data and broken checkpoints are refused.
#[cfg(feature = "io")]
#[test]
fn conv_training_resumes_bit_exactly() {
    use boltzmann::io::{ModelFile, conv_checkpoint_bytes, parse_conv_checkpoint};
    use boltzmann::train::conv::{ConvTrainConfig, ConvTrainer};
    let data = bars(90, 8);
    for (persistent, centered) in [(true, false), (false, false), (true, true)] {
        let cfg = ConvTrainConfig::default()
            .filters(3)
            .filter_size(2)
            .pool(1)
            .epochs(4)
            .batch_size(20)
            .chains(7)
            .persistent(persistent)
            .center_visible(centered);
        let mut straight = ConvTrainer::new(&data, (3, 4, 1), &cfg).unwrap();
        while !straight.is_done() {
            straight.run_epoch(&data).unwrap();
        }
        let mut first = ConvTrainer::new(&data, (3, 4, 1), &cfg).unwrap();
        first.run_epoch(&data).unwrap();
        first.run_epoch(&data).unwrap();
        let bytes = conv_checkpoint_bytes(&first.state());
        let state = parse_conv_checkpoint(&bytes).unwrap();
        assert_eq!(state, first.state());
        match ModelFile::from_bytes(&bytes).unwrap() {
            ModelFile::ConvCheckpoint(s) => assert_eq!(*s, state),
            other => panic!("read back a {}", other.kind()),
        }
        let mut resumed = pool(3).install(|| ConvTrainer::resume(state.clone(), &data)).unwrap();
        while !resumed.is_done() {
            pool(3).install(|| resumed.run_epoch(&data)).unwrap();
        }
        assert_eq!(resumed.state(), straight.state(), "persistent {persistent}, centered {centered}");
        if centered {
            // Centering moves the model elsewhere (not the plain run's bits).
            let plain = cfg.clone().center_visible(false);
            let mut p = ConvTrainer::new(&data, (3, 4, 1), &plain).unwrap();
            while !p.is_done() {
                p.run_epoch(&data).unwrap();
            }
            assert_ne!(p.model(), straight.model());
        }
        assert!(resumed.run_epoch(&data).is_err(), "no epoch after the last");
        // Other data.
        let other = bars(90, 9);
        assert!(matches!(ConvTrainer::resume(state.clone(), &other), Err(Error::InvalidParam { .. })));
        // Broken states and files.
        let mut bad = state.clone();
        bad.order[0] = bad.order[1];
        assert!(ConvTrainer::resume(bad, &data).is_err());
        let mut bad = state.clone();
        bad.cd_streams[0] = [0; 4];
        assert!(ConvTrainer::resume(bad, &data).is_err());
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 9] ^= 1;
        assert!(parse_conv_checkpoint(&flipped).is_err());
        assert!(parse_conv_checkpoint(&bytes[..bytes.len() / 2]).is_err());
    }
}

/// The joint Gibbs sampler of a 2-layer convolutional DBN samples the exact
/// joint of the undirected stack `E = E₁(v, h₁) + E₂(p₁, h₂)` (χ² on the
/// image and the top pooling units), for any thread count.
#[test]
fn conv_dbn_chains_sample_the_exact_joint_of_a_tiny_stack() {
    use boltzmann::model::ConvDbn;
    use boltzmann::sampler::ConvDbnChains;
    let s1 = shape(3, 3, 1, 2, 2, 2); // pooling 1 × 1 × 2
    let s2 = shape(1, 1, 2, 2, 1, 1);
    let l1 = random_model(s1, 2.0, 41);
    let l2 = random_model(s2, 2.5, 42);
    let net = ConvDbn::new(vec![l1.clone(), l2.clone()]).unwrap();
    let (h1s, h2s) = (configurations(&s1), configurations(&s2));
    let mut exact = vec![0.0f64; 512 * 4];
    // Also the joint of the two pooling layers (p₁, p₂), where the
    // top-down coupling shows most.
    let mut exact_pp = vec![0.0f64; 16];
    for code in 0..512usize {
        let v = binary_image(code, 9);
        for h1 in &h1s {
            let e1 = reference::conv_energy(&l1, &v, h1).unwrap();
            let p1 = pooled_of(&s1, h1);
            for h2 in &h2s {
                let e2 = reference::conv_energy(&l2, &p1, h2).unwrap();
                let pc =
                    pooled_of(&s2, h2).iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>();
                let p1c = p1.iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>();
                exact[(code << 2) | pc] += (-(e1 + e2)).exp();
                exact_pp[(p1c << 2) | pc] += (-(e1 + e2)).exp();
            }
        }
    }
    let z: f64 = exact.iter().sum();
    exact.iter_mut().for_each(|x| *x /= z);
    exact_pp.iter_mut().for_each(|x| *x /= z);
    let run = |threads: usize| {
        pool(threads).install(|| {
            let mut c = ConvDbnChains::new(&net, 2000, 17).unwrap();
            c.sweep(&net, 60).unwrap();
            let mut counts = vec![0u64; exact.len()];
            let mut counts_pp = vec![0u64; 16];
            let code = |x: &[f32]| x.iter().enumerate().map(|(i, &x)| (x as usize) << i).sum::<usize>();
            for _ in 0..40 {
                c.sweep(&net, 3).unwrap();
                for ((v, p1), p2) in
                    c.visible().chunks(9).zip(c.pooled(1).chunks(2)).zip(c.pooled(2).chunks(2))
                {
                    counts[(code(v) << 2) | code(p2)] += 1;
                    counts_pp[(code(p1) << 2) | code(p2)] += 1;
                }
            }
            ((counts, counts_pp), c)
        })
    };
    let ((counts, counts_pp), c1) = run(1);
    let ((counts2, _), c3) = run(3);
    assert_eq!(counts, counts2, "the chains depend on the thread count");
    assert_eq!(c1, c3);
    for (what, counts, p) in [("(v, p2)", &counts, &exact), ("(p1, p2)", &counts_pp, &exact_pp)] {
        let (stat, df) = chi_square(counts, p, 2000 * 40);
        let crit = chi2_critical_001(df.max(10));
        println!("2-layer stack {what}: chi2 = {stat:.1} on {df} df (critical {crit:.1})");
        assert!(stat < crit, "{what}: chi2 {stat:.1} ≥ {crit:.1} on {df} df");
    }
    // Another network is refused.
    let other = ConvDbn::new(vec![l1]).unwrap();
    let mut c = c1;
    assert!(matches!(c.sweep(&other, 1), Err(Error::ShapeMismatch { .. })));
}

/// AIS for convolutional RBMs agrees with the exact `log Z` of tiny models
/// (several shapes, strong filters, base biases from the model's own
/// samples and plain zeros), gives the same estimate for any thread count,
/// and refuses bad input.
#[test]
fn conv_ais_matches_exact_log_z() {
    use boltzmann::eval::{AisConfig, conv as ceval, linear_schedule};
    let shapes = [
        ConvShape { height: 3, width: 3, channels: 1, filters: 2, filter_size: 2, pool: 2 },
        ConvShape { height: 4, width: 4, channels: 1, filters: 1, filter_size: 1, pool: 2 },
        ConvShape { height: 2, width: 3, channels: 2, filters: 3, filter_size: 2, pool: 1 },
    ];
    for (i, s) in shapes.into_iter().enumerate() {
        let (w, b, _) = ConvRbm::random(s, 1.2, -0.5, 10 + i as u64).unwrap().into_parts();
        let c: Vec<f32> = (0..s.channels).map(|ch| 0.3 - 0.6 * ch as f32).collect();
        let m = ConvRbm::new(s, w, b, c).unwrap();
        let exact = ceval::log_z_exact(&m).unwrap();
        let d = s.n_visible();
        let bases = [vec![0.0f32; d], (0..d).map(|j| (j % 3) as f32 - 1.0).collect::<Vec<f32>>()];
        for base in &bases {
            let config = AisConfig::default().runs(300).schedule(linear_schedule(1500)).seed(3);
            let est = ceval::ais(&m, base, &config).unwrap();
            assert!(
                (est.log_z - exact).abs() < 0.05,
                "shape {i}: AIS {} vs exact {exact} (interval {}..{})",
                est.log_z,
                est.log_z_low,
                est.log_z_high
            );
            assert!(est.log_z_low <= est.log_z && est.log_z <= est.log_z_high);
        }
        // Same estimate for any thread count.
        let config = AisConfig::default().runs(37).schedule(linear_schedule(200)).seed(5);
        let go = |t: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| ceval::ais(&m, &bases[1], &config).unwrap())
        };
        assert_eq!(go(1), go(3), "shape {i}");
    }
    // Bad input.
    let s = ConvShape { height: 3, width: 3, channels: 1, filters: 2, filter_size: 2, pool: 2 };
    let m = ConvRbm::random(s, 0.5, 0.0, 1).unwrap();
    let ok = AisConfig::default().runs(4).schedule(linear_schedule(10));
    assert!(ceval::ais(&m, &[0.0; 8], &ok).is_err(), "base of the wrong length");
    let mut nan = [0.0f32; 9];
    nan[4] = f32::NAN;
    assert!(ceval::ais(&m, &nan, &ok).is_err(), "non-finite base");
    assert!(ceval::ais(&m, &[0.0; 9], &ok.clone().runs(0)).is_err(), "no runs");
    assert!(ceval::ais(&m, &[0.0; 9], &ok.clone().schedule(vec![0.0, 0.7, 0.5, 1.0])).is_err());
    assert!(ceval::ais(&m, &[0.0; 9], &ok.clone().schedule(vec![0.1, 1.0])).is_err());
    let g = m.clone().with_visible(boltzmann::model::ConvVisible::Gaussian);
    assert!(ceval::ais(&g, &[0.0; 9], &ok).is_err(), "Gaussian visible units");
}

/// `reference::conv_gibbs_sweep`, the naive f64 twin that `bench conv
/// --naive` times, draws what `ConvChains::sweep` draws from the same
/// states and streams (up to the rare uniform that falls between the f32
/// and the f64 probability).
#[test]
fn naive_conv_sweep_is_the_fast_one() {
    let s = ConvShape { height: 12, width: 12, channels: 1, filters: 5, filter_size: 5, pool: 2 };
    let m = ConvRbm::random(s, 0.4, -1.0, 3).unwrap();
    let n = 40;
    let d = s.n_visible();
    let images: Vec<f32> = (0..n * d).map(|i| ((i * 7 + i / 13) % 3 == 0) as u8 as f32).collect();
    let streams = rng::chain_streams(9, n).unwrap();
    let mut fast = ConvChains::with_images(&m, images.clone(), streams.clone()).unwrap();
    fast.sweep(&m, 1).unwrap();
    let (mut same_v, mut same_h) = (0usize, 0usize);
    for (c, st) in streams.into_iter().enumerate() {
        let mut u = reference::Uniforms::new(st);
        let (v2, h) = reference::conv_gibbs_sweep(&m, &images[c * d..(c + 1) * d], &mut u);
        same_v += v2.iter().zip(&fast.visible()[c * d..(c + 1) * d]).filter(|(a, b)| a == b).count();
        let nh = s.n_hidden();
        same_h += h.iter().zip(&fast.hidden()[c * nh..(c + 1) * nh]).filter(|(a, b)| a == b).count();
    }
    assert!(same_h as f64 >= 0.999 * (n * s.n_hidden()) as f64, "{same_h} of {}", n * s.n_hidden());
    assert!(same_v as f64 >= 0.999 * (n * d) as f64, "{same_v} of {}", n * d);
    let ones = fast.hidden().iter().filter(|&&x| x == 1.0).count();
    assert!(ones > 0 && fast.visible().contains(&1.0) && fast.visible().contains(&0.0));
}

/// RAISE for convolutional RBMs: below the exact average log-probability of
/// tiny models (up to noise) and close to it with a fine schedule; the
/// same estimates for any thread count; bad input refused.
#[test]
fn conv_raise_is_a_close_lower_bound() {
    use boltzmann::data::Dataset;
    use boltzmann::eval::{RaiseConfig, conv as ceval, linear_schedule};
    let shapes = [
        ConvShape { height: 3, width: 3, channels: 1, filters: 2, filter_size: 2, pool: 2 },
        ConvShape { height: 2, width: 3, channels: 2, filters: 3, filter_size: 2, pool: 1 },
    ];
    for (i, s) in shapes.into_iter().enumerate() {
        let m = ConvRbm::random(s, 1.2, -0.5, 20 + i as u64).unwrap();
        let d = s.n_visible();
        // Examples drawn from the model itself (where RAISE is tight).
        let mut chains = ConvChains::new(&m, 60, 4).unwrap();
        chains.sweep(&m, 50).unwrap();
        let data = Dataset::new(chains.visible().to_vec(), d).unwrap();
        let exact = ceval::average_log_prob(&m, &data, ceval::log_z_exact(&m).unwrap()).unwrap();
        let base: Vec<f32> = (0..d).map(|j| (j % 3) as f32 * 0.5 - 0.5).collect();
        let config = RaiseConfig::default().runs_per_example(4).schedule(linear_schedule(2000)).seed(1);
        let est = ceval::raise(&m, &base, &data, &config).unwrap();
        assert!(
            est.mean <= exact + 3.0 * est.std_err + 0.01,
            "shape {i}: RAISE {} above exact {exact}",
            est.mean
        );
        assert!(est.mean > exact - 0.2, "shape {i}: RAISE {} far below exact {exact}", est.mean);
        assert_eq!(est.log_probs.len(), 60);
        let go = |t: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap().install(|| {
                ceval::raise(&m, &base, &data, &config.clone().schedule(linear_schedule(50))).unwrap()
            })
        };
        assert_eq!(go(1), go(3), "shape {i}");
    }
    let s = ConvShape { height: 3, width: 3, channels: 1, filters: 2, filter_size: 2, pool: 2 };
    let m = ConvRbm::random(s, 0.5, 0.0, 1).unwrap();
    let data = Dataset::new(vec![1.0; 18], 9).unwrap();
    let ok = RaiseConfig::default().schedule(linear_schedule(10));
    assert!(ceval::raise(&m, &[0.0; 9], &data, &ok.clone().runs_per_example(0)).is_err());
    assert!(ceval::raise(&m, &[0.0; 8], &data, &ok).is_err());
    assert!(ceval::raise(&m, &[0.0; 9], &Dataset::new(vec![1.0; 16], 8).unwrap(), &ok).is_err());
    assert!(ceval::raise(&m, &[0.0; 9], &Dataset::new(vec![0.5; 18], 9).unwrap(), &ok).is_err());
    assert!(ceval::raise(&m, &[0.0; 9], &data, &ok.clone().schedule(vec![0.0, 0.5])).is_err());
}

/// Max-pooling given the pooling units: off blocks stay off; on blocks have
/// exactly one unit on, drawn with probability `e^ℓᵢ / Σ e^ℓ` (20,000 draws,
/// each frequency within 5 standard errors); an on block whose weights all
/// underflow gets the unit of the largest logit; bad pooling states refused.
#[test]
fn clamped_max_pooling_draws_the_conditional_given_the_pooling_units() {
    let s = shape(5, 5, 1, 2, 2, 2); // 4 × 4 detection, 2 × 2 blocks, 2 filters
    let logits: Vec<f32> = uniforms(5, s.n_hidden()).iter().map(|u| 4.0 * u - 2.0).collect();
    let pooled: Vec<f32> = (0..s.n_pooled()).map(|b| (b % 3 != 0) as u8 as f32).collect();
    let (wh, kk, draws) = (s.hidden_width(), s.filters, 20_000usize);
    let mut counts = vec![0usize; s.n_hidden()];
    let mut h = vec![0.0f32; s.n_hidden()];
    for t in 0..draws {
        conv::sample_max_pool_clamped(&s, &logits, &pooled, &uniforms(100 + t as u64, s.n_pooled()), &mut h)
            .unwrap();
        for (c, &x) in counts.iter_mut().zip(&h) {
            *c += x as usize;
        }
    }
    for bp in 0..s.blocks() {
        let (py, px) = (bp / (wh / 2), bp % (wh / 2));
        for k in 0..kk {
            let units: Vec<usize> =
                (0..4).map(|i| ((py * 2 + i / 2) * wh + px * 2 + i % 2) * kk + k).collect();
            let on: usize = units.iter().map(|&i| counts[i]).sum();
            if pooled[bp * kk + k] == 0.0 {
                assert_eq!(on, 0, "block {bp}, filter {k} is off");
                continue;
            }
            assert_eq!(on, draws, "block {bp}, filter {k}: one unit on in every draw");
            let z: f64 = units.iter().map(|&i| (logits[i] as f64).exp()).sum();
            for &i in &units {
                let p = (logits[i] as f64).exp() / z;
                let f = counts[i] as f64 / draws as f64;
                let se = (p * (1.0 - p) / draws as f64).sqrt();
                assert!((f - p).abs() < 5.0 * se + 1e-9, "unit {i}: {f} vs {p}");
            }
        }
    }
    // Every weight of the on blocks underflows: the largest logit wins.
    let tiny: Vec<f32> = (0..s.n_hidden()).map(|i| -300.0 - (i % 5) as f32).collect();
    let all_on = vec![1.0f32; s.n_pooled()];
    conv::sample_max_pool_clamped(&s, &tiny, &all_on, &vec![0.5; s.n_pooled()], &mut h).unwrap();
    for bp in 0..s.blocks() {
        let (py, px) = (bp / (wh / 2), bp % (wh / 2));
        for k in 0..kk {
            let units: Vec<usize> =
                (0..4).map(|i| ((py * 2 + i / 2) * wh + px * 2 + i % 2) * kk + k).collect();
            let best = *units.iter().max_by(|&&a, &&b| tiny[a].total_cmp(&tiny[b])).unwrap();
            assert!(units.iter().all(|&i| h[i] == (i == best) as u8 as f32), "block {bp}, filter {k}");
        }
    }
    let mut bad = all_on.clone();
    bad[1] = 0.5;
    assert!(matches!(
        conv::sample_max_pool_clamped(&s, &logits, &bad, &vec![0.5; s.n_pooled()], &mut h),
        Err(Error::InvalidParam { .. })
    ));
    assert!(conv::sample_max_pool_clamped(&s, &logits, &all_on, &[0.5], &mut h).is_err());
}

/// Gibbs with the pooling units clamped samples `p(v | pooled)`: on a tiny
/// model (4 × 4 image, 2 filters of 3 × 3, one block each), the mean image
/// of 2,000 chains over 40 sweeps after 40 of burn-in matches the exact
/// conditional mean by enumeration of the 65,536 images (within 0.03 per
/// pixel; the unclamped marginal differs by more than 0.1 somewhere).
#[test]
fn clamped_sweeps_sample_the_images_given_the_pooling_units() {
    let s = shape(4, 4, 1, 2, 3, 2);
    let m = random_model(s, 1.5, 21);
    let d = s.n_visible();
    let clamp = [1.0f32, 0.0]; // filter 0's block on, filter 1's off
    // Exact: p(v | pooled) ∝ e^{c·Σv} · Σ_{i ∈ block 0} e^{ℓ₀ᵢ(v)}.
    let (mut mean, mut marginal, mut z, mut zm) = (vec![0.0f64; d], vec![0.0f64; d], 0.0f64, 0.0f64);
    let mut cols = vec![0.0f32; s.positions() * s.taps()];
    let mut logits = vec![0.0f32; s.n_hidden()];
    for code in 0..1usize << d {
        let v: Vec<f32> = (0..d).map(|i| ((code >> i) & 1) as f32).collect();
        conv::correlate(&s, &v, m.weights(), &mut cols, &mut logits).unwrap();
        let l: Vec<f64> =
            logits.iter().enumerate().map(|(i, &x)| (x + m.hidden_bias()[i % 2]) as f64).collect();
        let on: f64 = v.iter().sum::<f32>() as f64 * m.visible_bias()[0] as f64;
        let block = |k: usize| (0..s.positions()).map(|p| l[p * 2 + k].exp()).sum::<f64>();
        let w = (on).exp() * block(0);
        let wm = (on).exp() * (1.0 + block(0)) * (1.0 + block(1));
        z += w;
        zm += wm;
        for (i, &x) in v.iter().enumerate() {
            mean[i] += w * x as f64;
            marginal[i] += wm * x as f64;
        }
    }
    mean.iter_mut().for_each(|x| *x /= z);
    marginal.iter_mut().for_each(|x| *x /= zm);
    assert!(mean.iter().zip(&marginal).any(|(a, b)| (a - b).abs() > 0.1), "{mean:?} vs {marginal:?}");
    let n = 2000;
    let pooled: Vec<f32> = (0..n).flat_map(|_| clamp).collect();
    let mut c = ConvChains::new(&m, n, 3).unwrap();
    c.sweep_clamped(&m, &pooled, 40).unwrap();
    let mut got = vec![0.0f64; d];
    for _ in 0..40 {
        c.sweep_clamped(&m, &pooled, 1).unwrap();
        for img in c.visible().chunks_exact(d) {
            got.iter_mut().zip(img).for_each(|(g, &x)| *g += x as f64 / (40 * n) as f64);
        }
    }
    assert_eq!(c.pooled(), &pooled[..]);
    for (i, (g, w)) in got.iter().zip(&mean).enumerate() {
        assert!((g - w).abs() < 0.03, "pixel {i}: {g} vs exact {w}");
    }
    assert!(c.sweep_clamped(&m, &pooled[..2], 1).is_err());
    let mut bad = pooled.clone();
    bad[7] = 2.0;
    assert!(matches!(c.sweep_clamped(&m, &bad, 1), Err(Error::InvalidParam { .. })));
}

/// A convolutional DBN sampled as a DBN generates (top RBM, then clamped
/// passes down): the same bits for 1 and 3 threads; a one-layer network is
/// its RBM's own chains; no chains refused.
#[test]
fn conv_dbn_down_pass_samples() {
    use boltzmann::model::ConvDbn;
    use boltzmann::sampler::sample_conv_dbn;
    let l1 = random_model(shape(8, 8, 1, 3, 3, 2), 0.8, 31); // 3 × 3 × 3 pooling maps
    let l2 = random_model(shape(3, 3, 3, 2, 2, 2), 0.8, 32);
    let net = ConvDbn::new(vec![l1.clone(), l2]).unwrap();
    let one = pool(1).install(|| sample_conv_dbn(&net, 9, (15, 7), 4).unwrap());
    let three = pool(3).install(|| sample_conv_dbn(&net, 9, (15, 7), 4).unwrap());
    assert_eq!(one, three);
    assert!(one.0.iter().all(|&x| x == 0.0 || x == 1.0) && one.1.iter().all(|x| (0.0..=1.0).contains(x)));
    let single = ConvDbn::new(vec![l1.clone()]).unwrap();
    let (v, _) = sample_conv_dbn(&single, 5, (12, 3), 8).unwrap();
    let mut c = ConvChains::new(&l1, 5, 8).unwrap();
    c.sweep(&l1, 12).unwrap();
    assert_eq!(v, c.visible());
    assert!(matches!(sample_conv_dbn(&net, 0, (1, 1), 1), Err(Error::InvalidParam { .. })));
}
