//! The public entry points a downstream crate uses to drive the sampler on
//! its own terms: sweeps on borrowed buffers with a reusable workspace, and
//! the half-steps and CD phase of `Chains` that the trainer is built on.

use boltzmann::sampler::gibbs::{self, SweepWorkspace};
use boltzmann::{Chains, Error, Rbm, rng};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

/// A model whose products are exact in f32 in any summation order: weights
/// and biases are multiples of 1/4 with small sums, states are 0/1.
fn exact_rbm(d: usize, h: usize) -> Rbm {
    let w = (0..d * h).map(|i| [(-0.5f32), 0.0, 0.25, 0.75, -0.25][(i * 7 + i / 3) % 5]).collect();
    let b = (0..d).map(|i| [0.25f32, -0.5, 0.0][i % 3]).collect();
    let c = (0..h).map(|j| [-0.25f32, 0.5][j % 2]).collect();
    Rbm::new(d, h, w, b, c).unwrap()
}

#[test]
fn workspace_sweeps_match_fresh_sweeps_and_chains_for_any_threads() {
    // 784 × 300 with 600 chains: above the binary-product threshold, so the
    // packed weights are reused from the workspace too.
    let rbm = Rbm::random(784, 300, 0.05, 0.0, 5).unwrap();
    let n = 600;
    let mut reference = Chains::new(&rbm, n, 9).unwrap();
    let start = reference.clone().into_parts();
    reference.sweep(&rbm, 3).unwrap();
    reference.sweep(&rbm, 2).unwrap();
    for threads in [1, 2, 5] {
        let (mut v, mut h, mut s, _) = start.clone();
        let mut ws = SweepWorkspace::new();
        pool(threads).install(|| {
            gibbs::sweep_with(&rbm, &mut v, &mut h, &mut s, 3, &mut ws).unwrap();
            gibbs::sweep_with(&rbm, &mut v, &mut h, &mut s, 2, &mut ws).unwrap();
        });
        assert!(ws.bytes() > 0);
        assert_eq!(v, reference.visible(), "{threads} threads");
        assert_eq!(h, reference.hidden(), "{threads} threads");
        assert_eq!(s, reference.streams(), "{threads} threads");
        // The workspace carries no state: reused with another model and
        // chain count it gives what a fresh one gives.
        let small = exact_rbm(10, 4);
        let mut a = (vec![0.0; 30], vec![0.0; 12], rng::chain_streams(1, 3).unwrap());
        let mut b = a.clone();
        gibbs::sweep_with(&small, &mut a.0, &mut a.1, &mut a.2, 4, &mut ws).unwrap();
        gibbs::sweep(&small, &mut b.0, &mut b.1, &mut b.2, 4).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn sweep_with_rejects_bad_parts() {
    let rbm = exact_rbm(6, 3);
    let mut ws = SweepWorkspace::new();
    let mut s = rng::chain_streams(1, 2).unwrap();
    let (mut v, mut h) = (vec![0.0; 12], vec![0.0; 6]);
    let mut short = vec![0.0; 11];
    assert!(matches!(
        gibbs::sweep_with(&rbm, &mut short, &mut h, &mut s, 1, &mut ws),
        Err(Error::ShapeMismatch { .. })
    ));
    v[3] = 0.5;
    assert!(matches!(
        gibbs::sweep_with(&rbm, &mut v, &mut h, &mut s, 1, &mut ws),
        Err(Error::NotBinary { .. })
    ));
    v[3] = 0.0;
    s[1] = [0; 4];
    assert!(matches!(
        gibbs::sweep_with(&rbm, &mut v, &mut h, &mut s, 1, &mut ws),
        Err(Error::InvalidParam { .. })
    ));
}

/// `h·Wᵀ` and `v·W` by the definition (exact for [`exact_rbm`]).
fn products(rbm: &Rbm, v: &[f32], h: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (d, nh) = (rbm.n_visible(), rbm.n_hidden());
    let w = rbm.weights();
    let rows = v.len() / d;
    let mut pre_v = vec![0.0f32; rows * d];
    let mut pre_h = vec![0.0f32; rows * nh];
    for r in 0..rows {
        for i in 0..d {
            pre_v[r * d + i] = (0..nh).map(|j| h[r * nh + j] * w[i * nh + j]).sum();
        }
        for j in 0..nh {
            pre_h[r * nh + j] = (0..d).map(|i| v[r * d + i] * w[i * nh + j]).sum();
        }
    }
    (pre_v, pre_h)
}

#[test]
fn half_steps_from_own_products_make_the_same_sweep_as_sweep_vh() {
    let rbm = exact_rbm(12, 7);
    let n = 40;
    let mut a = Chains::new(&rbm, n, 3).unwrap();
    a.sweep(&rbm, 1).unwrap();
    let mut b = a.clone();
    let mut probs_a = vec![0.0; n * 7];
    a.sweep_vh(&rbm, 1, &mut probs_a).unwrap();
    // The same sweep from products computed here.
    let (pre_v, _) = products(&rbm, b.visible(), b.hidden());
    b.visible_step_from(&rbm, &pre_v).unwrap();
    let (_, pre_h) = products(&rbm, b.visible(), b.hidden());
    let mut probs_b = vec![0.0; n * 7];
    pool(3).install(|| b.hidden_step_from(&rbm, &pre_h, Some(&mut probs_b))).unwrap();
    assert_eq!(a, b);
    assert_eq!(probs_a, probs_b);
    assert_eq!(b.sweeps_done(), 2);
    // Bad lengths.
    assert!(matches!(b.visible_step_from(&rbm, &pre_v[1..]), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(b.hidden_step_from(&rbm, &pre_h[1..], None), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(
        b.hidden_step_from(&rbm, &pre_h, Some(&mut probs_b[1..])),
        Err(Error::ShapeMismatch { .. })
    ));
    let other = exact_rbm(12, 6);
    assert!(matches!(b.visible_step_from(&other, &pre_v), Err(Error::ShapeMismatch { .. })));
    assert_eq!(b.sweeps_done(), 2, "a refused call changes nothing");
}

#[test]
fn contrastive_runs_cd_on_a_prefix_of_the_chains() {
    let rbm = exact_rbm(12, 7);
    let (n, m, k) = (10, 6, 3);
    let data_probs: Vec<f32> = (0..m * 7).map(|i| ((i * 5) % 11) as f32 / 10.0).collect();
    let mut chains = Chains::new(&rbm, n, 11).unwrap();
    let before = chains.clone();
    let mut probs = vec![0.0; m * 7];
    chains.contrastive(&rbm, &data_probs, k, &mut probs).unwrap();
    // By hand: the first m chains' hidden states drawn from the
    // probabilities with their streams, then k sweeps v → h.
    let (v0, h0, s0, _) = before.clone().into_parts();
    let mut manual =
        Chains::from_parts(&rbm, v0[..m * 12].to_vec(), h0[..m * 7].to_vec(), s0[..m].to_vec(), 0).unwrap();
    manual.sample_hidden_from(&data_probs).unwrap();
    let mut probs_manual = vec![0.0; m * 7];
    manual.sweep_vh(&rbm, k, &mut probs_manual).unwrap();
    assert_eq!(&chains.visible()[..m * 12], manual.visible());
    assert_eq!(&chains.hidden()[..m * 7], manual.hidden());
    assert_eq!(&chains.streams()[..m], manual.streams());
    assert_eq!(probs, probs_manual);
    // The other chains are untouched and no sweeps are counted.
    assert_eq!(&chains.visible()[m * 12..], &before.visible()[m * 12..]);
    assert_eq!(&chains.streams()[m..], &before.streams()[m..]);
    assert_eq!(chains.sweeps_done(), before.sweeps_done());
    // Bad input: k = 0, more rows than chains, ragged rows, mismatched
    // outputs, probabilities outside [0, 1] or NaN.
    let bad = |r: boltzmann::Result<()>| assert!(r.is_err(), "accepted");
    bad(chains.contrastive(&rbm, &data_probs, 0, &mut probs));
    bad(chains.contrastive(&rbm, &vec![0.5; (n + 1) * 7], 1, &mut vec![0.0; (n + 1) * 7]));
    bad(chains.contrastive(&rbm, &data_probs[1..], 1, &mut probs[1..]));
    bad(chains.contrastive(&rbm, &data_probs, 1, &mut probs[7..]));
    bad(chains.contrastive(&rbm, &[], 1, &mut []));
    let mut p = data_probs.clone();
    p[2] = 1.5;
    bad(chains.contrastive(&rbm, &p, 1, &mut probs));
    p[2] = f32::NAN;
    bad(chains.contrastive(&rbm, &p, 1, &mut probs));
}

#[test]
fn packed_and_langevin_chains_take_your_streams() {
    use boltzmann::sampler::PackedChains;
    use boltzmann::sampler::langevin::{LangevinChains, MalaConfig};
    let rbm = Rbm::random(70, 9, 0.3, 0.1, 2).unwrap();
    let n = 12;
    // Packed chains from parts sweep like Chains from the same parts.
    let w = 70usize.div_ceil(64);
    let mut packed =
        PackedChains::from_parts(&rbm, vec![0; n * w], rng::chain_streams(4, n).unwrap(), 0).unwrap();
    let mut f32s =
        Chains::from_parts(&rbm, vec![0.0; n * 70], vec![0.0; n * 9], rng::chain_streams(4, n).unwrap(), 0)
            .unwrap();
    packed.sweep(&rbm, 5).unwrap();
    f32s.sweep(&rbm, 5).unwrap();
    assert_eq!((packed.len(), f32s.len()), (n, n));
    for c in 0..n {
        assert_eq!(packed.visible_row(c), &f32s.visible()[c * 70..(c + 1) * 70], "chain {c}");
    }
    let (bits, streams, sweeps) = packed.clone().into_parts();
    assert_eq!(sweeps, 5);
    assert_eq!(PackedChains::from_parts(&rbm, bits.clone(), streams.clone(), sweeps).unwrap(), packed);
    // Bad parts: wrong length, a bit past D, a zero stream, no chains.
    assert!(matches!(
        PackedChains::from_parts(&rbm, bits[1..].to_vec(), streams.clone(), 0),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut past = bits.clone();
    past[2 * w + 1] |= 1 << 6; // unit 70 of chain 2
    assert!(matches!(
        PackedChains::from_parts(&rbm, past, streams.clone(), 0),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut zero = streams.clone();
    zero[3] = [0; 4];
    assert!(matches!(PackedChains::from_parts(&rbm, bits, zero, 0), Err(Error::InvalidParam { .. })));
    assert!(PackedChains::from_parts(&rbm, Vec::new(), Vec::new(), 0).is_err());

    // Langevin chains from parts: the same as `new` with the streams of its seed.
    let mix =
        boltzmann::energy::GaussianMixture::new(vec![1.0, 1.0], vec![-2.0, 0.0, 2.0, 0.0], vec![0.5, 0.5])
            .unwrap();
    let start = vec![0.1f32; 2 * 6];
    let mut a = LangevinChains::new(2, start.clone(), 9).unwrap();
    let mut b = LangevinChains::from_parts(2, start.clone(), rng::chain_streams(9, 6).unwrap(), 0).unwrap();
    a.run_mala(&mix, &MalaConfig::new(0.1), 20).unwrap();
    b.run_mala(&mix, &MalaConfig::new(0.1), 20).unwrap();
    assert_eq!(a.states(), b.states());
    let (x, s, steps) = b.into_parts();
    assert_eq!((x.as_slice(), steps), (a.states(), 20));
    let c = LangevinChains::from_parts(2, x, s, steps).unwrap();
    assert_eq!(c.steps(), 20);
    assert!(LangevinChains::from_parts(2, start.clone(), rng::chain_streams(9, 5).unwrap(), 0).is_err());
    let mut zero = rng::chain_streams(9, 6).unwrap();
    zero[0] = [0; 4];
    assert!(LangevinChains::from_parts(2, start.clone(), zero, 0).is_err());
    let mut nan = start;
    nan[3] = f32::NAN;
    assert!(LangevinChains::from_parts(2, nan, rng::chain_streams(9, 6).unwrap(), 0).is_err());
}

/// `gibbs::sample_units` on buffers and streams the caller owns gives the
/// visible half-step of `Chains` (same draws), the same bits for any thread
/// count, and refuses inconsistent buffers without touching them.
#[test]
fn sample_units_is_the_half_step_on_your_buffers() {
    let rbm = exact_rbm(12, 7);
    let n = 33;
    let mut a = Chains::new(&rbm, n, 5).unwrap();
    a.sweep(&rbm, 2).unwrap();
    let (pre_v, _) = products(&rbm, a.visible(), a.hidden());
    let (_, _, streams, _) = a.clone().into_parts();
    a.visible_step_from(&rbm, &pre_v).unwrap();
    let isa = boltzmann::simd::active_isa();
    for threads in [1, 2, 7] {
        let mut s = streams.clone();
        let mut out = vec![0.5f32; n * 12];
        let mut probs = vec![0.0f32; n * 12];
        pool(threads)
            .install(|| {
                gibbs::sample_units(
                    isa,
                    &pre_v,
                    rbm.visible_bias(),
                    &mut out,
                    &mut s,
                    Some(&mut probs),
                    threads,
                )
            })
            .unwrap();
        assert_eq!(out, a.visible(), "threads {threads}");
        for ((&p, &x), &b) in probs.iter().zip(&pre_v).zip(rbm.visible_bias().iter().cycle()) {
            let want = 1.0 / (1.0 + (-(x + b) as f64).exp());
            assert!((p as f64 - want).abs() < 1e-6);
        }
    }
    let bias = rbm.visible_bias();
    let mut s = streams.clone();
    let mut out = vec![0.5f32; n * 12];
    let short = &pre_v[1..];
    assert!(matches!(
        gibbs::sample_units(isa, short, bias, &mut out, &mut s, None, 1),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        gibbs::sample_units(isa, &pre_v, bias, &mut out[1..], &mut s, None, 1),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        gibbs::sample_units(isa, &pre_v, bias, &mut out, &mut s, Some(&mut [0.0; 3]), 1),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        gibbs::sample_units(isa, &pre_v, bias, &mut out, &mut s, None, 0),
        Err(Error::InvalidParam { .. })
    ));
    s[4] = [0; 4];
    assert!(matches!(
        gibbs::sample_units(isa, &pre_v, bias, &mut out, &mut s, None, 1),
        Err(Error::InvalidParam { .. })
    ));
    assert!(out.iter().all(|&x| x == 0.5), "a refused call writes nothing");
    assert_eq!(s[..4], streams[..4], "a refused call draws nothing");
}

/// A large ensemble's sweep (weights packed once, products by the tile
/// kernels with the sampling fused in) equals the same products by the
/// public `kernels::dense::gemm_packed` followed by the public sampling
/// half-steps, for 1 and 3 threads.
#[test]
fn fused_tile_sweeps_are_packed_products_then_sampling() {
    use boltzmann::kernels::{binary::PackedWeights, dense::gemm_packed};
    let (d, h, n) = (150usize, 70usize, 600usize);
    let rbm = Rbm::random(d, h, 0.3, 0.1, 5).unwrap();
    let start = Chains::new(&rbm, n, 3).unwrap();
    let pw = PackedWeights::new(rbm.weights(), d, h).unwrap();
    let pwt = PackedWeights::transposed(rbm.weights(), d, h).unwrap();
    for threads in [1usize, 3] {
        let (fused, manual) = pool(threads).install(|| {
            let mut fused = start.clone();
            fused.sweep(&rbm, 1).unwrap(); // 600 chain-sweeps: W packed, tiles
            let mut manual = start.clone();
            let mut pre_h = vec![0.0f32; n * h];
            gemm_packed(n, manual.visible(), &pw, &mut pre_h).unwrap();
            manual.hidden_step_from(&rbm, &pre_h, None).unwrap();
            let mut pre_v = vec![0.0f32; n * d];
            gemm_packed(n, manual.hidden(), &pwt, &mut pre_v).unwrap();
            manual.visible_step_from(&rbm, &pre_v).unwrap();
            (fused, manual)
        });
        let dens = fused.visible().iter().sum::<f32>() / (n * d) as f32;
        assert!(dens > 0.3 && dens < 0.7, "dense states take the dense products, got {dens}");
        assert_eq!(fused.hidden(), manual.hidden(), "{threads} threads");
        assert_eq!(fused.visible(), manual.visible(), "{threads} threads");
    }
}
