//! Every fast kernel against its naive twin in `boltzmann::reference`, on
//! every SIMD path this CPU has, over odd lengths, offsets and edge values.
#![allow(clippy::needless_range_loop)] // index loops mirror the math

use boltzmann::kernels::{activation, bernoulli, gemm};
use boltzmann::{Isa, reference, rng};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const LENGTHS: &[usize] = &[0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 67, 257, 1000, 1031];

fn isas() -> Vec<Isa> {
    let all = Isa::available();
    for isa in Isa::ALL {
        if !all.contains(&isa) {
            eprintln!("note: {isa} not available on this CPU, skipped");
        }
    }
    all
}

fn edge_values() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        1e30,
        -1e30,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-40,
        -1e-40,
        1e-45,
        88.0,
        -88.0,
        88.8,
        -88.8,
        87.3,
        -87.3,
        103.0,
        -103.0,
        104.5,
        -104.5,
        150.0,
        -150.0,
        17.0,
        -17.0,
        1e-8,
        -1e-8,
        0.5,
        -0.5,
    ];
    // A dense log-spaced sweep over both signs.
    let mut x = 1e-12f64;
    while x < 4e38 {
        v.push(x as f32);
        v.push(-x as f32);
        x *= 1.013;
    }
    // And a fine linear sweep where the functions curve.
    for i in -20000..=20000 {
        v.push(i as f32 * 0.006);
    }
    v
}

/// Size of one ulp at `y` (as f32), in f64; subnormal spacing below.
fn ulp(y: f64) -> f64 {
    let a = (y.abs() as f32).max(f32::MIN_POSITIVE);
    let e = a.to_bits() >> 23;
    2f64.powi(e as i32 - 127 - 23)
}

type Fast = fn(Isa, &[f32], Option<&[f32]>, &mut [f32]) -> boltzmann::Result<()>;

fn check_activation(name: &str, fast: Fast, exact: fn(f64) -> f64, max_ulps: f64) {
    let xs = edge_values();
    for isa in isas() {
        let mut out = vec![f32::NAN; xs.len()];
        fast(isa, &xs, None, &mut out).unwrap();
        let mut worst = (0.0f64, 0.0f32);
        let mut worst_abs_sub = 0.0f64;
        for (&x, &y) in xs.iter().zip(&out) {
            let r = exact(x as f64);
            if x.is_nan() {
                assert!(y.is_nan(), "{name}/{isa}: NaN in, {y} out");
                continue;
            }
            assert!(!y.is_nan(), "{name}/{isa}({x}) = NaN");
            if x.is_finite() {
                assert!(y.is_finite() || r.abs() > f32::MAX as f64, "{name}/{isa}({x}) = {y} overflowed");
            }
            if r.is_infinite() || y.is_infinite() {
                assert_eq!(y as f64, r, "{name}/{isa}({x})");
                continue;
            }
            if r.abs() < f32::MIN_POSITIVE as f64 {
                worst_abs_sub = worst_abs_sub.max((y as f64 - r).abs());
                continue;
            }
            let e = (y as f64 - r).abs() / ulp(r);
            if e > worst.0 {
                worst = (e, x);
            }
        }
        println!(
            "{name}/{isa}: max error {:.2} ulp (at x = {:e}); subnormal outputs within {:e} absolute",
            worst.0, worst.1, worst_abs_sub
        );
        assert!(worst.0 <= max_ulps, "{name}/{isa}: {:.2} ulp at x = {:e}", worst.0, worst.1);
        assert!(worst_abs_sub <= 4.0 * 1.4e-45, "{name}/{isa}: subnormal error {worst_abs_sub:e}");
    }
}

#[test]
fn sigmoid_matches_f64_reference() {
    check_activation("sigmoid", activation::sigmoid_on, reference::sigmoid, 3.0);
}

#[test]
fn softplus_matches_f64_reference() {
    check_activation("softplus", activation::softplus_on, reference::softplus, 3.0);
}

#[test]
fn log_sigmoid_matches_f64_reference() {
    check_activation("log_sigmoid", activation::log_sigmoid_on, reference::log_sigmoid, 3.0);
}

