//! Differential: binary × dense products,
//! the transpose of set positions and the packing of states into bits, on
//! random shapes and states, against the plain references (bit for bit) on
//! every ISA and split.
#![no_main]
use boltzmann::kernels::binary::{
    BinaryRows, PackedWeights, binary_times_on, pack_rows_on, words_per_row,
};
use boltzmann::{Isa, reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (rows, k, n) = (data[0] as usize % 9, 1 + data[1] as usize % 80, 1 + data[2] as usize % 70);
    let parts = 1 + data[3] as usize % 5;
    let bytes = &data[4..];
    let bit = |i: usize| bytes.get(i / 8).is_some_and(|b| (b >> (i % 8)) & 1 == 1);
    let a: Vec<f32> = (0..rows * k).map(|i| bit(i) as u8 as f32).collect();
    let w: Vec<f32> = (0..k * n).map(|i| ((i * 37 + bytes.len()) % 17) as f32 * 0.37 - 3.0).collect();
    let want = reference::binary_times(&a, k, &w, n);
    let br = BinaryRows::from_dense(&a, k).unwrap();
    assert_eq!(br.transposed().transposed(), br);
    let packed = PackedWeights::new(&w, k, n).unwrap();
    let bits = reference::pack_rows(&a, k);
    for isa in Isa::available() {
        let mut out = vec![f32::NAN; rows * n];
        binary_times_on(isa, &br, &packed, &mut out, parts).unwrap();
        assert!(out.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
        let mut words = vec![u64::MAX; rows * words_per_row(k)];
        pack_rows_on(isa, &a, k, &mut words).unwrap();
        assert_eq!(words, bits);
    }
});
