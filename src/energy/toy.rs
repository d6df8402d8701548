//! Closed-form energies whose distributions are known exactly: for testing
//! samplers and as built-in targets of `boltzmann langevin`.

use super::{Energy, Workspace, rows};
use crate::error::{Error, Result};
use crate::rng;

fn bad(name: &'static str, reason: String) -> Error {
    Error::InvalidParam { name, reason }
}

fn finite(what: &'static str, x: &[f64]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// `E(x) = ½ (x − μ)ᵀ P (x − μ)`: the Gaussian `N(μ, P⁻¹)` (up to its
/// constant), with a symmetric positive-definite precision `P` (`d × d`).
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    mean: Vec<f64>,
    precision: Vec<f64>,
}

impl Gaussian {
    /// From the mean and the precision matrix (row-major `d × d`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NonFinite`], and
    /// [`Error::InvalidParam`] unless `P` is symmetric positive definite.
    pub fn new(mean: Vec<f64>, precision: Vec<f64>) -> Result<Self> {
        let d = mean.len();
        if d == 0 {
            return Err(bad("mean", "dimension 0".into()));
        }
        crate::kernels::check_len(
            "precision (d × d)",
            crate::kernels::mul_dims("precision", d, d)?,
            precision.len(),
        )?;
        finite("mean", &mean)?;
        finite("precision", &precision)?;
        for i in 0..d {
            for j in 0..i {
                let (a, b) = (precision[i * d + j], precision[j * d + i]);
                if (a - b).abs() > 1e-12 * (a.abs() + b.abs()).max(1.0) {
                    return Err(bad("precision", format!("not symmetric at ({i}, {j})")));
                }
            }
        }
        cholesky(&precision, d).ok_or_else(|| bad("precision", "not positive definite".into()))?;
        Ok(Gaussian { mean, precision })
    }

    /// `N(μ, σ² I)`.
    ///
    /// # Errors
    /// As [`Gaussian::new`], and for `σ ≤ 0`.
    pub fn isotropic(mean: Vec<f64>, sigma: f64) -> Result<Self> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(bad("sigma", format!("{sigma} is not a positive number")));
        }
        let d = mean.len();
        let mut p = vec![0.0; d * d];
        for i in 0..d {
            p[i * d + i] = 1.0 / (sigma * sigma);
        }
        Self::new(mean, p)
    }

    /// The mean `μ`.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The precision `P`.
    pub fn precision(&self) -> &[f64] {
        &self.precision
    }

    /// `n` exact samples (`n × d`) from `seed`: `μ + L⁻ᵀ z` with `P = L Lᵀ`
    /// (so the covariance is `P⁻¹`) and `z ~ N(0, I)`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] for sizes that do not fit in memory.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::energy::Gaussian;
    /// let g = Gaussian::isotropic(vec![3.0, -1.0], 0.5)?;
    /// let x = g.sample(2000, 1)?;
    /// let m0 = x.chunks(2).map(|r| r[0] as f64).sum::<f64>() / 2000.0;
    /// assert!((m0 - 3.0).abs() < 0.1);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let d = self.mean.len();
        let l = cholesky(&self.precision, d).expect("checked at construction");
        let mut z = crate::alloc::try_vec(crate::kernels::mul_dims("samples", n, d)?, 0.0f32, "samples")?;
        let mut st = rng::chain_streams(seed, n)?;
        rng::fill_normal(&mut st, d, &mut z)?;
        let mut y = vec![0.0f64; d];
        for row in z.chunks_exact_mut(d) {
            // Solve Lᵀ y = z (back substitution).
            for i in (0..d).rev() {
                let mut s = row[i] as f64;
                for k in i + 1..d {
                    s -= l[k * d + i] * y[k];
                }
                y[i] = s / l[i * d + i];
            }
            for ((x, &y), &m) in row.iter_mut().zip(&y).zip(&self.mean) {
                *x = (m + y) as f32;
            }
        }
        Ok(z)
    }

    /// The covariance `P⁻¹` (row-major), by Cholesky.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.mean.len();
        let l = cholesky(&self.precision, d).expect("checked at construction");
        // Solve P X = I column by column.
        let mut cov = vec![0.0; d * d];
        for c in 0..d {
            let mut y = vec![0.0; d];
            for i in 0..d {
                let mut s = if i == c { 1.0 } else { 0.0 };
                for k in 0..i {
                    s -= l[i * d + k] * y[k];
                }
                y[i] = s / l[i * d + i];
            }
            for i in (0..d).rev() {
                let mut s = y[i];
                for k in i + 1..d {
                    s -= l[k * d + i] * cov[k * d + c];
                }
                cov[i * d + c] = s / l[i * d + i];
            }
        }
        cov
    }
}

