//! Parallel tempering: exactness at β = 1 (χ² against enumeration), mode
//! hopping where plain Gibbs stays, thread independence, bad ladders; the
//! bit-packed ensemble against the f32 one, bit for bit.

use boltzmann::kernels::binary::unpack_rows;
use boltzmann::sampler::PackedTemperedChains;
use boltzmann::sampler::tempering::{check_ladder, geometric_ladder};
use boltzmann::{Chains, Rbm, TemperedChains, reference};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

include!("common/chi2.rs");

/// The β = 1 replicas follow the exact distribution, on f32 and on
/// bit-packed states (different seeds: independent samples).
#[test]
fn beta_one_replicas_follow_the_exact_distribution() {
    let rbm = Rbm::random(10, 6, 1.0, 0.5, 11).unwrap();
    let (_, p) = reference::exact_visible_distribution(&rbm);
    let n = 20_000;
    let ladder = geometric_ladder(4, 0.3).unwrap();
    let mut pt = TemperedChains::new(&rbm, n, ladder.clone(), 5).unwrap();
    pt.sweep(&rbm, 60).unwrap();
    let mut packed = PackedTemperedChains::new(&rbm, n, ladder, 15).unwrap();
    packed.sweep(&rbm, 60).unwrap();
    let counts_of = |visible: &[f32]| {
        let mut counts = vec![0u64; 1 << 10];
        for v in visible.chunks_exact(10) {
            counts[reference::state_index(v)] += 1;
        }
        counts
    };
    let runs = [
        ("f32", counts_of(pt.visible()), pt.tempering().swap_rates()),
        ("packed", counts_of(&packed.visible()), packed.swap_rates()),
    ];
    for (what, counts, rates) in &runs {
        let (stat, df) = chi_square(counts, &p, n as u64);
        assert!(stat < chi2_critical_001(df), "{what}: χ² {stat:.1} at {df} dof");
        // Swaps happened and were sometimes refused.
        assert!(rates.iter().all(|&a| a > 0.05 && a < 1.0), "{what}: {rates:?}");
    }
    // The test has power: a different model's distribution is rejected.
    let other = Rbm::random(10, 6, 1.0, 0.5, 12).unwrap();
    let (_, q) = reference::exact_visible_distribution(&other);
    let (stat, df) = chi_square(&runs[0].1, &q, n as u64);
    assert!(stat > chi2_critical_001(df));
    assert_eq!(packed.bytes_per_replica(), 8 + 8 + 32 + 8);
    assert!(packed.visible_density() > 0.0 && packed.visible_density() < 1.0);
}

/// Two modes: h = 0 with v ≈ all zeros, h = 1 with v ≈ all ones, separated
/// by an energy barrier that single-site-free block Gibbs cannot cross.
fn two_mode_rbm(d: usize, w: f32) -> Rbm {
    Rbm::new(d, 1, vec![w; d], vec![-w / 2.0; d], vec![-w * d as f32 / 2.0]).unwrap()
}

#[test]
fn tempering_visits_both_modes_where_gibbs_stays() {
    let d = 16;
    let rbm = two_mode_rbm(d, 5.0);
    let (_, p) = reference::exact_visible_distribution(&rbm);
    // Exact probability of the "ones" mode (more than half the units on).
    let p_ones: f64 =
        p.iter().enumerate().filter(|(i, _)| i.count_ones() as usize > d / 2).map(|(_, &x)| x).sum();
    assert!(p_ones > 0.3 && p_ones < 0.7, "{p_ones}");
    let n = 400;
    let zeros = vec![0.0f32; n * d];
    let ones_share = |v: &[f32]| {
        v.chunks_exact(d).filter(|r| r.iter().sum::<f32>() as usize > d / 2).count() as f64 / n as f64
    };
    // Plain Gibbs from the zeros mode: stays.
    let mut g = Chains::from_visible(&rbm, &zeros, 3).unwrap();
    g.sweep(&rbm, 2000).unwrap();
    let gibbs_share = ones_share(g.visible());
    assert!(gibbs_share < 0.02, "plain Gibbs left the mode: {gibbs_share}");
    // PT from the same start: both modes, in the right proportion.
    let mut pt = TemperedChains::new(&rbm, n, geometric_ladder(12, 0.05).unwrap(), 3).unwrap();
    pt.set_visible(&zeros).unwrap();
    pt.sweep(&rbm, 2000).unwrap();
    let pt_share = ones_share(pt.visible());
    let sd = (p_ones * (1.0 - p_ones) / n as f64).sqrt();
    assert!((pt_share - p_ones).abs() < 5.0 * sd, "PT {pt_share} vs exact {p_ones} (sd {sd})");
    let (trips, mean) = pt.tempering().round_trips();
    assert!(trips > 100 && mean > 2.0 && mean.is_finite(), "{trips} trips, mean {mean}");
}

