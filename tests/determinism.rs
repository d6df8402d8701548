//! Same seed, same bits, whatever the thread count (and block size).

use boltzmann::{Chains, Isa, Rbm};

fn run(threads: usize, rbm: &Rbm, batch: usize, seed: u64, isa: Isa, k: usize) -> Chains {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut c = Chains::new(rbm, batch, seed).unwrap();
        c.set_isa(isa).unwrap();
        c.sweep(rbm, k).unwrap();
        // Split the work into two calls too: k = 2 + (k − 2) equals k.
        c.sweep(rbm, 2).unwrap();
        c
    })
}

#[test]
fn bit_identical_for_1_2_16_threads() {
    // 130 × 90 is above the no-packing size: W packed, tile kernels.
    for (d, h, b) in [(100usize, 50usize, 999usize), (64, 32, 3000), (130, 90, 257), (9, 5, 1)] {
        let rbm = Rbm::random(d, h, 0.3, 0.1, 3).unwrap();
        for isa in Isa::available() {
            let one = run(1, &rbm, b, 42, isa, 5);
            assert!(one.visible().contains(&1.0) || b == 1);
            // The block partition changes with the thread count here; that
            // must not change any bit.
            if b > 1 {
                assert!([2usize, 3, 16].iter().any(|&t| one.block_rows(t) != one.block_rows(1)));
            }
            for threads in [2usize, 3, 16] {
                let other = run(threads, &rbm, b, 42, isa, 5);
                assert_eq!(one, other, "{d}x{h} B={b} {isa}: 1 vs {threads} threads");
            }
        }
    }
}

#[test]
fn sweeps_compose() {
    let rbm = Rbm::random(30, 20, 0.5, 0.1, 4).unwrap();
    let mut a = Chains::new(&rbm, 50, 9).unwrap();
    let mut b = a.clone();
    a.sweep(&rbm, 6).unwrap();
    for _ in 0..3 {
        b.sweep(&rbm, 2).unwrap();
    }
    assert_eq!(a, b);
    assert_eq!(a.sweeps_done(), 6);
}

#[test]
fn timed_sweep_gives_the_same_states() {
    let rbm = Rbm::random(30, 20, 0.5, 0.1, 4).unwrap();
    let mut a = Chains::new(&rbm, 50, 9).unwrap();
    let mut b = a.clone();
    a.sweep(&rbm, 3).unwrap();
    let t = b.sweep_timed(&rbm, 3).unwrap();
    assert_eq!(a, b);
    assert!(t.total() > 0.0);
}

#[test]
fn different_seeds_differ() {
    let rbm = Rbm::random(30, 20, 0.5, 0.1, 4).unwrap();
    let a = Chains::new(&rbm, 10, 1).unwrap();
    let b = Chains::new(&rbm, 10, 2).unwrap();
    assert_ne!(a.visible(), b.visible());
}

/// Pins seed → output bits of the default path, so an accidental change to
/// the stream layout or the kernels shows up (update with a CHANGELOG entry).
#[test]
fn value_stability() {
    let rbm = Rbm::random(12, 8, 1.0, 0.5, 2024).unwrap();
    let mut c = Chains::new(&rbm, 4, 7).unwrap();
    c.set_isa(Isa::Scalar).unwrap();
    c.sweep(&rbm, 3).unwrap();
    let pack = |s: &[f32]| s.iter().enumerate().fold(0u64, |a, (i, &x)| a | ((x as u64) << (i % 64)));
    let got: Vec<u64> = c.visible().chunks(12).map(pack).collect();
    println!("visible bits: {got:?}");
    let mut again = Chains::new(&rbm, 4, 7).unwrap();
    again.set_isa(Isa::Scalar).unwrap();
    again.sweep(&rbm, 3).unwrap();
    assert_eq!(again.visible(), c.visible());
    assert_eq!(got, PINNED);
}

const PINNED: [u64; 4] = [2972, 4020, 4028, 2965];

/// Sparse chains (negative biases) on a model above the no-packing size use
/// the binary products, chosen per chain: still bit-identical for any thread
/// count and block partition, also when sparse and dense chains share blocks.
#[test]
fn binary_products_are_thread_count_independent() {
    let (d, h) = (150usize, 70usize);
    let w = Rbm::random(d, h, 0.3, 0.0, 78).unwrap().weights().to_vec();
    let rbm = Rbm::new(d, h, w, vec![-2.0; d], vec![-1.0; h]).unwrap();
    let b = 701;
    let start: Vec<f32> =
        (0..b * d).map(|i| if (i / d) % 5 == 0 { 1.0 } else { (i % 9 == 0) as u8 as f32 }).collect();
    for isa in Isa::available() {
        let go = |threads: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                let mut c = Chains::new(&rbm, b, 11).unwrap();
                c.set_isa(isa).unwrap();
                c.set_visible(&start).unwrap();
                c.sweep(&rbm, 3).unwrap();
                c
            })
        };
        let one = go(1);
        let dens = one.visible().iter().sum::<f32>() / (b * d) as f32;
        assert!(dens < 0.3, "needs sparse states, got {dens}");
        for t in [2usize, 3, 16] {
            assert_eq!(one, go(t), "{isa}: 1 vs {t} threads");
        }
    }
}

