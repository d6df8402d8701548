//! Denoising score matching for a noise-conditional score network (Song &
//! Ermon 2019, "Generative Modeling by Estimating Gradients of the Data
//! Distribution"), sampled by annealed Langevin dynamics
//! ([`crate::sampler::langevin::LangevinChains::run_annealed`]).
//!
//! The network [`ScoreMlp`] takes `(x, log σ)` and returns `f(x, σ)`; the
//! score is `s(x, σ) = f(x, σ)/σ` (the output scaling of Song & Ermon
//! 2020, "Improved Techniques for Training Score-Based Generative
//! Models"). With `x̃ = x + σ·z`, `z ~ N(0, I)`, the per-level loss
//! `½ E‖s(x̃, σ) + (x̃ − x)/σ²‖²` weighted by `λ(σ) = σ²` becomes
//! `½ E‖f(x̃, σ) + z‖²`, averaged over `σ` drawn uniformly from the
//! levels. Adam; batches, levels and noise come from the seed, so the
//! result does not depend on the thread count.

use crate::data::Dataset;
pub use crate::energy::ScoreMlp;
use crate::energy::{Activation, Workspace};
use crate::error::{Error, Result};
use crate::rng;
use crate::sampler::langevin::geometric_schedule;
use rand_core::Rng;
use std::time::Instant;

/// Settings of [`train_dsm`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct DsmConfig {
    /// Noise levels: largest, smallest, count (geometric; default 5, 0.05,
    /// 10, for data of unit-to-several scale such as the 2-D toy sets).
    pub sigmas: (f32, f32, usize),
    /// Hidden widths (default `[128, 128]`).
    pub hidden: Vec<usize>,
    /// Activation (default swish).
    pub activation: Activation,
    /// Rows per batch (default 128).
    pub batch_size: usize,
    /// Updates (default 5,000).
    pub iterations: usize,
    /// Adam learning rate (default 1e-3; β = (0.9, 0.999)).
    pub learning_rate: f32,
    /// Seed.
    pub seed: u64,
}

setters!(DsmConfig {
    sigmas: (f32, f32, usize),
    hidden: Vec<usize>,
    activation: Activation,
    batch_size: usize,
    iterations: usize,
    learning_rate: f32,
    seed: u64,
});

impl Default for DsmConfig {
    fn default() -> Self {
        DsmConfig {
            sigmas: (5.0, 0.05, 10),
            hidden: vec![128, 128],
            activation: Activation::Swish,
            batch_size: 128,
            iterations: 5000,
            learning_rate: 1e-3,
            seed: 0,
        }
    }
}

/// Trains a score network on the rows of `data` by denoising score matching
/// (module docs), calling `on_iteration(iteration, loss, seconds)`.
///
/// # Errors
/// [`Error::InvalidParam`] for bad settings or no data,
/// [`Error::Diverged`] if the loss or parameters stop being finite.
///
/// # Examples
/// ```
/// use boltzmann::data::Toy2d;
/// use boltzmann::train::dsm::{DsmConfig, train_dsm};
/// let data = Toy2d::Moons.sample(256, 1)?;
/// let cfg = DsmConfig::default().iterations(20).hidden(vec![32]);
/// let model = train_dsm(&data, &cfg, |_, loss, _| assert!(loss.is_finite()))?;
/// assert_eq!(model.sigmas().len(), 10);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_dsm(
    data: &Dataset,
    config: &DsmConfig,
    mut on_iteration: impl FnMut(usize, f64, f64),
) -> Result<ScoreMlp> {
    let c = config;
    if c.batch_size == 0 || c.iterations == 0 {
        return Err(Error::InvalidParam { name: "batch_size / iterations", reason: "must be ≥ 1".into() });
    }
    if !(c.learning_rate.is_finite() && c.learning_rate > 0.0) {
        return Err(Error::InvalidParam { name: "learning_rate", reason: format!("{}", c.learning_rate) });
    }
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
    }
    let sigmas = geometric_schedule(c.sigmas.0, c.sigmas.1, c.sigmas.2)?;
    let d = data.dim();
    let mut model = ScoreMlp::new(d, &c.hidden, c.activation, sigmas.clone(), c.seed)?;
    let b = c.batch_size;
    crate::alloc::check_bytes("DSM batch (2 × batch × features)", 2 * b as u128 * d as u128, 4)?;
    let mut g = rng::to_generator(rng::chain_streams(rng::derive(c.seed, rng::Purpose::DsmTraining), 1)?[0]);
    let np = model.mlp.n_params();
    let (mut m1, mut m2, mut grad) = (vec![0.0f64; np], vec![0.0f64; np], vec![0.0f64; np]);
    let adam = super::optim::Adam64::literal_defaults(c.learning_rate as f64);
    let mut ws = Workspace::default();
    let mut z = vec![0.0f32; b * d];
    let mut levels = vec![0usize; b];
    let t0 = Instant::now();
    for it in 0..c.iterations {
        let mut x = Vec::with_capacity(b * d);
        for l in levels.iter_mut() {
            let i = (g.next_u64() % data.len() as u64) as usize;
            x.extend_from_slice(data.row(i));
            *l = (g.next_u64() % sigmas.len() as u64) as usize;
        }
        let mut st = rng::chain_streams(c.seed.wrapping_add(1 + it as u64), b)?;
        rng::fill_normal(&mut st, d, &mut z)?;
        for ((row, zr), &l) in x.chunks_exact_mut(d).zip(z.chunks_exact(d)).zip(&levels) {
            row.iter_mut().zip(zr).for_each(|(v, &z)| *v += sigmas[l] * z);
        }
        let inp = model.inputs(&x, |r| sigmas[levels[r]].ln());
        let f = model.mlp.forward(&inp, &mut ws)?;
        let mut loss = 0.0f64;
        let delta: Vec<f32> = f
            .iter()
            .zip(&z)
            .map(|(&f, &z)| {
                let e = f + z;
                loss += 0.5 * (e as f64) * (e as f64);
                e / b as f32
            })
            .collect();
        loss /= b as f64;
        if !loss.is_finite() {
            return Err(Error::Diverged { epoch: 0, step: it as u64, reason: format!("loss {loss}") });
        }
        grad.iter_mut().for_each(|v| *v = 0.0);
        model.mlp.backward(&inp, delta, None, Some(&mut grad), &mut ws)?;
        let mut p = model.mlp.params().to_vec();
        adam.step((it + 1) as i32, &mut p, &grad, &mut m1, &mut m2);
        model.mlp.set_params(&p).map_err(|_| Error::Diverged {
            epoch: 0,
            step: it as u64,
            reason: "a parameter is not finite".into(),
        })?;
        on_iteration(it + 1, loss, t0.elapsed().as_secs_f64());
    }
    Ok(model)
}
