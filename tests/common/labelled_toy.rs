// Shared by tests/labelled.rs and tests/labelled_dbn.rs: four noisy
// 12-pixel prototypes (10 % of pixels flipped), label = prototype.

#[allow(dead_code)]
pub(crate) fn toy(n: usize, seed: u64) -> (boltzmann::data::Dataset, Vec<u8>) {
    let protos = [0b1111_0000_0000u32, 0b0000_1111_0000, 0b0000_0000_1111, 0b1100_1100_1100];
    let mut g = seed;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for e in 0..n {
        for i in 0..12 {
            g = g.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let flip = (g >> 33).is_multiple_of(10);
            x.push((((protos[e % 4] >> i) & 1 == 1) ^ flip) as u8 as f32);
        }
        y.push((e % 4) as u8);
    }
    (boltzmann::data::Dataset::new(x, 12).unwrap().with_labels(y.clone()).unwrap(), y)
}