/// Lower Cholesky factor of a symmetric matrix, `None` unless positive
/// definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

impl Energy for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn energy(&self, x: &[f32], out: &mut [f64], _ws: &mut Workspace) -> Result<()> {
        let d = self.dim();
        rows(d, x, out.len())?;
        let mut diff = vec![0.0f64; d];
        for (row, o) in x.chunks_exact(d).zip(out.iter_mut()) {
            for ((t, &v), &m) in diff.iter_mut().zip(row).zip(&self.mean) {
                *t = v as f64 - m;
            }
            let mut e = 0.0;
            for (i, p) in self.precision.chunks_exact(d).enumerate() {
                e += diff[i] * p.iter().zip(&diff).map(|(p, t)| p * t).sum::<f64>();
            }
            *o = 0.5 * e;
        }
        Ok(())
    }

    fn grad(&self, x: &[f32], grad: &mut [f32], _ws: &mut Workspace) -> Result<()> {
        let d = self.dim();
        rows(d, x, grad.len() / d)?;
        crate::kernels::check_len("grad (rows × dim)", x.len(), grad.len())?;
        let mut diff = vec![0.0f64; d];
        for (row, g) in x.chunks_exact(d).zip(grad.chunks_exact_mut(d)) {
            for ((t, &v), &m) in diff.iter_mut().zip(row).zip(&self.mean) {
                *t = v as f64 - m;
            }
            for (g, p) in g.iter_mut().zip(self.precision.chunks_exact(d)) {
                *g = p.iter().zip(&diff).map(|(p, t)| p * t).sum::<f64>() as f32;
            }
        }
        Ok(())
    }
}

/// `E(x) = −log Σₖ πₖ N(x; μₖ, σₖ² I)`: a mixture of isotropic Gaussians,
/// normalized (so `exp(−E)` is the density itself).
///
/// # Examples
/// ```
/// use boltzmann::energy::GaussianMixture;
/// // Song & Ermon (2019)'s test: 0.8·N((5,5), I) + 0.2·N((−5,−5), I).
/// let m = GaussianMixture::new(vec![0.8, 0.2], vec![5.0, 5.0, -5.0, -5.0], vec![1.0, 1.0])?;
/// let x = m.sample(1000, 1)?;
/// let left = x.chunks(2).filter(|p| p[0] < 0.0).count();
/// assert!((150..250).contains(&left));
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    means: Vec<f64>,
    sigmas: Vec<f64>,
    d: usize,
}

impl GaussianMixture {
    /// From the component weights (normalized here), means (`K × d`,
    /// row-major) and standard deviations.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for no components, weights that are not
    /// positive, `σ ≤ 0`; [`Error::ShapeMismatch`]; [`Error::NonFinite`].
    pub fn new(weights: Vec<f64>, means: Vec<f64>, sigmas: Vec<f64>) -> Result<Self> {
        let k = weights.len();
        if k == 0 || means.is_empty() || !means.len().is_multiple_of(k) {
            return Err(bad("means", format!("{} values for {k} components", means.len())));
        }
        crate::kernels::check_len("sigmas (one per component)", k, sigmas.len())?;
        finite("weights", &weights)?;
        finite("means", &means)?;
        finite("sigmas", &sigmas)?;
        if weights.iter().any(|&w| w <= 0.0) || sigmas.iter().any(|&s| s <= 0.0) {
            return Err(bad("weights / sigmas", "must be positive".into()));
        }
        let total: f64 = weights.iter().sum();
        let d = means.len() / k;
        Ok(GaussianMixture { weights: weights.iter().map(|w| w / total).collect(), means, sigmas, d })
    }