#[test]
fn activations_limits_and_nan() {
    let x = [f32::NEG_INFINITY, f32::INFINITY, f32::NAN, 0.0];
    let mut o = [0.0f32; 4];
    for isa in isas() {
        activation::sigmoid_on(isa, &x, None, &mut o).unwrap();
        assert_eq!(&o[..2], &[0.0, 1.0]);
        assert!(o[2].is_nan());
        assert_eq!(o[3], 0.5);
        activation::softplus_on(isa, &x, None, &mut o).unwrap();
        assert_eq!(&o[..2], &[0.0, f32::INFINITY]);
        assert!(o[2].is_nan());
        assert!((o[3] - std::f32::consts::LN_2).abs() <= f32::EPSILON);
        activation::log_sigmoid_on(isa, &x, None, &mut o).unwrap();
        assert_eq!(&o[..2], &[f32::NEG_INFINITY, 0.0]);
        assert!(o[2].is_nan());
    }
}

/// Each element's result is independent of slice length, offset, bias
/// path and in-place use: the property chain reproducibility rests on.
#[test]
fn activations_position_independent_and_bias() {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(5);
    let data: Vec<f32> = (0..1100).map(|_| (g.next_u64() as i64 >> 40) as f32 * 1e-5).collect();
    let bias: Vec<f32> = (0..1100).map(|i| (i % 13) as f32 * 0.25 - 1.5).collect();
    for isa in isas() {
        let mut full = vec![0.0f32; data.len()];
        activation::sigmoid_on(isa, &data, None, &mut full).unwrap();
        for &n in LENGTHS.iter().filter(|&&n| n <= 1031) {
            for off in 0..17 {
                if off + n > data.len() {
                    continue;
                }
                let mut out = vec![f32::NAN; n];
                activation::sigmoid_on(isa, &data[off..off + n], None, &mut out).unwrap();
                assert_eq!(out, full[off..off + n], "{isa} n={n} off={off}");
            }
        }
        // Bias: equals adding first.
        let summed: Vec<f32> = data.iter().zip(&bias).map(|(a, b)| a + b).collect();
        let mut a = vec![0.0f32; data.len()];
        let mut b = vec![0.0f32; data.len()];
        activation::softplus_on(isa, &data, Some(&bias), &mut a).unwrap();
        activation::softplus_on(isa, &summed, None, &mut b).unwrap();
        assert_eq!(a, b);
        // In place.
        if isa == boltzmann::active_isa() {
            let mut c = summed.clone();
            activation::softplus_in_place(&mut c);
            assert_eq!(c, b);
        }
    }
}

#[test]
fn activation_shape_errors() {
    let mut out = [0.0f32; 3];
    assert!(matches!(
        activation::sigmoid(&[1.0, 2.0], &mut out),
        Err(boltzmann::Error::ShapeMismatch { .. })
    ));
    assert!(activation::softplus_on(Isa::Scalar, &[1.0; 3], Some(&[0.0; 2]), &mut out).is_err());
}

#[test]
fn xoshiro_fill_equals_rand_xoshiro_on_every_path() {
    for isa in isas() {
        for chains in [1usize, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33] {
            for words in [1usize, 2, 3, 7, 8, 9, 16, 17, 40] {
                let mut states = rng::chain_streams(11, chains).unwrap();
                let start = states.clone();
                let mut out = vec![0u64; chains * words];
                rng::fill_u64_on(isa, &mut states, words, &mut out).unwrap();
                for c in 0..chains {
                    let mut g = rng::to_generator(start[c]);
                    for t in 0..words {
                        assert_eq!(
                            out[c * words + t],
                            g.next_u64(),
                            "{isa} chains={chains} words={words} c={c} t={t}"
                        );
                    }
                    assert_eq!(states[c], rng::from_generator(&g), "{isa}: state after fill");
                }
            }
        }
    }
}

#[test]
fn chain_streams_are_jumped_seeded_generators() {
    let s = rng::chain_streams(99, 4).unwrap();
    let mut g = Xoshiro256PlusPlus::seed_from_u64(99);
    for st in &s {
        assert_eq!(*st, rng::from_generator(&g));
        g.jump();
    }
    assert_ne!(s[0], s[1]);
}

