//! Two-dimensional toy data sets for continuous energy models (the usual
//! pictures of EBM and score-matching papers): a ring of 8 Gaussians,
//! two concentric rings, two moons.

use super::Dataset;
use crate::energy::GaussianMixture;
use crate::error::{Error, Result};
use crate::rng;

/// A built-in 2-D data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toy2d {
    /// 8 equal Gaussians (σ 0.5) on a circle of radius 4.
    Mixture8,
    /// Two rings of radius 2 and 4 (equal weight), radial noise σ 0.2.
    Rings,
    /// Two interleaved half circles (radius 2, shifted as in
    /// scikit-learn's `make_moons`, scaled ×2 and centred), noise σ 0.1.
    Moons,
}

impl Toy2d {
    /// Parses `mixture8`, `rings` or `moons`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "mixture8" | "8gaussians" => Some(Toy2d::Mixture8),
            "rings" => Some(Toy2d::Rings),
            "moons" | "two-moons" => Some(Toy2d::Moons),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Toy2d::Mixture8 => "mixture8",
            Toy2d::Rings => "rings",
            Toy2d::Moons => "moons",
        }
    }

    /// The mixture of [`Toy2d::Mixture8`] (also the `langevin` built-in).
    pub fn mixture8() -> GaussianMixture {
        let means: Vec<f64> = (0..8)
            .flat_map(|k| {
                let t = k as f64 * std::f64::consts::TAU / 8.0;
                [4.0 * t.cos(), 4.0 * t.sin()]
            })
            .collect();
        GaussianMixture::new(vec![1.0; 8], means, vec![0.5; 8]).expect("valid constants")
    }

    /// Centres of the modes (for coverage checks): the 8 means, or points
    /// along the rings / moons every 45° of their arcs.
    pub fn mode_centres(self) -> Vec<[f32; 2]> {
        match self {
            Toy2d::Mixture8 => {
                Self::mixture8().means().chunks(2).map(|m| [m[0] as f32, m[1] as f32]).collect()
            }
            Toy2d::Rings => (0..16)
                .map(|k| {
                    let (r, t) =
                        (if k < 8 { 2.0 } else { 4.0 }, (k % 8) as f32 * std::f32::consts::TAU / 8.0);
                    [r * t.cos(), r * t.sin()]
                })
                .collect(),
            Toy2d::Moons => (0..10)
                .map(|k| {
                    let t = (k % 5) as f32 * std::f32::consts::PI / 4.0;
                    moon(k < 5, t)
                })
                .collect(),
        }
    }

    /// `n` samples (`n × 2`) from `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `n = 0`; [`Error::TooLarge`].
    pub fn sample(self, n: usize, seed: u64) -> Result<Dataset> {
        if n == 0 {
            return Err(Error::InvalidParam { name: "n", reason: "no samples requested".into() });
        }
        let x = match self {
            Toy2d::Mixture8 => Self::mixture8().sample(n, seed)?,
            Toy2d::Rings | Toy2d::Moons => {
                let mut st = rng::chain_streams(seed, n)?;
                let mut u = crate::alloc::try_vec(n * 2, 0.0f32, "samples")?;
                rng::fill_uniform(&mut st, 2, &mut u)?;
                let mut z = crate::alloc::try_vec(n * 2, 0.0f32, "samples")?;
                rng::fill_normal(&mut st, 2, &mut z)?;
                let mut x = Vec::with_capacity(2 * n);
                for (u, z) in u.chunks_exact(2).zip(z.chunks_exact(2)) {
                    let first = u[0] < 0.5;
                    if self == Toy2d::Rings {
                        let r = if first { 2.0 } else { 4.0 } + 0.2 * z[0];
                        let t = u[1] * std::f32::consts::TAU;
                        x.extend([r * t.cos(), r * t.sin()]);
                    } else {
                        let p = moon(first, u[1] * std::f32::consts::PI);
                        x.extend([p[0] + 0.1 * z[0], p[1] + 0.1 * z[1]]);
                    }
                }
                x
            }
        };
        Dataset::new(x, 2)
    }
}

/// A point of the upper (`first`) or lower moon at angle `t ∈ [0, π]`.
fn moon(first: bool, t: f32) -> [f32; 2] {
    let (x, y) = if first { (t.cos(), t.sin()) } else { (1.0 - t.cos(), 0.5 - t.sin()) };
    [2.0 * (x - 0.5), 2.0 * (y - 0.25)]
}
