//! Train an RBM on the embedded binarized MNIST subset, watch it learn,
//! save it, and write pictures — the library version of `boltzmann train`.
//!
//! `cargo run --release --example train`

use boltzmann::train::{Algorithm, TrainConfig, Trainer, metrics};

fn main() -> boltzmann::Result<()> {
    let data = boltzmann::io::embedded_mnist()?;
    let config = TrainConfig::default()
        .n_hidden(200)
        .algorithm(Algorithm::Pcd { k: 1, chains: 100 })
        .learning_rate(0.05)
        .epochs(5);
    let mut trainer = Trainer::new(config, &data.train)?;
    let (mon_train, mon_valid) = (data.train.subset(0..500)?, data.valid.subset(0..500)?);
    while !trainer.is_done() {
        let r = trainer.run_epoch(&data.train, |_, _| {})?;
        let m = metrics::evaluate(trainer.rbm(), &mon_train, Some(&mon_valid))?;
        println!(
            "epoch {}: {:.2} s, reconstruction error {:.2}, pseudo-log-likelihood {:.2} (validation {:.2})",
            r.epoch + 1,
            r.seconds,
            m.recon_error,
            m.pseudo_ll,
            m.pseudo_ll_valid.unwrap_or(f64::NAN)
        );
    }
    let dir = std::env::temp_dir().join("boltzmann-example");
    std::fs::create_dir_all(&dir).map_err(|e| boltzmann::Error::os(dir.display(), "cannot create", e))?;
    boltzmann::io::save_rbm(trainer.rbm(), dir.join("model.safetensors"))?;
    boltzmann::io::save_checkpoint(trainer.state(), dir.join("checkpoint.safetensors"))?;
    boltzmann::io::filters_png(dir.join("filters.png"), trainer.rbm(), 28, 28, 100, 10)?;
    println!("wrote model, checkpoint and filters.png to {}", dir.display());
    Ok(())
}
