//! Differential: small products against the naive reference with small
//! integer entries (exact in f32), random shapes.
#![no_main]
use boltzmann::kernels::gemm;
use boltzmann::reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (m, k, n) = (data[0] as usize % 40, data[1] as usize % 70, data[2] as usize % 40);
    let vals: Vec<f32> = data[3..].iter().map(|&b| (b % 9) as f32 - 4.0).collect();
    let get = |i: usize| *vals.get(i % vals.len().max(1)).unwrap_or(&1.0);
    let a: Vec<f32> = (0..m * k).map(get).collect();
    let b: Vec<f32> = (0..k * n).map(|i| get(i + 7)).collect();
    let mut c = vec![f32::NAN; m * n];
    gemm::gemm_nn(m, k, n, &a, &b, &mut c).unwrap();
    let r = reference::gemm_nn(m, k, n, &a, &b);
    assert!(c.iter().zip(&r).all(|(&x, &y)| x as f64 == y));
    gemm::gemm_nt(m, k, n, &a, &b, &mut c).unwrap();
    let r = reference::gemm_nt(m, k, n, &a, &b);
    assert!(c.iter().zip(&r).all(|(&x, &y)| x as f64 == y));
});
