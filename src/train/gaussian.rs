//! CD-k and PCD training of the Gaussian–Bernoulli RBM
//! ([`GaussianRbm`]), the real-valued-data variant of [`crate::train`]'s
//! trainer (Hinton's guide §13.2; Cho, Ilin & Raiko 2011 for learning
//! `σ` through `log σ`).
//!
//! The gradient of `mean F(x⁺) − mean F(x⁻)` is the energy's own
//! `Σ aᵣ ∇_θF(xᵣ)` ([`TrainableEnergy::add_param_grad`]) with `a = +1/m` on
//! the data rows and `−1/m` on the negative samples (block Gibbs, CD-k
//! from the data or PCD chains); SGD with momentum and L2 weight decay.
//! Visible biases start at the data means. Everything comes from the seed,
//! so results are the same for any thread count.

use crate::data::{Dataset, shuffle_indices};
use crate::energy::{TrainableEnergy, Workspace};
use crate::error::{Error, Result};
use crate::model::GaussianRbm;
use crate::rng;
use crate::train::{Optim, Schedule};
use std::time::Instant;

/// Settings of [`train_gaussian_rbm`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianTrainConfig {
    /// Hidden units (default 500).
    pub n_hidden: usize,
    /// Gibbs steps per update (default 1).
    pub k: usize,
    /// Persistent chains (PCD) instead of CD-k from the data (default false).
    pub persistent: bool,
    /// Learning rate, schedule, L2 weight decay on `W`, batch size, epochs
    /// (default: 1e-3 constant — real-valued units need small rates —, L2
    /// 1e-4, batches of 100, 10 epochs).
    pub optim: Optim,
    /// Momentum (default 0.9).
    pub momentum: f32,
    /// Standard deviation of the initial weights (default 0.01).
    pub weight_init_std: f32,
    /// Initial `σ` of every visible unit (default 1; in [0.001, 1000], for
    /// standardized data).
    pub init_sigma: f32,
    /// Learn `σ` (through `log σ`, at a tenth of the learning rate); the
    /// default keeps it fixed, the usual choice for standardized data.
    pub learn_sigma: bool,
    /// Seed.
    pub seed: u64,
}

setters!(GaussianTrainConfig {
    n_hidden: usize,
    k: usize,
    persistent: bool,
    momentum: f32,
    weight_init_std: f32,
    init_sigma: f32,
    learn_sigma: bool,
    seed: u64,
});

optim_setters!(GaussianTrainConfig);

impl Default for GaussianTrainConfig {
    fn default() -> Self {
        GaussianTrainConfig {
            n_hidden: 500,
            k: 1,
            persistent: false,
            optim: Optim::new(1e-3, Schedule::Constant, 1e-4, 100, 10),
            momentum: 0.9,
            weight_init_std: 0.01,
            init_sigma: 1.0,
            learn_sigma: false,
            seed: 0,
        }
    }
}

/// After each epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianEpochReport {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Mean squared reconstruction error per example (data → hidden
    /// probabilities → visible means), summed over units.
    pub reconstruction_error: f64,
    /// Mean free energy of the data.
    pub free_energy: f64,
    /// Seconds for the epoch.
    pub seconds: f64,
}

fn bad(name: &'static str, reason: String) -> Error {
    Error::InvalidParam { name, reason }
}

