//! A convolutional RBM on 2,000 embedded digits: train, save, sample.
//! `cargo run --release --example conv` writes `crbm.safetensors` and
//! `crbm-samples.png` in the current directory.
use boltzmann::sampler::ConvChains;
use boltzmann::train::conv::{ConvTrainConfig, train_conv_rbm};

fn main() -> boltzmann::Result<()> {
    let digits = boltzmann::io::embedded_mnist()?.train.subset(0..2000)?;
    let cfg = ConvTrainConfig::default().filters(16).epochs(3);
    let model = train_conv_rbm(&digits, (28, 28, 1), &cfg, |r| println!("{r:?}"))?;
    boltzmann::io::save_conv_rbm(&model, "crbm.safetensors")?;
    let mut chains = ConvChains::new(&model, 16, 7)?;
    chains.sweep(&model, 500)?;
    boltzmann::io::grid_png("crbm-samples.png", chains.visible(), 28, 28, 4, 2)?;
    Ok(())
}