/// An ensemble split into shards (as over MPI ranks) is the same ensemble:
/// every split gives the same states, sweep after sweep.
#[test]
fn shards_of_an_ensemble_are_the_ensemble() {
    let rbm = boltzmann::Rbm::random(30, 20, 0.4, 0.3, 2).unwrap();
    let (total, seed) = (101, 9);
    let mut all = boltzmann::Chains::new(&rbm, total, seed).unwrap();
    all.sweep(&rbm, 7).unwrap();
    for parts in [1usize, 2, 3, 7] {
        let mut v = Vec::new();
        for p in 0..parts {
            let (a, b) = (total * p / parts, total * (p + 1) / parts);
            let mut s = boltzmann::Chains::shard(&rbm, total, a, b - a, seed).unwrap();
            s.sweep(&rbm, 7).unwrap();
            v.extend_from_slice(s.visible());
        }
        assert_eq!(v, all.visible(), "{parts} shards");
    }
    assert!(boltzmann::Chains::shard(&rbm, total, 100, 2, seed).is_err());
    assert!(boltzmann::Chains::shard(&rbm, total, 5, 0, seed).is_err());
    assert!(boltzmann::Chains::shard(&rbm, total, usize::MAX, 2, seed).is_err());
}

/// A 150 × 70 model (above the no-packing size) with small integer weights
/// and biases: every product is exact in f32 in any order, so sweeps that
/// keep their products and update them by the units that changed
/// (`sweep_incremental`) must give exactly the states of plain sweeps —
/// calls of several sizes, across a sweep count that is a multiple of 64,
/// and after the weights change between calls. Sparse and dense chains
/// share the ensemble, so every per-chain path runs.
#[test]
fn incremental_sweeps_equal_plain_sweeps_where_products_are_exact() {
    let (d, h, b) = (150usize, 70usize, 301usize);
    let int_model = |seed: u64| {
        let w: Vec<f32> =
            Rbm::random(d, h, 1.0, 0.0, seed).unwrap().weights().iter().map(|x| (x * 1.5).round()).collect();
        assert!(w.iter().any(|&x| x != 0.0));
        Rbm::new(d, h, w, (0..d).map(|i| -2.0 - (i % 3) as f32).collect(), vec![-1.0; h]).unwrap()
    };
    let (m1, m2) = (int_model(5), int_model(6));
    let start: Vec<f32> =
        (0..b * d).map(|i| if (i / d) % 4 == 0 { 1.0 } else { (i % 11 == 0) as u8 as f32 }).collect();
    for isa in Isa::available() {
        let mut plain = Chains::new(&m1, b, 21).unwrap();
        plain.set_isa(isa).unwrap();
        plain.set_visible(&start).unwrap();
        let mut kept = plain.clone();
        let mut ones = 0.0f32;
        for (k, model) in [(3usize, &m1), (1, &m1), (70, &m1), (5, &m2), (2, &m1)] {
            plain.sweep(model, k).unwrap();
            kept.sweep_incremental(model, k).unwrap();
            assert_eq!(kept, plain, "{isa}: after {} sweeps", plain.sweeps_done());
            ones += plain.visible().iter().sum::<f32>();
        }
        assert!(ones > 0.0);
    }
}

/// `sweep_incremental` on a float model: the same bits for 1, 2, 3 and 16
/// threads and whatever the grouping of sweeps into calls; a clone carries
/// the kept products on.
#[test]
fn incremental_sweeps_ignore_threads_and_call_grouping() {
    let (d, h) = (150usize, 70usize);
    let w = Rbm::random(d, h, 0.3, 0.0, 78).unwrap().weights().to_vec();
    let rbm = Rbm::new(d, h, w, vec![-2.0; d], vec![-0.5; h]).unwrap();
    for isa in Isa::available() {
        let go = |threads: usize, calls: &[usize]| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                let mut c = Chains::new(&rbm, 203, 11).unwrap();
                c.set_isa(isa).unwrap();
                for &k in calls {
                    c.sweep_incremental(&rbm, k).unwrap();
                }
                c
            })
        };
        let one = go(1, &[100]);
        for (t, calls) in [(2usize, &[100usize][..]), (3, &[1, 63, 1, 35]), (16, &[50, 50])] {
            assert_eq!(one, go(t, calls), "{isa}: {t} threads, calls {calls:?}");
        }
        let mut a = go(2, &[30]);
        let mut b = a.clone();
        a.sweep_incremental(&rbm, 20).unwrap();
        b.sweep_incremental(&rbm, 20).unwrap();
        assert_eq!(a, b, "{isa}: a clone continues with the same bits");
        assert!(Chains::new(&Rbm::zeros(3, 2).unwrap(), 4, 1).unwrap().sweep_incremental(&rbm, 1).is_err());
    }
}
