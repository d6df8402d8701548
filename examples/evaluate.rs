//! Exact, forward-AIS and RAISE estimates of the average log-probability
//! of a data set under a small RBM (the README's evaluation example).
//!
//! `cargo run --release --example evaluate`

use boltzmann::{
    Rbm,
    data::Dataset,
    eval::{self, AisConfig, RaiseConfig},
};

fn main() -> boltzmann::Result<()> {
    let rbm = Rbm::random(16, 12, 1.0, 0.5, 1)?;
    let data = Dataset::new((0..16 * 50).map(|i| (i % 3 == 0) as u8 as f32).collect(), 16)?;
    let base = eval::base_rate_biases(&data)?; // visible biases of the base-rate model
    let fwd = eval::ais(&rbm, &base, &AisConfig::default())?; // 100 runs, 14,500 βs
    let upper = eval::average_log_prob(&rbm, &data, fwd.log_z)?; // optimistic in expectation
    let lower = eval::raise(&rbm, &base, &data, &RaiseConfig::default())?.mean; // conservative
    let exact = eval::average_log_prob(&rbm, &data, eval::log_partition_exact(&rbm)?)?;
    println!("RAISE {lower:.3}, exact {exact:.3}, AIS {upper:.3}");
    Ok(())
}
