//! Differential: every SIMD path of sigmoid / softplus / log_sigmoid against
//! the f64 reference on arbitrary f32 bit patterns (NaN, inf, subnormals).
#![no_main]
use boltzmann::kernels::activation;
use boltzmann::{Isa, reference};
use libfuzzer_sys::fuzz_target;

fn ulp(y: f64) -> f64 {
    let a = (y.abs() as f32).max(f32::MIN_POSITIVE);
    2f64.powi((a.to_bits() >> 23) as i32 - 150)
}

fuzz_target!(|data: &[u8]| {
    let x: Vec<f32> = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut out = vec![0.0f32; x.len()];
    type Fast = fn(Isa, &[f32], Option<&[f32]>, &mut [f32]) -> boltzmann::Result<()>;
    let ops: [(Fast, fn(f64) -> f64); 3] = [
        (activation::sigmoid_on, reference::sigmoid),
        (activation::softplus_on, reference::softplus),
        (activation::log_sigmoid_on, reference::log_sigmoid),
    ];
    for isa in Isa::available() {
        for (fast, exact) in ops {
            fast(isa, &x, None, &mut out).unwrap();
            for (&xi, &y) in x.iter().zip(&out) {
                let r = exact(xi as f64);
                if xi.is_nan() {
                    assert!(y.is_nan());
                } else if r.is_infinite() || y.is_infinite() || (r.abs() as f32) > f32::MAX {
                    assert_eq!(y as f64, (r as f32) as f64, "x={xi}");
                } else if r.abs() < f32::MIN_POSITIVE as f64 {
                    assert!((y as f64 - r).abs() <= 6e-45, "x={xi}: {y} vs {r}");
                } else {
                    assert!((y as f64 - r).abs() <= 3.0 * ulp(r), "x={xi}: {y} vs {r}");
                }
            }
        }
    }
});