#[test]
fn fill_uniform_matches_reference_and_is_open_interval() {
    let mut st = rng::chain_streams(3, 5).unwrap();
    let start = st.clone();
    let mut u = vec![0.0f32; 5 * 7];
    rng::fill_uniform(&mut st, 7, &mut u).unwrap();
    for c in 0..5 {
        let r = reference::Uniforms::new(start[c]).take(7);
        for i in 0..7 {
            assert_eq!(u[c * 7 + i] as f64, r[i]);
        }
    }
    assert!(u.iter().all(|&x| x > 0.0 && x < 1.0));
    // The extreme words map strictly inside (0, 1), symmetrically.
    assert_eq!(rng::uniform_from_bits(0), 1.0 / 16_777_216.0);
    assert_eq!(rng::uniform_from_bits(u32::MAX), 1.0 - 1.0 / 16_777_216.0);
    assert!(rng::fill_uniform(&mut st, 7, &mut u[..3]).is_err());
}

/// Over many uniforms, the mean and variance match U(0,1) within 5σ.
#[test]
fn uniforms_have_uniform_moments() {
    let mut st = rng::chain_streams(17, 64).unwrap();
    let n = 4096;
    let mut u = vec![0.0f32; 64 * n];
    rng::fill_uniform(&mut st, n, &mut u).unwrap();
    let m = u.iter().map(|&x| x as f64).sum::<f64>() / u.len() as f64;
    let v = u.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / u.len() as f64;
    let se_mean = (1.0f64 / 12.0 / u.len() as f64).sqrt();
    assert!((m - 0.5).abs() < 5.0 * se_mean, "mean {m}");
    let se_var = (1.0f64 / 180.0 / u.len() as f64).sqrt();
    assert!((v - 1.0 / 12.0).abs() < 5.0 * se_var, "variance {v}");
}

/// The f64 Box–Muller normals that `fill_normal` approximates, from the
/// same stream: per block of 32, words 0..16 are radius and 16..32 angle
/// uniforms.
fn reference_normals(state: rng::StreamState, n: usize) -> Vec<f64> {
    let padded = n.div_ceil(32) * 32;
    let mut g = rng::to_generator(state);
    let words: Vec<u32> = (0..padded / 2)
        .flat_map(|_| {
            let w = g.next_u64();
            [w as u32, (w >> 32) as u32]
        })
        .collect();
    let mut out = Vec::with_capacity(padded);
    for b in words.chunks_exact(32) {
        let mut block = [0.0f64; 32];
        for i in 0..16 {
            let u1 = rng::uniform_from_bits(b[i]) as f64;
            let u2 = rng::uniform_from_bits(b[16 + i]) as f64;
            let r = (-2.0 * u1.ln()).sqrt();
            let t = std::f64::consts::TAU * u2;
            block[i] = r * t.cos();
            block[16 + i] = r * t.sin();
        }
        out.extend_from_slice(&block);
    }
    out.truncate(n);
    out
}

/// Every ISA's normals match f64 Box–Muller on the same words (absolute
/// error ≤ 2e-6 on values up to 5.77), rows of any length.
#[test]
fn fill_normal_matches_f64_box_muller_on_every_path() {
    for n in [1, 31, 32, 33, 784, 1000] {
        let start = rng::chain_streams(5, 9).unwrap();
        let want: Vec<Vec<f64>> = start.iter().map(|&s| reference_normals(s, n)).collect();
        for isa in isas() {
            let mut st = start.clone();
            let mut z = vec![0.0f32; 9 * n];
            rng::fill_normal_on(isa, &mut st, n, &mut z).unwrap();
            let mut worst = 0.0f64;
            for (c, w) in want.iter().enumerate() {
                for (i, &w) in w.iter().enumerate() {
                    worst = worst.max((z[c * n + i] as f64 - w).abs());
                }
            }
            assert!(worst <= 2e-6, "{isa} n={n}: max abs error {worst}");
            if n == 1000 {
                println!("{isa}: max abs error {worst:.2e}");
            }
            // The streams advanced by 16 outputs per block of 32.
            let mut g = rng::to_generator(start[8]);
            for _ in 0..n.div_ceil(32) * 16 {
                g.next_u64();
            }
            assert_eq!(rng::from_generator(&g), st[8], "{isa} n={n}");
        }
    }
    let mut st = rng::chain_streams(5, 2).unwrap();
    assert!(rng::fill_normal(&mut st, 3, &mut [0.0; 5]).is_err());
    assert!(rng::fill_normal(&mut st, 0, &mut []).is_ok());
}

