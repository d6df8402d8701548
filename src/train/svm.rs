//! Training a linear SVM ([`LinearSvm`]) one class against the rest, with
//! the squared hinge loss and an L2 penalty, by **dual coordinate descent**
//! (Hsieh, Chang, Lin, Keerthi & Sundararajan, "A dual coordinate descent
//! method for large-scale linear SVM", ICML 2008 — LIBLINEAR's solver for
//! this loss, which scikit-learn's `LinearSVC` calls). For class `k` and
//! labels `yᵢ = ±1` it solves
//!
//! `min_w ½‖w‖² + C Σᵢ max(0, 1 − yᵢ wᵀx̃ᵢ)²`, `x̃ᵢ = (xᵢ, 1)`,
//!
//! so the bias is the weight of a constant feature and is penalised as
//! LIBLINEAR does. The dual variables `αᵢ ≥ 0` are updated one at a time in
//! a random order each pass, each update exact for its coordinate; a class
//! stops when the projected gradients of a pass span less than `tol`
//! (LIBLINEAR's criterion, without its shrinking heuristic).
//!
//! All classes visit the rows in the same order, so each row is read once
//! per pass for all the classes a thread holds; a class's result depends on
//! the seed only, not on how the classes are spread over threads.

use crate::data::{Dataset, shuffle_indices};
use crate::error::{Error, Result};
use crate::model::LinearSvm;
use crate::rng;
use rayon::prelude::*;

/// Settings of [`fit_linear_svm`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct SvmConfig {
    /// Number of classes (labels must be below it; default 10).
    pub n_classes: usize,
    /// Cost `C` of the squared hinge loss against the L2 penalty ½‖w‖²
    /// (default 0.1; larger fits the training data more closely).
    pub c: f32,
    /// Passes over the data per class at most (default 300).
    pub max_passes: usize,
    /// Stop a class when the projected gradients of one pass span less than
    /// this (default 0.01).
    pub tol: f32,
    /// Seed of the visiting order (default 0).
    pub seed: u64,
}

setters!(SvmConfig { n_classes: usize, c: f32, max_passes: usize, tol: f32, seed: u64 });

impl Default for SvmConfig {
    fn default() -> Self {
        SvmConfig { n_classes: 10, c: 0.1, max_passes: 300, tol: 0.01, seed: 0 }
    }
}

/// How each class's solve ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SvmReport {
    /// Passes run, per class.
    pub passes: Vec<usize>,
    /// Whether the class met `tol` (otherwise it stopped at `max_passes`).
    pub converged: Vec<bool>,
}

/// One class's solve: weights (the last one the bias), dual variables.
struct Solve {
    class: u8,
    w: Vec<f64>,
    alpha: Vec<f64>,
    passes: usize,
    converged: bool,
    pg_max: f64,
    pg_min: f64,
}

