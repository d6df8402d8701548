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
