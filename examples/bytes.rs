//! Models and training state through bytes instead of files — for a
//! database, an object store or a socket: `io::rbm_bytes` / `parse_rbm`,
//! `io::checkpoint_bytes` / `parse_checkpoint`, and a resumed run equal to
//! an uninterrupted one.
//!
//! `cargo run --release --example bytes`

use boltzmann::io;
use boltzmann::train::{TrainConfig, Trainer};

fn main() -> boltzmann::Result<()> {
    let data = io::embedded_mnist()?.train.subset(0..1000)?;
    let config = TrainConfig::default().n_hidden(32).epochs(4);
    // Two epochs, then the whole training state as bytes.
    let mut first = Trainer::new(config.clone(), &data)?;
    for _ in 0..2 {
        first.run_epoch(&data, |_, _| {})?;
    }
    let state: Vec<u8> = io::checkpoint_bytes(first.state());
    println!("checkpoint: {} bytes (with a checksum and the data's fingerprint)", state.len());
    // ... stored somewhere, read back, training continues on the same data.
    let mut resumed = Trainer::resume(io::parse_checkpoint(&state, "from the store")?, &data)?;
    while !resumed.is_done() {
        resumed.run_epoch(&data, |_, _| {})?;
    }
    let model: Vec<u8> = io::rbm_bytes(resumed.rbm());
    let back = io::parse_rbm(&model)?;
    // The same as four epochs without the interruption.
    let mut straight = Trainer::new(config, &data)?;
    while !straight.is_done() {
        straight.run_epoch(&data, |_, _| {})?;
    }
    assert_eq!(&back, straight.rbm());
    println!("model: {} bytes; resumed run identical to an uninterrupted one", model.len());
    // A damaged byte is caught.
    let mut bad = model.clone();
    let at = bad.len() - 10;
    bad[at] ^= 1;
    println!("damaged copy: {}", io::parse_rbm(&bad).unwrap_err());
    Ok(())
}
