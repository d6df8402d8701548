//! A small Deep Belief Network: greedy training, the variational bound and
//! samples (the README's DBN example).

use boltzmann::{
    data::Dataset,
    eval,
    train::{
        TrainConfig,
        dbn::{DbnConfig, Propagate, train_greedy},
    },
};

fn main() -> boltzmann::Result<()> {
    let x: Vec<f32> = (0..200 * 12).map(|i| ((i / 12 % 4 + i % 12) % 4 < 2) as u8 as f32).collect(); // 4 patterns
    let data = Dataset::new(x, 12)?;
    let layer = |h| TrainConfig::default().n_hidden(h).batch_size(20).epochs(5);
    let config =
        DbnConfig::new(vec![layer(8), layer(6)]).tied_init(false).seed(1).propagate(Propagate::Samples);
    let dbn = train_greedy(&config, &data, |layer, r| println!("layer {layer} epoch {}", r.epoch + 1))?;
    let log_z = eval::log_partition_exact(dbn.top())?;
    let bound = eval::dbn::lower_bound(&dbn, &data, log_z, 10, 0)?;
    println!("lower bound {:.3} ± {:.3}", bound.mean, bound.std_err);
    let samples = dbn.sample(16, 500, 2)?; // 16 × 12 binary states and their p(v|h¹)
    assert_eq!(samples.visible.len(), 16 * 12);
    Ok(())
}
