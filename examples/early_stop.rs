//! Training from data in memory with a per-epoch report and early stopping:
//! stop when the validation pseudo-log-likelihood has not improved for three
//! epochs, and keep the best model.
//!
//! `cargo run --release --example early_stop`

use boltzmann::data::Dataset;
use boltzmann::train::{Algorithm, Schedule, TrainConfig, Trainer, metrics};

fn main() -> boltzmann::Result<()> {
    // Data from anywhere: here 2,000 noisy copies of 4 binary prototypes.
    let (d, n) = (64, 2000);
    let proto: Vec<Vec<f32>> = (0..4).map(|p| (0..d).map(|i| ((i / (p + 2)) % 2) as f32).collect()).collect();
    let mut g = boltzmann::rng::to_generator(boltzmann::rng::chain_streams(5, 1)?[0]);
    use boltzmann::rand_core::Rng;
    let x: Vec<f32> = (0..n)
        .flat_map(|r| {
            let p = &proto[r % 4];
            p.iter().map(|&b| if g.next_u32().is_multiple_of(20) { 1.0 - b } else { b }).collect::<Vec<_>>()
        })
        .collect();
    let (train, valid) = Dataset::new(x, d)?.split(1600)?;
    let config = TrainConfig::default()
        .n_hidden(16)
        .algorithm(Algorithm::Pcd { k: 1, chains: 100 })
        .learning_rate(0.05)
        .schedule(Schedule::Linear { final_lr: 5e-4 })
        .epochs(60);
    let mut trainer = Trainer::new(config, &train)?;
    let (mut best, mut best_epoch, mut best_rbm) = (f64::NEG_INFINITY, 0, trainer.rbm().clone());
    while !trainer.is_done() {
        let report = trainer.run_epoch(&train, |_, _| {})?;
        let m = metrics::evaluate(trainer.rbm(), &train, Some(&valid))?;
        let v = m.pseudo_ll_valid.expect("a validation set");
        println!(
            "epoch {:>2}: {:.3} s, pseudo-LL train {:.3}, valid {v:.3}",
            report.epoch + 1,
            report.seconds,
            m.pseudo_ll
        );
        if v > best {
            (best, best_epoch, best_rbm) = (v, report.epoch + 1, trainer.rbm().clone());
        } else if report.epoch + 1 >= best_epoch + 3 {
            println!("no improvement for 3 epochs: stopping");
            break;
        }
    }
    println!(
        "best: epoch {best_epoch}, validation pseudo-LL {best:.3}, {} hidden units",
        best_rbm.n_hidden()
    );
    Ok(())
}