/// 1.28 M normals: mean, variance, fourth moment within 5 standard errors,
/// and a Kolmogorov–Smirnov distance below the 0.1 % critical value.
#[test]
fn normals_have_normal_distribution() {
    let (rows, n) = (1280, 1000);
    let mut st = rng::chain_streams(23, rows).unwrap();
    let mut z = vec![0.0f32; rows * n];
    rng::fill_normal(&mut st, n, &mut z).unwrap();
    let len = z.len() as f64;
    let m = z.iter().map(|&x| x as f64).sum::<f64>() / len;
    let v = z.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / len;
    let k = z.iter().map(|&x| (x as f64).powi(4)).sum::<f64>() / len;
    assert!(m.abs() < 5.0 / len.sqrt(), "mean {m}");
    assert!((v - 1.0).abs() < 5.0 * (2.0 / len).sqrt(), "variance {v}");
    assert!((k - 3.0).abs() < 5.0 * (96.0f64 / len).sqrt(), "fourth moment {k}");
    let mut sorted: Vec<f64> = z.iter().step_by(7).map(|&x| x as f64).collect();
    sorted.sort_by(f64::total_cmp);
    let cdf = |x: f64| 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2));
    let ns = sorted.len() as f64;
    let d = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / ns).abs().max(((i + 1) as f64 / ns - f).abs())
        })
        .fold(0.0, f64::max);
    assert!(d < 1.95 / ns.sqrt(), "KS distance {d} over {ns} normals");
}

