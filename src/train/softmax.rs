//! Training softmax regression ([`SoftmaxRegression`]) by mini-batch SGD
//! with momentum on the average cross-entropy plus an L2 penalty: the
//! classifier that compares feature sets (raw pixels, a DBN's layers).
//! Shuffles come from the seed and every sum runs in a fixed order, so the
//! result is the same for any thread count.

use crate::data::{Dataset, shuffle_indices};
use crate::error::{Error, Result};
use crate::kernels::gemm;
use crate::model::SoftmaxRegression;
use crate::model::softmax::softmax_in_place;
use crate::rng;
use crate::train::{Optim, Schedule};

/// Settings of [`fit_softmax`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxConfig {
    /// Number of classes (labels must be below it; default 10).
    pub n_classes: usize,
    /// Learning rate, schedule, L2 penalty on the weights, batch size,
    /// epochs (default: 0.1 decayed as `lr / (1 + epoch / 10)`
    /// ([`Schedule::InverseTime`] with scale 10), L2 1e-4, batches of 100,
    /// 30 epochs).
    pub optim: Optim,
    /// Momentum (default 0.9).
    pub momentum: f32,
    /// Seed of the shuffles (default 0).
    pub seed: u64,
}

setters!(SoftmaxConfig { n_classes: usize, momentum: f32, seed: u64 });

optim_setters!(SoftmaxConfig);

impl Default for SoftmaxConfig {
    fn default() -> Self {
        SoftmaxConfig {
            n_classes: 10,
            optim: Optim::new(0.1, Schedule::InverseTime { scale: 10.0 }, 1e-4, 100, 30),
            momentum: 0.9,
            seed: 0,
        }
    }
}

/// Fits softmax regression to the labelled rows of `data` (any real
/// features, e.g. DBN posterior means).
///
/// # Errors
/// [`Error::InvalidParam`] for a data set without labels, a label not below
/// `n_classes`, an empty data set, bad [`Optim`] settings (see
/// [`Optim::check`]) or momentum; [`Error::NonFinite`] for a diverged fit
/// (a [`Dataset`] holds only finite features).
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::train::softmax::{SoftmaxConfig, fit_softmax};
/// // Class = which of the two features is on.
/// let x: Vec<f32> = (0..40).flat_map(|i| if i % 2 == 0 { [1.0, 0.0] } else { [0.0, 1.0] }).collect();
/// let labels: Vec<u8> = (0..40).map(|i| (i % 2) as u8).collect();
/// let data = Dataset::new(x, 2)?.with_labels(labels.clone())?;
/// let config = SoftmaxConfig::default().n_classes(2).epochs(20).batch_size(10);
/// let m = fit_softmax(&data, &config)?;
/// assert_eq!(m.error_rate(data.features(), &labels)?, 0.0);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn fit_softmax(data: &Dataset, config: &SoftmaxConfig) -> Result<SoftmaxRegression> {
    let bad = |name: &'static str, reason: String| Error::InvalidParam { name, reason };
    let labels = data.labels().ok_or_else(|| bad("labels", "the data set has no labels".into()))?;
    let c = config.n_classes;
    if let Some(i) = labels.iter().position(|&y| y as usize >= c) {
        return Err(bad(
            "labels",
            format!("label {} of example {i} is not below n_classes = {c}", labels[i]),
        ));
    }
    if data.is_empty() {
        return Err(bad("data", "no examples".into()));
    }
    super::check_sgd(&config.optim, config.momentum, 0.0)?;
    let (n, f) = (data.len(), data.dim());
    let mut model = SoftmaxRegression::zeros(f, c)?;
    let mut vel_w = crate::alloc::try_vec(f * c, 0.0f32, "velocity")?;
    let mut vel_b = vec![0.0f32; c];
    let bs = config.optim.batch_size.min(n);
    let mut xb = crate::alloc::try_vec(bs * f, 0.0f32, "batch")?;
    let mut p = vec![0.0f32; bs * c];
    let mut gw = crate::alloc::try_vec(f * c, 0.0f32, "gradient")?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut g =
        rng::to_generator(rng::chain_streams(rng::derive(config.seed, rng::Purpose::SoftmaxOrder), 1)?[0]);
    for epoch in 0..config.optim.epochs {
        shuffle_indices(&mut order, &mut g);
        let lr = config.optim.rate(epoch);
        for idx in order.chunks(bs) {
            let m = idx.len();
            for (dst, &i) in xb.chunks_exact_mut(f).zip(idx) {
                dst.copy_from_slice(data.row(i as usize));
            }
            let (w, b) = model.params_mut();
            let (xs, ps) = (&xb[..m * f], &mut p[..m * c]);
            gemm::par_gemm_nn(m, f, c, xs, w, ps, 512)?;
            // P − Y, scaled by 1/m: the gradient of the average cross-entropy
            // with respect to the logits.
            let inv = 1.0 / m as f32;
            for (row, &i) in ps.chunks_exact_mut(c).zip(idx) {
                softmax_in_place(row, b);
                row[labels[i as usize] as usize] -= 1.0;
                row.iter_mut().for_each(|v| *v *= inv);
            }
            gemm::par_gemm_tn(f, m, c, xs, ps, &mut gw, 256)?;
            for ((w, v), &g) in w.iter_mut().zip(vel_w.iter_mut()).zip(&gw) {
                let ascent = -(g + config.optim.l2 * *w);
                super::optim::momentum_step(w, v, config.momentum, lr, ascent);
            }
            for (k, (b, v)) in b.iter_mut().zip(vel_b.iter_mut()).enumerate() {
                let g: f32 = ps.chunks_exact(c).map(|r| r[k]).sum();
                super::optim::momentum_step(b, v, config.momentum, lr, -g);
            }
            if let Some(i) = w.iter().chain(b.iter()).position(|x| !x.is_finite()) {
                return Err(Error::NonFinite {
                    what: "classifier parameters (diverged; lower the learning rate)",
                    index: i,
                });
            }
        }
    }
    Ok(model)
}
