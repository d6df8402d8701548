//! In-memory data sets: a row-major `n × dim` f32 matrix, optional labels,
//! and the operations training needs (binarization, splits, shuffles);
//! 2-D toy data sets ([`Toy2d`]).
//!
//! Readers for files live in `io` (feature `io`); this module has no I/O so
//! that the trainer can be used without it.

use crate::error::{Error, Result};
use rand_core::{Rng, SeedableRng};

mod toy;

pub use toy::Toy2d;

/// A data set of `n` examples with `dim` features each.
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// let d = Dataset::new(vec![0.2, 0.9, 0.6, 0.1], 2)?; // two examples of 2 features
/// let b = d.binarize_threshold(0.5)?;
/// assert_eq!(b.features(), &[0.0, 1.0, 1.0, 0.0]);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    dim: usize,
    x: Vec<f32>,
    /// Position of the first value other than 0 and 1, computed once.
    first_non_binary: Option<usize>,
    labels: Option<Vec<u8>>,
    image_shape: Option<(usize, usize)>,
}

/// The identity of a data set ([`Dataset::fingerprint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Examples.
    pub rows: usize,
    /// Features per example.
    pub dim: usize,
    /// [`checksum64`](crate::checksum::checksum64) of the values' bytes in
    /// memory (little-endian f32 on x86-64 and AArch64).
    pub checksum: u64,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} examples × {} features, checksum {:016x}", self.rows, self.dim, self.checksum)
    }
}

/// How non-binary data is made binary ([`Dataset::binarize`]); parsed from
/// `"threshold"` (`> 0.5`), `"threshold:T"` or `"stochastic"`, the
/// command line's `--binarize` values.
///
/// # Examples
/// ```
/// use boltzmann::data::{Binarization, Dataset};
/// let how: Binarization = "threshold:0.3".parse()?;
/// assert_eq!(how, Binarization::Threshold(0.3));
/// let d = Dataset::new(vec![0.2, 0.9, 0.6, 0.1], 2)?;
/// assert_eq!(d.binarize(how, 0)?.features(), &[0.0, 1.0, 1.0, 0.0]);
/// assert!("threshold:inf".parse::<Binarization>().is_err());
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binarization {
    /// 1 where a value is `> T` ([`Dataset::binarize_threshold`]).
    Threshold(f32),
    /// Values in [0, 1] as probabilities ([`Dataset::binarize_stochastic`]).
    Stochastic,
}

impl std::str::FromStr for Binarization {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "threshold" => Ok(Binarization::Threshold(0.5)),
            "stochastic" => Ok(Binarization::Stochastic),
            _ => match s.strip_prefix("threshold:").map(str::parse::<f32>) {
                Some(Ok(t)) if t.is_finite() => Ok(Binarization::Threshold(t)),
                _ => Err(Error::InvalidParam {
                    name: "binarization",
                    reason: format!("{s:?}: use threshold, threshold:T (T finite) or stochastic"),
                }),
            },
        }
    }
}

