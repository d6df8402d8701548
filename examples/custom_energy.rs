//! Your own energy function under unadjusted Langevin and MALA: implement
//! `energy::Energy` (a double well per coordinate here), run
//! `LangevinChains`, and compare with the exact marginal.
//!
//! `cargo run --release --example custom_energy`

use boltzmann::energy::{Energy, Workspace};
use boltzmann::sampler::LangevinChains;
use boltzmann::sampler::langevin::{LangevinConfig, MalaConfig};
use rayon::prelude::*;

/// `E(x) = Σᵢ (xᵢ² − 1)² / T`: two wells per coordinate at ±1.
struct DoubleWell {
    d: usize,
    temperature: f64,
}

impl Energy for DoubleWell {
    fn dim(&self) -> usize {
        self.d
    }
    // Rows in parallel with rayon: each row's value depends on that row only.
    fn energy(&self, x: &[f32], out: &mut [f64], _: &mut Workspace) -> boltzmann::Result<()> {
        out.par_iter_mut().zip(x.par_chunks(self.d)).for_each(|(e, row)| {
            *e = row.iter().map(|&v| (v as f64 * v as f64 - 1.0).powi(2)).sum::<f64>() / self.temperature;
        });
        Ok(())
    }
    fn grad(&self, x: &[f32], grad: &mut [f32], _: &mut Workspace) -> boltzmann::Result<()> {
        let t = self.temperature as f32;
        grad.par_iter_mut().zip(x.par_iter()).for_each(|(g, &v)| *g = 4.0 * v * (v * v - 1.0) / t);
        Ok(())
    }
}

fn main() -> boltzmann::Result<()> {
    let e = DoubleWell { d: 4, temperature: 0.5 };
    // Exact E[x²] of one coordinate by quadrature.
    let (mut z, mut m2) = (0.0f64, 0.0f64);
    for i in 0..20_000 {
        let x = -3.0 + 6.0 * (i as f64 + 0.5) / 20_000.0;
        let p = (-(x * x - 1.0).powi(2) / e.temperature).exp();
        z += p;
        m2 += x * x * p;
    }
    println!("exact E[x²] = {:.4}", m2 / z);
    for step in [0.01f32, 0.05] {
        let mut ula = LangevinChains::uniform(2000, e.d, -2.0, 2.0, 1)?;
        ula.run(&e, &LangevinConfig::ula(step), 2000)?;
        let mut mala = LangevinChains::uniform(2000, e.d, -2.0, 2.0, 1)?;
        let r = mala.run_mala(&e, &MalaConfig::new(step), 2000)?;
        let second = |c: &LangevinChains| {
            c.states().iter().map(|&v| (v * v) as f64).sum::<f64>() / c.states().len() as f64
        };
        println!(
            "step {step}: ULA E[x²] = {:.4}, MALA E[x²] = {:.4} (acceptance {:.3})",
            second(&ula),
            second(&mala),
            r.rate()
        );
    }
    Ok(())
}