/// `Σ w[j]·x[j]` with eight fixed partial sums (the same bits on every ISA).
fn dot(w: &[f64], x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (wc, xc) = (w.chunks_exact(8), x.chunks_exact(8));
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (a, b) in wc.zip(xc) {
        for l in 0..8 {
            acc[l] += a[l] * b[l] as f64;
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (a, &b) in wr.iter().zip(xr) {
        s += a * b as f64;
    }
    s
}

/// Fits a one-vs-rest linear SVM to the labelled rows of `data` (any real
/// features). Returns the classifier and how each class's solve ended.
///
/// # Errors
/// [`Error::InvalidParam`] for a data set without labels or examples, a
/// label not below `n_classes`, `n_classes` outside 2..=256, a cost or
/// tolerance that is not finite and > 0, zero passes.
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::train::svm::{SvmConfig, fit_linear_svm};
/// // Class = which of the two features is on.
/// let x: Vec<f32> = (0..40).flat_map(|i| if i % 2 == 0 { [1.0, 0.0] } else { [0.0, 1.0] }).collect();
/// let labels: Vec<u8> = (0..40).map(|i| (i % 2) as u8).collect();
/// let data = Dataset::new(x, 2)?.with_labels(labels.clone())?;
/// let (m, report) = fit_linear_svm(&data, &SvmConfig::default().n_classes(2).c(1.0))?;
/// assert_eq!(m.error_rate(data.features(), &labels)?, 0.0);
/// assert!(report.converged.iter().all(|&c| c));
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn fit_linear_svm(data: &Dataset, config: &SvmConfig) -> Result<(LinearSvm, SvmReport)> {
    let bad = |name: &'static str, reason: String| Error::InvalidParam { name, reason };
    let labels = data.labels().ok_or_else(|| bad("labels", "the data set has no labels".into()))?;
    let nc = config.n_classes;
    if !(2..=256).contains(&nc) {
        return Err(bad("n_classes", format!("{nc} is not in 2..=256")));
    }
    if let Some(i) = labels.iter().position(|&y| y as usize >= nc) {
        return Err(bad(
            "labels",
            format!("label {} of example {i} is not below n_classes = {nc}", labels[i]),
        ));
    }
    if data.is_empty() {
        return Err(bad("data", "no examples".into()));
    }
    for (name, v) in [("c", config.c), ("tol", config.tol)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(bad(name, format!("must be finite and > 0, got {v}")));
        }
    }
    if config.max_passes == 0 {
        return Err(bad("max_passes", "must be ≥ 1".into()));
    }
    let (n, f) = (data.len(), data.dim());
    let x = data.features();
    // Q_ii = x̃ᵢᵀx̃ᵢ + 1/(2C): the bias feature adds 1.
    let diag = 0.5 / config.c as f64;
    let qd: Vec<f64> =
        x.chunks_exact(f).map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>() + 1.0 + diag).collect();
    let mut solves = Vec::with_capacity(nc);
    for class in 0..nc {
        solves.push(Solve {
            class: class as u8,
            w: crate::alloc::try_vec(f + 1, 0.0f64, "SVM weights")?,
            alpha: crate::alloc::try_vec(n, 0.0f64, "SVM dual variables")?,
            passes: 0,
            converged: false,
            pg_max: 0.0,
            pg_min: 0.0,
        });
    }
    let per = nc.div_ceil(rayon::current_num_threads().max(1));
    let stream = rng::chain_streams(rng::derive(config.seed, rng::Purpose::SvmOrder), 1)?[0];
    solves.par_chunks_mut(per).for_each(|group| {
        solve_group(group, x, f, labels, &qd, diag, config, stream);
    });
    let mut weights = crate::alloc::try_vec(f * nc, 0.0f32, "SVM weights")?;
    let mut bias = vec![0.0f32; nc];
    for s in &solves {
        let k = s.class as usize;
        for (j, &wj) in s.w[..f].iter().enumerate() {
            weights[j * nc + k] = wj as f32;
        }
        bias[k] = s.w[f] as f32;
    }
    let report = SvmReport {
        passes: solves.iter().map(|s| s.passes).collect(),
        converged: solves.iter().map(|s| s.converged).collect(),
    };
    Ok((LinearSvm::new(f, nc, weights, bias)?, report))
}

/// Passes over the rows in the order shared by all classes, updating every
/// class of `group` that has not converged at each row.
#[allow(clippy::too_many_arguments)]
fn solve_group(
    group: &mut [Solve],
    x: &[f32],
    f: usize,
    labels: &[u8],
    qd: &[f64],
    diag: f64,
    config: &SvmConfig,
    stream: rng::StreamState,
) {
    let n = labels.len();
    let mut order: Vec<u32> = (0..n as u32).collect();
    // Every group draws the same sequence of orders from its own copy.
    let mut g = rng::to_generator(stream);
    for pass in 0..config.max_passes {
        if group.iter().all(|s| s.converged) {
            break;
        }
        shuffle_indices(&mut order, &mut g);
        for s in group.iter_mut().filter(|s| !s.converged) {
            s.pg_max = f64::NEG_INFINITY;
            s.pg_min = f64::INFINITY;
        }
        for &i in &order {
            let i = i as usize;
            let row = &x[i * f..(i + 1) * f];
            for s in group.iter_mut().filter(|s| !s.converged) {
                let y = if labels[i] == s.class { 1.0 } else { -1.0 };
                let a = s.alpha[i];
                let grad = y * (dot(&s.w[..f], row) + s.w[f]) - 1.0 + diag * a;
                let pg = if a == 0.0 { grad.min(0.0) } else { grad };
                s.pg_max = s.pg_max.max(pg);
                s.pg_min = s.pg_min.min(pg);
                if pg != 0.0 {
                    let a_new = (a - grad / qd[i]).max(0.0);
                    s.alpha[i] = a_new;
                    let d = (a_new - a) * y;
                    for (wj, &xj) in s.w[..f].iter_mut().zip(row) {
                        *wj += d * xj as f64;
                    }
                    s.w[f] += d;
                }
            }
        }
        for s in group.iter_mut().filter(|s| !s.converged) {
            s.passes = pass + 1;
            s.converged = s.pg_max - s.pg_min <= config.tol as f64;
        }
    }
}
