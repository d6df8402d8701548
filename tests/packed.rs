//! Bit-packed chain ensembles: the same states as the f32 ensembles with the
//! same seed, for any thread count; packing kernels and popcount statistics
//! against naive versions; bad input.

use boltzmann::kernels::binary::{pack_rows, unpack_rows, words_per_row};
use boltzmann::sampler::PackedChains;
use boltzmann::{Chains, Isa, Rbm};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn same(p: &PackedChains, c: &Chains) -> bool {
    let d = c.n_visible();
    (0..c.batch()).all(|i| p.visible_row(i) == c.visible()[i * d..(i + 1) * d]) && p.streams() == c.streams()
}

/// Dense random models and a sparse one (negative biases: binary products),
/// odd sizes (D not a multiple of 64, one chain, batches not a multiple of
/// the block), every ISA, 1/2/3 threads: packed == f32 ensemble, bit for bit.
#[test]
fn packed_chains_equal_f32_chains() {
    let sparse = {
        let (d, h) = (150usize, 70usize);
        let w = Rbm::random(d, h, 0.3, 0.0, 5).unwrap().weights().to_vec();
        Rbm::new(d, h, w, vec![-2.0; d], vec![-1.0; h]).unwrap()
    };
    let models = [
        (Rbm::random(100, 50, 0.3, 0.1, 3).unwrap(), 999usize),
        (Rbm::random(9, 5, 1.0, 0.5, 4).unwrap(), 1),
        (Rbm::random(64, 32, 0.5, 0.2, 6).unwrap(), 300),
        (sparse, 700),
    ];
    for (rbm, b) in &models {
        for isa in Isa::available() {
            let mut want = Chains::new(rbm, *b, 42).unwrap();
            want.set_isa(isa).unwrap();
            want.sweep(rbm, 3).unwrap();
            for threads in [1usize, 2, 3] {
                let got = in_pool(threads, || {
                    let mut p = PackedChains::new(rbm, *b, 42).unwrap();
                    p.set_isa(isa).unwrap();
                    assert!(same(&p, &Chains::new(rbm, *b, 42).unwrap()), "initial states");
                    p.sweep(rbm, 1).unwrap();
                    p.sweep(rbm, 2).unwrap();
                    p
                });
                assert!(
                    same(&got, &want),
                    "{}x{} B={b} {isa} {threads} threads",
                    rbm.n_visible(),
                    rbm.n_hidden()
                );
                assert_eq!(got.sweeps_done(), 3);
            }
        }
    }
}

#[test]
fn packing_and_popcount_statistics() {
    for k in [1usize, 63, 64, 65, 784] {
        let rows = 5;
        let x: Vec<f32> = (0..rows * k)
            .map(|i| ((i * 2654435761usize) >> 7).is_multiple_of(3))
            .map(|b| b as u8 as f32)
            .collect();
        let mut bits = vec![0u64; rows * words_per_row(k)];
        pack_rows(&x, k, &mut bits).unwrap();
        let mut back = vec![9.0f32; rows * k];
        unpack_rows(&bits, k, &mut back).unwrap();
        assert_eq!(back, x, "k = {k}");
        // Padding bits stay 0.
        let ones: u32 = bits.iter().map(|w| w.count_ones()).sum();
        assert_eq!(ones as usize, x.iter().filter(|&&v| v == 1.0).count());
    }
    assert!(pack_rows(&[1.0; 5], 2, &mut [0u64; 2]).is_err());
    assert!(unpack_rows(&[0u64; 3], 2, &mut [0.0; 4]).is_err());

    let rbm = Rbm::random(70, 10, 0.5, 0.0, 1).unwrap();
    let mut p = PackedChains::new(&rbm, 4, 1).unwrap();
    let v: Vec<f32> = (0..4 * 70).map(|i| ((i % 70) < 10 * (i / 70)) as u8 as f32).collect();
    p.set_visible(&v).unwrap();
    assert_eq!(p.hamming(0, 3), 30);
    assert_eq!(p.hamming(1, 2), 10);
    assert_eq!(p.hamming(2, 2), 0);
    assert!((p.visible_density() - 60.0 / 280.0).abs() < 1e-12);
    assert_eq!(p.bytes_per_chain(), 2 * 8 + 32);
}

#[test]
fn packed_chains_reject_bad_input() {
    let rbm = Rbm::random(10, 4, 0.5, 0.0, 1).unwrap();
    assert!(PackedChains::new(&rbm, 0, 1).is_err());
    let mut p = PackedChains::new(&rbm, 3, 1).unwrap();
    assert!(p.set_visible(&[0.0; 29]).is_err());
    let mut grey = vec![0.0f32; 30];
    grey[7] = 0.5;
    assert!(p.set_visible(&grey).is_err());
    let other = Rbm::random(10, 5, 0.5, 0.0, 1).unwrap();
    assert!(p.sweep(&other, 1).is_err());
    // Absurd sizes are refused before allocating.
    assert!(PackedChains::new(&rbm, usize::MAX / 8, 1).is_err());
}

/// Starting from data rows (cycled) gives the same states in both
/// ensembles, and the same sweeps afterwards; bad rows are refused.
#[test]
fn start_from_data_rows() {
    use boltzmann::data::Dataset;
    let rbm = Rbm::random(70, 12, 0.5, 0.0, 2).unwrap();
    let rows: Vec<f32> = (0..3 * 70).map(|i| (i % 7 == 0) as u8 as f32).collect();
    let data = Dataset::new(rows.clone(), 70).unwrap();
    let mut c = Chains::new(&rbm, 10, 3).unwrap();
    let mut p = PackedChains::new(&rbm, 10, 3).unwrap();
    c.set_visible_cycled(&data).unwrap();
    p.set_visible_cycled(&data).unwrap();
    for i in 0..10 {
        assert_eq!(&c.visible()[i * 70..(i + 1) * 70], &rows[(i % 3) * 70..(i % 3 + 1) * 70]);
    }
    c.sweep(&rbm, 2).unwrap();
    p.sweep(&rbm, 2).unwrap();
    assert!(same(&p, &c));
    let wide = Dataset::new(vec![0.0; 71], 71).unwrap();
    let grey = Dataset::new(vec![0.5; 70], 70).unwrap();
    let empty = Dataset::new(vec![], 70).unwrap();
    for bad in [&wide, &grey, &empty] {
        assert!(c.set_visible_cycled(bad).is_err() && p.set_visible_cycled(bad).is_err());
    }
}