    /// Mixture weights (sum 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Component means, `K × d`.
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// Component standard deviations.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// The mixture convolved with `N(0, s² I)` (each `σₖ² + s²`): the
    /// density of `x + s·ξ`, whose score is the exact noise-conditional
    /// score of denoising score matching at noise level `s`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `s < 0` or non-finite.
    pub fn smoothed(&self, s: f64) -> Result<Self> {
        if !(s.is_finite() && s >= 0.0) {
            return Err(bad("noise level", format!("{s} is not ≥ 0")));
        }
        let sigmas = self.sigmas.iter().map(|&x| (x * x + s * s).sqrt()).collect();
        Ok(GaussianMixture { sigmas, ..self.clone() })
    }

    /// `n` exact samples (`n × d`), from `seed`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] for sizes that do not fit in memory.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let d = self.d;
        let mut streams = rng::chain_streams(seed, 1)?;
        let mut u = crate::alloc::try_vec(n, 0.0f32, "samples")?;
        rng::fill_uniform(&mut streams, n, &mut u)?;
        let mut z = crate::alloc::try_vec(crate::kernels::mul_dims("samples", n, d)?, 0.0f32, "samples")?;
        let mut st = rng::chain_streams(rng::derive(seed, rng::Purpose::ToySampling), n)?;
        rng::fill_normal(&mut st, d, &mut z)?;
        for (row, &u) in z.chunks_exact_mut(d).zip(&u) {
            let mut acc = 0.0;
            let mut k = self.weights.len() - 1;
            for (i, &w) in self.weights.iter().enumerate() {
                acc += w;
                if (u as f64) < acc {
                    k = i;
                    break;
                }
            }
            for (x, &m) in row.iter_mut().zip(&self.means[k * d..(k + 1) * d]) {
                *x = (m + self.sigmas[k] * *x as f64) as f32;
            }
        }
        Ok(z)
    }

    /// Log-densities of each component at `row` plus the log weights, and
    /// their log-sum-exp `log p(x)`.
    fn log_terms(&self, row: &[f32], terms: &mut [f64]) -> f64 {
        let d = self.d;
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        for (k, t) in terms.iter_mut().enumerate() {
            let s = self.sigmas[k];
            let sq: f64 =
                row.iter().zip(&self.means[k * d..(k + 1) * d]).map(|(&x, &m)| (x as f64 - m).powi(2)).sum();
            *t = self.weights[k].ln() - sq / (2.0 * s * s) - d as f64 * (s.ln() + half_log_2pi);
        }
        let mx = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mx + terms.iter().map(|t| (t - mx).exp()).sum::<f64>().ln()
    }
}

impl Energy for GaussianMixture {
    fn dim(&self) -> usize {
        self.d
    }

    fn energy(&self, x: &[f32], out: &mut [f64], _ws: &mut Workspace) -> Result<()> {
        rows(self.d, x, out.len())?;
        let mut terms = vec![0.0; self.weights.len()];
        for (row, o) in x.chunks_exact(self.d).zip(out.iter_mut()) {
            *o = -self.log_terms(row, &mut terms);
        }
        Ok(())
    }

    fn grad(&self, x: &[f32], grad: &mut [f32], _ws: &mut Workspace) -> Result<()> {
        let d = self.d;
        crate::kernels::check_len("grad (rows × dim)", x.len(), grad.len())?;
        rows(d, x, x.len() / d)?;
        let mut terms = vec![0.0; self.weights.len()];
        for (row, g) in x.chunks_exact(d).zip(grad.chunks_exact_mut(d)) {
            let lp = self.log_terms(row, &mut terms);
            let mut acc = vec![0.0f64; d];
            for (k, &t) in terms.iter().enumerate() {
                let r = (t - lp).exp() / (self.sigmas[k] * self.sigmas[k]);
                for ((a, &x), &m) in acc.iter_mut().zip(row).zip(&self.means[k * d..(k + 1) * d]) {
                    *a += r * (x as f64 - m);
                }
            }
            for (g, a) in g.iter_mut().zip(acc) {
                *g = a as f32;
            }
        }
        Ok(())
    }
}