/// erf in f64: the Maclaurin series for |x| ≤ 3, the continued fraction
/// of erfc beyond (both far more accurate than the KS test needs).
fn erf(x: f64) -> f64 {
    if x.abs() > 3.0 {
        return x.signum() * (1.0 - erfc_cf(x.abs()));
    }
    let mut term = x;
    let mut sum = x;
    let x2 = x * x;
    for k in 1..200 {
        term *= -x2 / k as f64;
        let t = term / (2 * k + 1) as f64;
        sum += t;
        if t.abs() < 1e-17 {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

fn erfc_cf(x: f64) -> f64 {
    // The continued fraction evaluated from its tail.
    let mut f = 0.0;
    for k in (1..60).rev() {
        f = (k as f64 / 2.0) / (x + f);
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / (x + f)
}

#[test]
fn bernoulli_matches_reference_on_every_path() {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(8);
    for isa in isas() {
        let mut boundary = 0usize;
        let mut total = 0usize;
        for &n in &[1usize, 7, 16, 17, 63, 65, 257] {
            for rows in [1usize, 3] {
                let stride = n + (n & 1) + 2;
                let pre: Vec<f32> =
                    (0..rows * n).map(|_| ((g.next_u64() >> 40) as f32 / 1.6e6) - 5.0).collect();
                let bias: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
                let bits: Vec<u32> = (0..rows * stride).map(|_| g.next_u64() as u32).collect();
                let mut out = vec![f32::NAN; rows * n];
                bernoulli::bernoulli_from_bits_on(isa, &pre, &bias, &bits, stride, &mut out).unwrap();
                for r in 0..rows {
                    for i in 0..n {
                        let u = rng::uniform_from_bits(bits[r * stride + i]) as f64;
                        let p = reference::sigmoid(pre[r * n + i] as f64 + bias[i] as f64);
                        let want = (u < p) as u8 as f32;
                        let got = out[r * n + i];
                        assert!(got == 0.0 || got == 1.0);
                        total += 1;
                        if got != want {
                            // Allowed only at the decision boundary.
                            assert!((u - p).abs() < 1e-6 * p.max(1e-30) + 1e-12, "{isa}: u={u} p={p}");
                            boundary += 1;
                        }
                    }
                }
            }
        }
        assert!(boundary <= 2, "{isa}: {boundary} of {total} samples differ at the boundary");
    }
}

#[test]
fn bernoulli_edge_inputs() {
    let pre = [f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30, f32::NAN, 0.0, 0.0];
    let bias = [0.0f32; 7];
    let bits = [u32::MAX, 0, u32::MAX, 0, 0, 0, u32::MAX];
    for isa in isas() {
        let mut out = [0.5f32; 7];
        bernoulli::bernoulli_from_bits_on(isa, &pre, &bias, &bits, 7, &mut out).unwrap();
        // σ=1 → always 1; σ=0 → always 0; NaN → 0; σ(0)=½: smallest u → 1, largest → 0.
        assert_eq!(out, [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0], "{isa}");
    }
}

#[test]
fn bernoulli_shape_errors() {
    let mut out = [0.0f32; 4];
    assert!(bernoulli::bernoulli_from_bits(&[0.0; 4], &[0.0; 3], &[0; 4], 3, &mut out).is_err());
    assert!(bernoulli::bernoulli_from_bits(&[0.0; 4], &[0.0; 2], &[0; 3], 2, &mut out).is_err());
    assert!(bernoulli::bernoulli_from_bits(&[0.0; 4], &[0.0; 2], &[0; 4], 1, &mut out).is_err());
    let mut st = rng::chain_streams(0, 3).unwrap();
    assert!(bernoulli::sample_bernoulli(&[0.0; 4], &[0.0; 2], &mut st, &mut out).is_err());
}

fn int_matrix(g: &mut Xoshiro256PlusPlus, len: usize) -> Vec<f32> {
    // Small integers: every product and sum is exact in f32.
    (0..len).map(|_| (g.next_u64() % 7) as f32 - 3.0).collect()
}

#[test]
fn gemm_exact_on_odd_shapes() {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(1);
    let dims = [1usize, 7, 17, 63, 65, 257];
    for &m in &dims {
        for &k in &dims {
            for &n in &[1usize, 7, 65] {
                let a = int_matrix(&mut g, m * k);
                let b = int_matrix(&mut g, k * n);
                let mut c = vec![f32::NAN; m * n];
                gemm::gemm_nn(m, k, n, &a, &b, &mut c).unwrap();
                let r = reference::gemm_nn(m, k, n, &a, &b);
                assert!(c.iter().zip(&r).all(|(&x, &y)| x as f64 == y), "nn {m}x{k}x{n}");
                let bt = int_matrix(&mut g, n * k);
                gemm::gemm_nt(m, k, n, &a, &bt, &mut c).unwrap();
                let r = reference::gemm_nt(m, k, n, &a, &bt);
                assert!(c.iter().zip(&r).all(|(&x, &y)| x as f64 == y), "nt {m}x{k}x{n}");
            }
        }
    }
    // One large shape.
    let (m, k, n) = (129, 1031, 67);
    let a = int_matrix(&mut g, m * k);
    let b = int_matrix(&mut g, k * n);
    let mut c = vec![0.0; m * n];
    gemm::gemm_nn(m, k, n, &a, &b, &mut c).unwrap();
    assert!(c.iter().zip(&reference::gemm_nn(m, k, n, &a, &b)).all(|(&x, &y)| x as f64 == y));
}

#[test]
fn gemm_float_close_to_f64_and_row_split_invariant() {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(2);
    let (m, k, n) = (301, 784, 500);
    let a: Vec<f32> = (0..m * k).map(|_| (g.next_u64() & 1) as f32).collect();
    let b: Vec<f32> = (0..k * n).map(|_| ((g.next_u64() >> 40) as f32 / 8.4e6) - 1.0).collect();
    let mut c = vec![0.0; m * n];
    gemm::gemm_nn(m, k, n, &a, &b, &mut c).unwrap();
    let r = reference::gemm_nn(m, k, n, &a, &b);
    for (x, y) in c.iter().zip(&r) {
        assert!((*x as f64 - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
    }
    // Every row split gives the same bits (what thread-count independence needs).
    for rows in [1usize, 7, 64, 100, 301] {
        let mut p = vec![0.0; m * n];
        gemm::par_gemm_nn(m, k, n, &a, &b, &mut p, rows).unwrap();
        assert_eq!(p, c, "nn block rows {rows}");
    }
    let bt = b.clone(); // read as n' = 784 rows of k' = 500
    let (k2, n2) = (n, k);
    let a2: Vec<f32> = (0..m * k2).map(|_| (g.next_u64() & 1) as f32).collect();
    let mut c2 = vec![0.0; m * n2];
    gemm::gemm_nt(m, k2, n2, &a2, &bt, &mut c2).unwrap();
    for rows in [1usize, 13, 150] {
        let mut p = vec![0.0; m * n2];
        gemm::par_gemm_nt(m, k2, n2, &a2, &bt, &mut p, rows).unwrap();
        assert_eq!(p, c2, "nt block rows {rows}");
    }
}

#[test]
fn gemm_shape_errors_and_empty() {
    let mut c = [0.0f32; 4];
    assert!(gemm::gemm_nn(2, 2, 2, &[0.0; 3], &[0.0; 4], &mut c).is_err());
    assert!(gemm::gemm_nt(2, 2, 2, &[0.0; 4], &[0.0; 4], &mut c[..3]).is_err());
    assert!(gemm::gemm_nn(usize::MAX, 2, 2, &[], &[], &mut c).is_err());
    // k = 0 gives zeros.
    let mut z = [5.0f32; 4];
    gemm::gemm_nn(2, 0, 2, &[], &[], &mut z).unwrap();
    assert_eq!(z, [0.0; 4]);
}

#[test]
fn nopack_gemm_exact_and_row_split_invariant() {
    if !Isa::Avx512.is_available() {
        eprintln!("note: avx512 not available, nopack kernel skipped");
        assert!(gemm::gemm_nn_nopack(1, 1, 1, &[1.0], &[1.0], &mut [0.0]).is_err());
        return;
    }
    let mut g = Xoshiro256PlusPlus::seed_from_u64(3);
    // Widths around each tile shape (16, 32, 96 columns) and odd row counts.
    for &m in &[1usize, 5, 7, 8, 9, 17, 63, 65] {
        for &k in &[1usize, 7, 64, 65] {
            for &n in &[1usize, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97, 257] {
                let a = int_matrix(&mut g, m * k);
                let b = int_matrix(&mut g, k * n);
                let mut c = vec![f32::NAN; m * n];
                gemm::gemm_nn_nopack(m, k, n, &a, &b, &mut c).unwrap();
                let r = reference::gemm_nn(m, k, n, &a, &b);
                assert!(c.iter().zip(&r).all(|(&x, &y)| x as f64 == y), "{m}x{k}x{n}");
            }
        }
    }
    // Float inputs: every row subset gives the same bits.
    let (m, k, n) = (37, 64, 33);
    let a: Vec<f32> = (0..m * k).map(|_| (g.next_u64() & 1) as f32).collect();
    let b: Vec<f32> = (0..k * n).map(|_| ((g.next_u64() >> 40) as f32 / 8.4e6) - 1.0).collect();
    let mut full = vec![0.0; m * n];
    gemm::gemm_nn_nopack(m, k, n, &a, &b, &mut full).unwrap();
    for r0 in [0usize, 1, 8, 20] {
        let rows = m - r0;
        let mut part = vec![0.0; rows * n];
        gemm::gemm_nn_nopack(rows, k, n, &a[r0 * k..], &b, &mut part).unwrap();
        assert_eq!(part, full[r0 * n..], "rows from {r0}");
    }
    assert!(gemm::gemm_nn_nopack(2, 2, 2, &[0.0; 3], &[0.0; 4], &mut [0.0; 4]).is_err());
}

#[test]
fn gemm_tn_exact_and_split_invariant() {
    let mut g = Xoshiro256PlusPlus::seed_from_u64(4);
    for &(m, k, n) in &[(1usize, 1usize, 1usize), (7, 17, 5), (65, 33, 63), (257, 100, 31)] {
        let a = int_matrix(&mut g, k * m); // stored k × m
        let b = int_matrix(&mut g, k * n);
        let mut at = vec![0.0f32; m * k];
        for p in 0..k {
            for i in 0..m {
                at[i * k + p] = a[p * m + i];
            }
        }
        let r = reference::gemm_nn(m, k, n, &at, &b);
        for rows in [1usize, 3, 64, m] {
            let mut c = vec![f32::NAN; m * n];
            gemm::par_gemm_tn(m, k, n, &a, &b, &mut c, rows).unwrap();
            assert!(c.iter().zip(&r).all(|(&x, &y)| x as f64 == y), "{m}x{k}x{n} rows {rows}");
        }
    }
    assert!(gemm::par_gemm_tn(2, 2, 2, &[0.0; 3], &[0.0; 4], &mut [0.0; 4], 1).is_err());
    let mut z = [f32::NAN; 4];
    gemm::par_gemm_tn(2, 0, 2, &[], &[], &mut z, 1).unwrap();
    assert_eq!(z, [0.0; 4]);
}

/// Binary × dense products: every ISA and every column split equals the
/// fixed-order reference bit for bit, and the f64 product within rounding,
/// on odd shapes (k and n not multiples of 16, one row, empty and full
/// rows) and densities 0 … 1; the transposed packing equals packing the
/// transpose.
#[test]
fn binary_times_matches_reference_on_every_isa() {
    use boltzmann::kernels::binary::{BinaryRows, PackedWeights, binary_times_on};
    let mut g = Xoshiro256PlusPlus::seed_from_u64(77);
    for (rows, k, n) in
        [(1usize, 1usize, 1usize), (3, 17, 33), (5, 64, 16), (9, 100, 47), (2, 784, 500), (7, 33, 250)]
    {
        for density in [0.0, 0.03, 0.3, 0.7, 1.0] {
            let a: Vec<f32> = (0..rows * k)
                .map(|_| ((g.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < density)
                .map(|b| b as u8 as f32)
                .collect();
            let w: Vec<f32> = (0..k * n).map(|_| ((g.next_u64() >> 40) as f32 / 8.4e5) - 10.0).collect();
            let want = reference::binary_times(&a, k, &w, n);
            let exact = reference::gemm_nn(rows, k, n, &a, &w);
            for (x, y) in want.iter().zip(&exact) {
                assert!((*x as f64 - y).abs() <= 1e-5 * (k as f64) * 10.0, "{x} vs {y}");
            }
            let br = BinaryRows::from_dense(&a, k).unwrap();
            assert_eq!(br.rows(), rows);
            assert_eq!(br.nnz(), a.iter().filter(|&&x| x != 0.0).count());
            let packed = PackedWeights::new(&w, k, n).unwrap();
            let mut wt = vec![0.0f32; k * n];
            for i in 0..k {
                for j in 0..n {
                    wt[j * k + i] = w[i * n + j];
                }
            }
            assert_eq!(PackedWeights::transposed(&wt, n, k).unwrap(), packed);
            for isa in isas() {
                for parts in [1, 2, 3, 7] {
                    let mut out = vec![f32::NAN; rows * n];
                    binary_times_on(isa, &br, &packed, &mut out, parts).unwrap();
                    assert!(
                        out.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{isa} {rows}x{k}x{n} density {density} parts {parts}"
                    );
                }
            }
        }
    }
}

#[test]
fn binary_times_rejects_bad_input() {
    use boltzmann::kernels::binary::{BinaryRows, PackedWeights, binary_times};
    assert!(BinaryRows::from_dense(&[1.0, 0.5], 2).is_err());
    assert!(BinaryRows::from_dense(&[1.0, f32::NAN], 2).is_err());
    assert!(BinaryRows::from_dense(&[1.0, 0.0, 1.0], 2).is_err());
    assert!(BinaryRows::from_dense(&[], 0).is_err());
    assert!(PackedWeights::new(&[1.0; 5], 2, 3).is_err());
    assert!(PackedWeights::transposed(&[1.0; 5], 2, 3).is_err());
    let a = BinaryRows::from_dense(&[1.0, 0.0, 1.0, 1.0], 2).unwrap();
    let w = PackedWeights::new(&[1.0; 6], 2, 3).unwrap();
    assert!(binary_times(&a, &w, &mut [0.0; 5], 1).is_err());
    let w3 = PackedWeights::new(&[1.0; 9], 3, 3).unwrap();
    assert!(binary_times(&a, &w3, &mut [0.0; 6], 1).is_err());
    let mut out = [0.0f32; 6];
    binary_times(&a, &w, &mut out, 1).unwrap();
    assert_eq!(out, [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
}

/// Transposed set positions equal the set positions of the transpose, and
/// transposing twice gives the matrix back.
#[test]
fn binary_rows_transpose() {
    use boltzmann::kernels::binary::BinaryRows;
    let mut g = Xoshiro256PlusPlus::seed_from_u64(80);
    for (rows, k) in [(1usize, 1usize), (7, 13), (200, 784), (3, 64), (65, 2)] {
        let a: Vec<f32> = (0..rows * k).map(|_| (g.next_u64() % 5 == 0) as u8 as f32).collect();
        let mut at = vec![0.0f32; rows * k];
        for r in 0..rows {
            for i in 0..k {
                at[i * rows + r] = a[r * k + i];
            }
        }
        let b = BinaryRows::from_dense(&a, k).unwrap();
        let t = b.transposed();
        assert_eq!(t, BinaryRows::from_dense(&at, rows).unwrap(), "{rows}x{k}");
        assert_eq!(t.transposed(), b);
    }
}

/// Packing states into bits: every ISA equals the plain loop, on lengths
/// around the vector and word edges, with NaN and nonzero non-binary
/// values packed as 1 and ±0 as 0; repacking weights into an existing
/// allocation equals packing afresh.
#[test]
fn pack_rows_and_repack_on_every_isa() {
    use boltzmann::kernels::binary::{PackedWeights, pack_rows_on, words_per_row};
    let mut g = Xoshiro256PlusPlus::seed_from_u64(81);
    for &k in &[1usize, 7, 8, 15, 16, 17, 63, 64, 65, 127, 130, 784] {
        for rows in [1usize, 3] {
            let specials = [0.0f32, -0.0, 1.0, f32::NAN, 2.5, -1.0, f32::INFINITY, 1e-45];
            let x: Vec<f32> = (0..rows * k)
                .map(|_| match g.next_u64() % 4 {
                    0 => specials[(g.next_u64() % 8) as usize],
                    1 => 1.0,
                    _ => 0.0,
                })
                .collect();
            let want = reference::pack_rows(&x, k);
            for isa in isas() {
                let mut out = vec![u64::MAX; rows * words_per_row(k)];
                pack_rows_on(isa, &x, k, &mut out).unwrap();
                assert_eq!(out, want, "{isa} k={k} rows={rows}");
            }
        }
    }
    let mut out = [0u64; 1];
    assert!(pack_rows_on(Isa::Scalar, &[1.0; 5], 3, &mut out).is_err());
    assert!(pack_rows_on(Isa::Scalar, &[1.0; 6], 3, &mut out).is_err());
    for (k, n) in [(1usize, 1usize), (17, 33), (784, 500), (5, 16)] {
        let w: Vec<f32> = (0..k * n).map(|_| (g.next_u64() >> 40) as f32).collect();
        let w2: Vec<f32> = w.iter().map(|x| x * 0.5 - 3.0).collect();
        let mut p = PackedWeights::new(&w, k, n).unwrap();
        p.repack(&w2).unwrap();
        assert_eq!(p, PackedWeights::new(&w2, k, n).unwrap());
        let mut t = PackedWeights::transposed(&w, n, k).unwrap();
        t.repack_transposed(&w2).unwrap();
        assert_eq!(t, PackedWeights::transposed(&w2, n, k).unwrap());
        assert!(p.repack(&w2[1..]).is_err());
        assert!(t.repack_transposed(&w2[1..]).is_err());
    }
}

/// The AIS increment: the error of the vectorized f32 sum stays below 2e-6
/// of `Σ|differences|` (plus 1e-12) against the f64 reference, over tiny to
/// whole-range steps, on every ISA; padding lanes add nothing.
#[test]
fn softplus_step_sum_is_accurate_on_every_isa() {
    use activation::softplus_step_sum_on;
    let mut g = Xoshiro256PlusPlus::seed_from_u64(78);
    for &n in LENGTHS {
        let x: Vec<f32> = (0..n).map(|_| ((g.next_u64() >> 40) as f32 / 1.68e5) - 50.0).collect();
        let c: Vec<f32> = (0..n).map(|_| ((g.next_u64() >> 40) as f32 / 8.4e6) - 1.0).collect();
        for (b0, db) in
            [(0.0, 1e-3), (0.5, 1e-4), (0.9, 1e-5), (0.99999, 1e-5), (0.0, 1.0), (0.3, 0.4), (0.2, 0.05)]
        {
            let want = reference::softplus_step_sum(&x, &c, b0 as f32 as f64, db as f32 as f64);
            let scale: f64 = x
                .iter()
                .zip(&c)
                .map(|(&a, &b)| {
                    reference::softplus_step_sum(&[a], &[b], b0 as f32 as f64, db as f32 as f64).abs()
                })
                .sum();
            for isa in isas() {
                let got = softplus_step_sum_on(isa, &x, &c, b0 as f32, db as f32).unwrap();
                assert!(
                    (got - want).abs() <= 2e-6 * scale + 1e-12,
                    "{isa} n={n} β₀={b0} Δβ={db}: {got} vs {want} (scale {scale})"
                );
            }
        }
    }
    let isa = Isa::Scalar;
    assert!(softplus_step_sum_on(isa, &[1.0], &[0.0, 0.0], 0.5, 0.1).is_err());
    assert!(softplus_step_sum_on(isa, &[1.0], &[0.0], -0.5, 0.1).is_err());
    assert!(softplus_step_sum_on(isa, &[1.0], &[0.0], 0.5, f32::NAN).is_err());
}
