//! No-panic: `Rbm::new` and the chain sampler on arbitrary sizes and
//! parameter bit patterns either return an error or sample binary states.
#![no_main]
use boltzmann::{Chains, Rbm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let d = (data[0] % 24) as usize;
    let h = (data[1] % 24) as usize;
    let batch = (data[2] % 9) as usize;
    let floats: Vec<f32> = data[3..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let take = |from: usize, n: usize| -> Vec<f32> { (0..n).map(|i| *floats.get(from + i).unwrap_or(&0.0)).collect() };
    let w = take(0, d * h);
    let b = take(d * h, d);
    let c = take(d * h + d, h);
    if let Ok(rbm) = Rbm::new(d, h, w, b, c) {
        if let Ok(mut chains) = Chains::new(&rbm, batch, 1) {
            chains.sweep(&rbm, 2).unwrap();
            assert!(chains.visible().iter().all(|&x| x == 0.0 || x == 1.0));
            assert!(chains.hidden().iter().all(|&x| x == 0.0 || x == 1.0));
        }
        let v = vec![1.0f32; d];
        assert!(rbm.free_energy(&v).unwrap().is_finite());
    }
});
