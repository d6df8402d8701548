//! An MLP energy on the 8-Gaussian toy set: Du & Mordatch's training with a
//! replay buffer, then MALA samples of the learned energy.
//! `cargo run --release --example ebm`

use boltzmann::data::Toy2d;
use boltzmann::energy::{Activation, MlpEnergy};
use boltzmann::sampler::langevin::{LangevinChains, LangevinConfig, MalaConfig};
use boltzmann::train::ebm::{EbmConfig, train_ebm};

fn main() -> boltzmann::Result<()> {
    let data = Toy2d::Mixture8.sample(4000, 1)?;
    let mut energy = MlpEnergy::new(2, &[64, 64], Activation::Swish, 2)?;
    let langevin = LangevinConfig::ula(0.05).noise(0.1).grad_clip(None).clamp(Some((-7.0, 7.0)));
    let config = EbmConfig::default().iterations(200).langevin(langevin).init_range((-7.0, 7.0)).alpha(0.1);
    train_ebm(&mut energy, &data, &config, |r| {
        if r.iteration % 50 == 0 {
            println!("{} {:.3}", r.iteration, r.loss)
        }
    })?;
    let mut chains = LangevinChains::uniform(1000, 2, -7.0, 7.0, 3)?;
    let report = chains.run_mala(&energy, &MalaConfig::new(0.01), 500)?; // exact for the learned energy
    println!("MALA acceptance {:.2}", report.rate());
    chains.check_failures()
}
