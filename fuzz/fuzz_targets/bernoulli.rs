//! Differential: the fused Bernoulli kernel on every path against
//! `u < σ(x)` in f64; decisions may differ only at the boundary.
#![no_main]
use boltzmann::kernels::bernoulli;
use boltzmann::{Isa, reference, rng};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Each element: 4 bytes pre-activation, 4 bytes random word.
    let n = data.len() / 8;
    let pre: Vec<f32> = (0..n).map(|i| f32::from_le_bytes(data[8 * i..8 * i + 4].try_into().unwrap())).collect();
    let bits: Vec<u32> = (0..n).map(|i| u32::from_le_bytes(data[8 * i + 4..8 * i + 8].try_into().unwrap())).collect();
    let bias = vec![0.0f32; n];
    let mut out = vec![0.0f32; n];
    for isa in Isa::available() {
        bernoulli::bernoulli_from_bits_on(isa, &pre, &bias, &bits, n, &mut out).unwrap();
        for i in 0..n {
            let got = out[i];
            assert!(got == 0.0 || got == 1.0);
            if pre[i].is_nan() {
                assert_eq!(got, 0.0);
                continue;
            }
            let u = rng::uniform_from_bits(bits[i]) as f64;
            let p = reference::sigmoid(pre[i] as f64);
            if ((u < p) as u8 as f32) != got {
                assert!((u - p).abs() <= 1e-6 * p + 1e-40, "x={} u={u} p={p}", pre[i]);
            }
        }
    }
});
