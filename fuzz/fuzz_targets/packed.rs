//! Differential: bit-packed chain ensembles against f32 ensembles with the
//! same seed, on random shapes, biases (sparse and dense states) and sweep
//! counts — they must agree bit for bit.
#![no_main]
use boltzmann::sampler::PackedChains;
use boltzmann::{Chains, Rbm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let d = 1 + data[0] as usize % 140;
    let h = 1 + data[1] as usize % 90;
    let batch = 1 + (data[2] as usize) * 3 % 400;
    let k = 1 + data[3] as usize % 3;
    let bias = -((data[4] % 6) as f32) * 0.5;
    let seed = data[5] as u64;
    let Ok(base) = Rbm::random(d, h, 0.4, 0.0, seed) else { return };
    let Ok(rbm) = Rbm::new(d, h, base.weights().to_vec(), vec![bias; d], vec![bias * 0.5; h]) else { return };
    let mut want = Chains::new(&rbm, batch, seed).unwrap();
    want.sweep(&rbm, k).unwrap();
    let mut got = PackedChains::new(&rbm, batch, seed).unwrap();
    got.sweep(&rbm, k).unwrap();
    for i in 0..batch {
        assert_eq!(got.visible_row(i), want.visible()[i * d..(i + 1) * d]);
    }
    assert_eq!(got.streams(), want.streams());
});