/// Trains a Gaussian–Bernoulli RBM on the real-valued rows of `data`.
///
/// # Errors
/// [`Error::InvalidParam`] for bad settings or no data, [`Error::NonFinite`]
/// data, [`Error::Diverged`] when the parameters stop being finite (lower
/// the learning rate).
///
/// # Examples
/// ```
/// use boltzmann::data::Toy2d;
/// use boltzmann::train::gaussian::{GaussianTrainConfig, train_gaussian_rbm};
/// let data = Toy2d::Mixture8.sample(400, 1)?;
/// let cfg = GaussianTrainConfig::default().n_hidden(16).epochs(3).batch_size(20).learning_rate(0.01);
/// let m = train_gaussian_rbm(&data, &cfg, |r| assert!(r.reconstruction_error.is_finite()))?;
/// assert_eq!(m.n_hidden(), 16);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_gaussian_rbm(
    data: &Dataset,
    config: &GaussianTrainConfig,
    mut on_epoch: impl FnMut(&GaussianEpochReport),
) -> Result<GaussianRbm> {
    let c = config;
    if c.n_hidden == 0 || c.k == 0 {
        return Err(bad("n_hidden / k", "must be ≥ 1".into()));
    }
    super::check_sgd(&c.optim, c.momentum, c.weight_init_std)?;
    // Data are expected standardized (σ of order 1): beyond these bounds
    // the conditionals overflow f32 or the model cannot move.
    if !(c.init_sigma.is_finite() && (1e-3..=1e3).contains(&c.init_sigma)) {
        return Err(bad("init_sigma", format!("{} must be in [0.001, 1000]", c.init_sigma)));
    }
    if data.is_empty() {
        return Err(bad("data", "no examples".into()));
    }
    if let Some(i) = data.features().iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "data", index: i });
    }
    let (d, h) = (data.dim(), c.n_hidden);
    let means = data.marginals();
    let init = GaussianRbm::random(d, h, c.weight_init_std, c.init_sigma, c.seed)?;
    let (w, _, hb, s) = init.into_parts();
    let mut model = GaussianRbm::new(d, h, w, means.iter().map(|&m| m as f32).collect(), hb, s)?;
    let np = model.n_params();
    let mut vel = vec![0.0f32; np];
    let mut grad = vec![0.0f64; np];
    let mut ws = Workspace::default();
    let bs = c.optim.batch_size.min(data.len());
    crate::alloc::check_bytes("GB-RBM batch (2 × batch × features)", 2 * bs as u128 * data.dim() as u128, 4)?;
    let mut streams = rng::chain_streams(rng::derive(c.seed, rng::Purpose::GaussianChains), bs)?;
    let mut chains: Vec<f32> = Vec::new();
    let mut order: Vec<u32> = (0..data.len() as u32).collect();
    let mut shuffle =
        rng::to_generator(rng::chain_streams(rng::derive(c.seed, rng::Purpose::SmallTrainerOrder), 1)?[0]);
    let (wlen, sig0) = (d * h, np - d);
    let mut both = vec![0.0f32; 2 * bs * d];
    let mut coef = vec![0.0f32; 2 * bs];
    for epoch in 0..c.optim.epochs {
        let t0 = Instant::now();
        let lr_epoch = c.optim.rate(epoch);
        shuffle_indices(&mut order, &mut shuffle);
        for idx in order.chunks(bs) {
            let m = idx.len();
            let (pos, neg) = both[..2 * m * d].split_at_mut(m * d);
            for (row, &i) in pos.chunks_exact_mut(d).zip(idx) {
                row.copy_from_slice(data.row(i as usize));
            }
            if c.persistent {
                if chains.is_empty() {
                    chains = pos.to_vec();
                    chains.resize(bs * d, 0.0);
                    for r in m..bs {
                        let src = data.row(r % data.len()).to_vec();
                        chains[r * d..(r + 1) * d].copy_from_slice(&src);
                    }
                }
                model.gibbs(&mut chains, &mut streams, c.k)?;
                neg.copy_from_slice(&chains[..m * d]);
            } else {
                neg.copy_from_slice(pos);
                model.gibbs(neg, &mut streams[..m], c.k)?;
            }
            for (k, a) in coef[..2 * m].iter_mut().enumerate() {
                *a = if k < m { 1.0 } else { -1.0 } / m as f32;
            }
            grad.iter_mut().for_each(|g| *g = 0.0);
            model.add_param_grad(&both[..2 * m * d], &coef[..2 * m], &mut grad, &mut ws)?;
            let mut p = model.params();
            for (i, ((p, v), &g)) in p.iter_mut().zip(vel.iter_mut()).zip(&grad).enumerate() {
                let mut g = g as f32;
                let mut lr = lr_epoch;
                if i < wlen {
                    g += c.optim.l2 * *p;
                } else if i >= sig0 {
                    if !c.learn_sigma {
                        continue;
                    }
                    lr *= 0.1;
                }
                super::optim::momentum_step(p, v, c.momentum, lr, -g);
            }
            model.set_params(&p).map_err(|e| Error::Diverged {
                epoch,
                step: 0,
                reason: format!("{e} (lower the learning rate)"),
            })?;
        }
        // Monitors on up to 1,000 examples.
        let n = data.len().min(1000);
        let x = &data.features()[..n * d];
        let mut hp = vec![0.0f32; n * h];
        model.hidden_probs(x, &mut hp)?;
        let mut rec = vec![0.0f32; n * d];
        model.visible_means(&hp, &mut rec)?;
        let err = x.iter().zip(&rec).map(|(&a, &b)| ((a - b) as f64).powi(2)).sum::<f64>() / n as f64;
        if !err.is_finite() {
            return Err(Error::Diverged {
                epoch,
                step: 0,
                reason: format!("reconstruction error {err} (lower the learning rate)"),
            });
        }
        let mut fe = vec![0.0f64; n];
        crate::energy::Energy::energy(&model, x, &mut fe, &mut ws)?;
        on_epoch(&GaussianEpochReport {
            epoch: epoch + 1,
            reconstruction_error: err,
            free_energy: fe.iter().sum::<f64>() / n as f64,
            seconds: t0.elapsed().as_secs_f64(),
        });
    }
    Ok(model)
}