impl Dataset {
    /// A data set from a row-major matrix with `dim` columns.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `dim == 0`, [`Error::ShapeMismatch`] if
    /// the length is not a multiple of `dim`, [`Error::NonFinite`].
    pub fn new(x: Vec<f32>, dim: usize) -> Result<Dataset> {
        if dim == 0 {
            return Err(Error::InvalidParam {
                name: "dim",
                reason: "examples need at least one feature".into(),
            });
        }
        if !x.len().is_multiple_of(dim) {
            return Err(Error::ShapeMismatch {
                what: "data (a multiple of the feature count)",
                expected: x.len() / dim * dim,
                got: x.len(),
            });
        }
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "data", index });
        }
        let first_non_binary = x.iter().position(|&v| v != 0.0 && v != 1.0);
        Ok(Dataset { dim, x, first_non_binary, labels: None, image_shape: None })
    }

    /// Attaches one label per example.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if there is not exactly one label per example.
    pub fn with_labels(mut self, labels: Vec<u8>) -> Result<Dataset> {
        if labels.len() != self.len() {
            return Err(Error::ShapeMismatch {
                what: "labels (one per example)",
                expected: self.len(),
                got: labels.len(),
            });
        }
        self.labels = Some(labels);
        Ok(self)
    }

    /// Records that each example is a `rows × cols` image (for pictures).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `rows·cols != dim`.
    pub fn with_image_shape(mut self, rows: usize, cols: usize) -> Result<Dataset> {
        if rows.checked_mul(cols) != Some(self.dim) {
            return Err(Error::ShapeMismatch {
                what: "image shape (rows × cols)",
                expected: self.dim,
                got: rows * cols,
            });
        }
        self.image_shape = Some((rows, cols));
        Ok(self)
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.x.len() / self.dim
    }
    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
    /// Features per example.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// All features, row-major.
    pub fn features(&self) -> &[f32] {
        &self.x
    }
    /// Example `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
    /// Labels, if any.
    pub fn labels(&self) -> Option<&[u8]> {
        self.labels.as_deref()
    }
    /// Image shape `(rows, cols)`, if known.
    pub fn image_shape(&self) -> Option<(usize, usize)> {
        self.image_shape
    }

    /// `Ok` if every value is 0 or 1.
    ///
    /// # Errors
    /// [`Error::NotBinary`] naming the first other value.
    pub fn check_binary(&self) -> Result<()> {
        match self.first_non_binary {
            None => Ok(()),
            Some(index) => Err(Error::NotBinary { what: "data", index, value: self.x[index] }),
        }
    }

    fn map(&self, x: Vec<f32>) -> Dataset {
        let first_non_binary = x.iter().position(|&v| v != 0.0 && v != 1.0);
        Dataset {
            dim: self.dim,
            x,
            first_non_binary,
            labels: self.labels.clone(),
            image_shape: self.image_shape,
        }
    }

    /// 1 where a value is `> threshold`, else 0.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a non-finite threshold.
    pub fn binarize_threshold(&self, threshold: f32) -> Result<Dataset> {
        if !threshold.is_finite() {
            return Err(Error::InvalidParam { name: "threshold", reason: "must be finite".into() });
        }
        Ok(self.map(self.x.iter().map(|&v| (v > threshold) as u8 as f32).collect()))
    }

    /// Each value, which must lie in [0, 1], becomes 1 with that probability
    /// (one xoshiro256++ stream from `seed`, in row-major order).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if a value is outside [0, 1].
    pub fn binarize_stochastic(&self, seed: u64) -> Result<Dataset> {
        if let Some(i) = self.x.iter().position(|&v| !(0.0..=1.0).contains(&v)) {
            return Err(Error::InvalidParam {
                name: "data",
                reason: format!("stochastic binarization needs values in [0, 1]; index {i} is {}", self.x[i]),
            });
        }
        let mut g = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        Ok(self.map(
            self.x
                .iter()
                .map(|&p| {
                    let u = (g.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32);
                    (u < p) as u8 as f32
                })
                .collect(),
        ))
    }

    /// Binarized as `how` says; `seed` drives the stochastic kind (one
    /// stream, as [`Self::binarize_stochastic`]).
    ///
    /// # Errors
    /// As [`Self::binarize_threshold`] and [`Self::binarize_stochastic`].
    pub fn binarize(&self, how: Binarization, seed: u64) -> Result<Dataset> {
        match how {
            Binarization::Threshold(t) => self.binarize_threshold(t),
            Binarization::Stochastic => self.binarize_stochastic(seed),
        }
    }

    /// Standardized per channel: the features are `channels` interleaved
    /// channels (feature `i` belongs to channel `i % channels`, as in
    /// row-major images of `channels` channels); each channel's values, over
    /// all examples, are shifted and scaled to mean 0 and standard deviation
    /// 1 (sums in f64). Returns the data and each channel's `(mean, sd)`.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::data::Dataset;
    /// let d = Dataset::new(vec![1.0, 10.0, 3.0, 30.0], 2)?; // 2 examples, 2 channels
    /// let (z, stats) = d.standardize(2)?;
    /// assert_eq!(stats, vec![(2.0, 1.0), (20.0, 10.0)]);
    /// assert_eq!(z.features(), &[-1.0, -1.0, 1.0, 1.0]);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if `channels` is 0 or does not divide the
    /// features, or a channel is constant (nothing to model).
    pub fn standardize(&self, channels: usize) -> Result<(Dataset, Vec<(f64, f64)>)> {
        if channels == 0 || !self.dim.is_multiple_of(channels) {
            return Err(Error::InvalidParam {
                name: "channels",
                reason: format!("{channels} does not divide the {} features", self.dim),
            });
        }
        let x = &self.x;
        let mut stats = Vec::with_capacity(channels);
        for c in 0..channels {
            let vals = || x.iter().skip(c).step_by(channels).map(|&v| v as f64);
            let n = vals().count().max(1) as f64;
            let mean = vals().sum::<f64>() / n;
            let sd = (vals().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            if sd.is_nan() || sd <= 1e-12 {
                return Err(Error::InvalidParam {
                    name: "data",
                    reason: format!("channel {c} of the data is constant: nothing to model"),
                });
            }
            stats.push((mean, sd));
        }
        let y = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let (m, s) = stats[i % channels];
                ((v as f64 - m) / s) as f32
            })
            .collect();
        Ok((self.map(y), stats))
    }

    /// Every value multiplied by `factor` (e.g. `1/255` for bytes).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a non-finite or zero factor.
    pub fn scale(&self, factor: f32) -> Result<Dataset> {
        if !factor.is_finite() || factor == 0.0 {
            return Err(Error::InvalidParam {
                name: "scale",
                reason: format!("must be finite and non-zero, got {factor}"),
            });
        }
        Ok(self.map(self.x.iter().map(|&v| v * factor).collect()))
    }

    /// Examples `range` (labels follow).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if the range is out of bounds or empty.
    pub fn subset(&self, range: std::ops::Range<usize>) -> Result<Dataset> {
        if range.start >= range.end || range.end > self.len() {
            return Err(Error::InvalidParam {
                name: "range",
                reason: format!("{range:?} is empty or outside 0..{}", self.len()),
            });
        }
        let x = self.x[range.start * self.dim..range.end * self.dim].to_vec();
        let mut d = self.map(x);
        d.labels = self.labels.as_ref().map(|l| l[range.clone()].to_vec());
        Ok(d)
    }

    /// Splits into the first `n_first` examples and the rest.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `0 < n_first < len()`.
    pub fn split(&self, n_first: usize) -> Result<(Dataset, Dataset)> {
        Ok((self.subset(0..n_first)?, self.subset(n_first..self.len())?))
    }

    /// What identifies this data set: its size and a checksum of its
    /// values (labels and image shape are not part of it). Checkpoints
    /// record it, so that a resumed run can refuse other data.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            rows: self.len(),
            dim: self.dim,
            checksum: crate::checksum::checksum64(bytemuck::cast_slice(&self.x)),
        }
    }

    /// Mean of each feature, in f64.
    pub fn marginals(&self) -> Vec<f64> {
        let mut m = vec![0.0f64; self.dim];
        for r in self.x.chunks_exact(self.dim) {
            for (a, &v) in m.iter_mut().zip(r) {
                *a += v as f64;
            }
        }
        let n = self.len().max(1) as f64;
        m.iter_mut().for_each(|a| *a /= n);
        m
    }
}

/// A permutation of `0..n` from `rng` (Fisher–Yates with unbiased bounded
/// integers, Lemire's method).
pub(crate) fn shuffle_indices(idx: &mut [u32], rng: &mut impl Rng) {
    for i in (1..idx.len()).rev() {
        let j = bounded(rng, i as u64 + 1) as usize;
        idx.swap(i, j);
    }
}

/// Uniform integer in `0..n` (n ≥ 1), unbiased.
pub(crate) fn bounded(rng: &mut impl Rng, n: u64) -> u64 {
    loop {
        let x = rng.next_u64();
        let m = (x as u128) * (n as u128);
        let lo = m as u64;
        if lo >= n.wrapping_neg() % n {
            return (m >> 64) as u64;
        }
    }
}