#[test]
fn statistics_are_the_beta_one_states_and_their_hidden_probabilities() {
    let rbm = Rbm::random(12, 7, 0.8, 0.3, 4).unwrap();
    let mut pt = TemperedChains::new(&rbm, 9, geometric_ladder(3, 0.4).unwrap(), 2).unwrap();
    let (mut v, mut p) = (vec![0.0f32; 9 * 12], vec![0.0f32; 9 * 7]);
    assert!(pt.statistics(&rbm, &mut v, &mut p).is_err(), "no sweep yet");
    pt.sweep(&rbm, 7).unwrap();
    pt.statistics(&rbm, &mut v, &mut p).unwrap();
    assert_eq!(v, pt.visible());
    assert_eq!(pt.replica_visible(2), pt.visible());
    let mut want = vec![0.0f32; 9 * 7];
    rbm.hidden_probs(&v, &mut want).unwrap();
    for (a, b) in p.iter().zip(&want) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert!(pt.statistics(&rbm, &mut v[..12], &mut p).is_err());
}

#[test]
fn same_bits_for_any_thread_count() {
    let rbm = Rbm::random(30, 20, 0.3, 0.1, 2).unwrap();
    let run = |t: usize| {
        pool(t).install(|| {
            let mut pt = TemperedChains::new(&rbm, 37, geometric_ladder(5, 0.2).unwrap(), 9).unwrap();
            pt.sweep(&rbm, 25).unwrap();
            (pt.rows().visible().to_vec(), pt.rows().hidden().to_vec(), pt.tempering().swap_rates())
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn bad_ladders_and_sizes_are_refused() {
    let rbm = Rbm::random(5, 3, 0.1, 0.0, 1).unwrap();
    for bad in
        [vec![1.0], vec![0.5, 0.5, 1.0], vec![0.7, 0.4, 1.0], vec![0.0, 1.0], vec![-0.5, 1.0], vec![0.5, 0.9]]
    {
        assert!(check_ladder(&bad).is_err(), "{bad:?}");
        assert!(TemperedChains::new(&rbm, 4, bad, 1).is_err());
    }
    assert!(check_ladder(&[0.5, 1.0 + 1e-6]).is_err());
    assert!(check_ladder(&[f32::NAN, 1.0]).is_err());
    assert!(geometric_ladder(0, 0.5).is_err());
    assert!(geometric_ladder(1, 0.5).is_err());
    assert!(geometric_ladder(4, 0.0).is_err());
    assert!(geometric_ladder(4, 1.0).is_err());
    assert!(TemperedChains::new(&rbm, 0, vec![0.5, 1.0], 1).is_err());
    let mut pt = TemperedChains::new(&rbm, 2, vec![0.5, 1.0], 1).unwrap();
    let other = Rbm::random(6, 3, 0.1, 0.0, 1).unwrap();
    assert!(pt.sweep(&other, 1).is_err());
    assert!(pt.set_visible(&[0.0; 9]).is_err());
    assert!(pt.set_visible(&[0.5; 10]).is_err());
    assert!(pt.set_base(&[0.0; 4]).is_err());
    assert!(pt.set_base(&[f32::NAN; 5]).is_err());
}

/// Ladder adaptation equalizes the swap acceptance between neighbours: on a
/// coupled model where the geometric ladder leaves the cold pairs far
/// harder than the hot ones, a few rounds of (sweeps, adapt, reset) shrink
/// the spread of the rates; the ends stay, the ladder stays valid, and the
/// result is the same for any thread count.
#[test]
fn ladder_adaptation_equalizes_swap_rates() {
    let rbm = Rbm::random(24, 12, 0.6, 0.3, 5).unwrap();
    let run = |threads: usize| {
        pool(threads).install(|| {
            let mut pt = TemperedChains::new(&rbm, 64, geometric_ladder(6, 0.05).unwrap(), 3).unwrap();
            pt.sweep(&rbm, 50).unwrap();
            pt.reset_statistics();
            pt.sweep(&rbm, 200).unwrap();
            let before = pt.tempering().swap_rates();
            for _ in 0..8 {
                assert!(pt.adapt_ladder(0.7).unwrap());
                pt.reset_statistics();
                pt.sweep(&rbm, 200).unwrap();
            }
            (before, pt.tempering().swap_rates(), pt.tempering().betas().to_vec())
        })
    };
    let (before, after, betas) = run(1);
    let spread = |r: &[f64]| {
        r.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - r.iter().cloned().fold(f64::INFINITY, f64::min)
    };
    assert!(
        spread(&after) < 0.5 * spread(&before),
        "rates before {before:?}, after {after:?}, ladder {betas:?}"
    );
    assert!(
        after.iter().cloned().fold(f64::INFINITY, f64::min)
            > before.iter().cloned().fold(f64::INFINITY, f64::min)
    );
    check_ladder(&betas).unwrap();
    assert_eq!(betas[0], 0.05);
    assert_eq!(betas[5], 1.0);
    assert_eq!(run(3).2, betas, "thread counts gave different ladders");
}

#[test]
fn ladder_adaptation_refuses_bad_steps_and_waits_for_counts() {
    let rbm = Rbm::random(8, 4, 0.3, 0.0, 1).unwrap();
    let mut pt = TemperedChains::new(&rbm, 2, geometric_ladder(3, 0.3).unwrap(), 1).unwrap();
    for step in [0.0, -0.5, 1.5, f64::NAN] {
        assert!(pt.adapt_ladder(step).is_err(), "step {step}");
    }
    // Too few swap attempts: nothing changes.
    let ladder = pt.tempering().betas().to_vec();
    pt.sweep(&rbm, 3).unwrap();
    assert!(!pt.adapt_ladder(0.5).unwrap());
    assert_eq!(pt.tempering().betas(), &ladder[..]);
}

/// A model above the no-packing size whose states are sparse enough for
/// the binary products, so that a packed tempered sweep goes through both
/// the binary and the dense products.
fn sparse_model(d: usize, h: usize, seed: u64) -> Rbm {
    let r = Rbm::random(d, h, 0.3, 0.0, seed).unwrap();
    let b: Vec<f32> = (0..d).map(|i| if i % 3 == 0 { 0.5 } else { -2.5 }).collect();
    let c: Vec<f32> = (0..h).map(|j| if j % 4 == 0 { -1.0 } else { -4.0 }).collect();
    Rbm::new(d, h, r.weights().to_vec(), b, c).unwrap()
}

/// The packed ensemble's states unpacked, in the layout of the f32 rows.
fn unpacked(p: &PackedTemperedChains, d: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let rows = p.streams().len();
    let (mut v, mut hs) = (vec![0.0f32; rows * d], vec![0.0f32; rows * h]);
    unpack_rows(p.visible_bits(), d, &mut v).unwrap();
    unpack_rows(p.hidden_bits(), h, &mut hs).unwrap();
    (v, hs)
}

/// The packed ensemble gives the f32 one's bits: on a sparse model (binary
/// products in both half-steps), on one with denser visible units (dense
/// products for some rows of the hidden half-step), and for a first call
/// below the packing size (dense products only).
#[test]
fn packed_tempering_gives_the_f32_bits_on_any_thread_count() {
    let (d, h) = (300, 70);
    let sparse = sparse_model(d, h, 6);
    let denser = {
        let b: Vec<f32> = (0..d).map(|i| if i % 2 == 0 { 0.8 } else { -2.5 }).collect();
        Rbm::new(d, h, sparse.weights().to_vec(), b, sparse.hidden_bias().to_vec()).unwrap()
    };
    for (name, rbm) in [("sparse", sparse), ("denser visible", denser)] {
        check_packed_equals_f32(name, &rbm);
    }
}

fn check_packed_equals_f32(name: &str, rbm: &Rbm) {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let base: Vec<f32> = (0..d).map(|i| -1.0 - (i % 5) as f32 * 0.3).collect();
    let start: Vec<f32> = (0..90 * d).map(|i| ((i * 7919) % 11 == 0) as u8 as f32).collect();
    let ladder = geometric_ladder(5, 0.3).unwrap();
    // Reference: the f32 ensemble on one thread.
    let mut f = TemperedChains::new(rbm, 90, ladder.clone(), 4).unwrap();
    f.set_base(&base).unwrap();
    f.set_visible(&start).unwrap();
    f.sweep(rbm, 1).unwrap(); // a call below the packing size: dense products
    pool(1).install(|| f.sweep(rbm, 12)).unwrap(); // 12 × 450 rows: packed products
    assert!(f.adapt_ladder(0.5).unwrap());
    f.sweep(rbm, 6).unwrap();
    for t in [1, 2, 3] {
        let p = pool(t).install(|| {
            let mut p = PackedTemperedChains::new(rbm, 90, ladder.clone(), 4).unwrap();
            p.set_base(&base).unwrap();
            p.set_visible(&start).unwrap();
            p.sweep(rbm, 1).unwrap();
            p.sweep(rbm, 12).unwrap();
            assert!(p.adapt_ladder(0.5).unwrap());
            p.sweep(rbm, 6).unwrap();
            p
        });
        let (v, hs) = unpacked(&p, d, h);
        assert_eq!(v, f.rows().visible(), "{name}, {t} threads");
        assert_eq!(hs, f.rows().hidden(), "{name}, {t} threads");
        assert_eq!(p.streams(), f.rows().streams());
        assert_eq!(p.visible(), f.visible());
        assert_eq!(p.replica_visible(1), f.replica_visible(1));
        assert_eq!(p.betas(), f.tempering().betas());
        assert_eq!(p.swap_rates(), f.tempering().swap_rates());
        let (a, b) = (p.round_trips(), f.tempering().round_trips());
        assert!(a.0 == b.0 && (a.1 == b.1 || (a.1.is_nan() && b.1.is_nan())), "{a:?} vs {b:?}");
        assert_eq!(p.sweeps_done(), f.sweeps_done());
    }
    // Swaps both happened and were refused.
    let rates = f.tempering().swap_rates();
    assert!(rates.iter().any(|&a| a > 0.0) && rates.iter().any(|&a| a < 1.0), "{name}: {rates:?}");
}

#[test]
fn packed_tempering_refuses_bad_input() {
    let rbm = Rbm::random(5, 3, 0.1, 0.0, 1).unwrap();
    for bad in [vec![1.0], vec![0.5, 0.5, 1.0], vec![0.0, 1.0], vec![0.5, 0.9], vec![f32::NAN, 1.0]] {
        assert!(PackedTemperedChains::new(&rbm, 4, bad, 1).is_err());
    }
    assert!(PackedTemperedChains::new(&rbm, 0, vec![0.5, 1.0], 1).is_err());
    let mut pt = PackedTemperedChains::new(&rbm, 2, vec![0.5, 1.0], 1).unwrap();
    let before = pt.clone();
    assert!(pt.sweep(&Rbm::random(6, 3, 0.1, 0.0, 1).unwrap(), 1).is_err());
    assert!(pt.sweep(&Rbm::random(5, 4, 0.1, 0.0, 1).unwrap(), 1).is_err());
    assert!(pt.set_visible(&[0.0; 9]).is_err());
    assert!(pt.set_visible(&[0.5; 10]).is_err());
    assert!(pt.set_base(&[0.0; 4]).is_err());
    assert!(pt.set_base(&[f32::INFINITY; 5]).is_err());
    assert!(pt.adapt_ladder(0.0).is_err());
    assert!(pt.adapt_ladder(1.5).is_err());
    assert_eq!(pt, before, "refused calls changed nothing");
}
