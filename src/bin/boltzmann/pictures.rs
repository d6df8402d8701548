//! `boltzmann sample` and `boltzmann filters`.

use boltzmann::io;
use boltzmann::{Chains, Rbm};
use clap::Args;
use std::path::{Path, PathBuf};

/// Options of `sample`.
#[derive(Args, Debug)]
pub(crate) struct SampleArgs {
    /// Model file (safetensors, from `boltzmann train`).
    #[arg(long)]
    model: PathBuf,
    /// Output PNG.
    #[arg(long, default_value = "samples.png")]
    out: PathBuf,
    /// Chains (columns of the grid).
    #[arg(long, default_value_t = 10)]
    chains: usize,
    /// Rows of the grid: row r shows every chain after r+1 rounds.
    #[arg(long, default_value_t = 10)]
    rows: usize,
    /// Gibbs sweeps between rows (and before the first).
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// Image shape ROWSxCOLS (default: square, or 28x28 for 784 units).
    #[arg(long)]
    shape: Option<String>,
    /// Seed of the chains.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// Options of `filters`.
#[derive(Args, Debug)]
pub(crate) struct FiltersArgs {
    /// Model file (safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Output PNG.
    #[arg(long, default_value = "filters.png")]
    out: PathBuf,
    /// Hidden units to draw (the first N).
    #[arg(long, default_value_t = 100)]
    units: usize,
    /// Units per row of the grid.
    #[arg(long, default_value_t = 10)]
    cols: usize,
    /// Image shape ROWSxCOLS (default: square, or 28x28 for 784 units).
    #[arg(long)]
    shape: Option<String>,
}

pub(crate) fn shape(spec: Option<&str>, d: usize) -> Result<(usize, usize), String> {
    match spec {
        Some(s) => {
            let (r, c) = s.split_once('x').ok_or_else(|| format!("--shape {s:?}: use ROWSxCOLS"))?;
            let (r, c): (usize, usize) = (
                r.parse().map_err(|_| format!("bad rows {r:?}"))?,
                c.parse().map_err(|_| format!("bad cols {c:?}"))?,
            );
            if r.checked_mul(c) != Some(d) {
                return Err(format!("--shape {s}: {r}×{c} is not the model's {d} visible units"));
            }
            Ok((r, c))
        }
        None => {
            let r = (d as f64).sqrt().round() as usize;
            if r * r == d {
                Ok((r, r))
            } else {
                Err(format!("{d} visible units are not a square image; pass --shape ROWSxCOLS"))
            }
        }
    }
}

/// Runs `chains` chains from a uniform start; after every `steps` sweeps
/// records `p(v|h)` of each chain as one row of the grid; writes the PNG.
pub(crate) fn sample_grid(
    rbm: &Rbm,
    (r, c): (usize, usize),
    chains: usize,
    rows: usize,
    steps: usize,
    seed: u64,
    out: &Path,
) -> Result<(), String> {
    if chains == 0 || rows == 0 || steps == 0 {
        return Err("--chains, --rows and --steps must be ≥ 1".into());
    }
    if chains.saturating_mul(rows) > 10_000 {
        return Err("at most 10,000 images per grid".into());
    }
    let d = rbm.n_visible();
    let mut ch = Chains::new(rbm, chains, seed).map_err(|e| e.to_string())?;
    let mut imgs = Vec::with_capacity(rows * chains * d);
    let mut pv = vec![0.0f32; chains * d];
    for _ in 0..rows {
        ch.sweep(rbm, steps).map_err(|e| e.to_string())?;
        rbm.visible_probs(ch.hidden(), &mut pv).map_err(|e| e.to_string())?;
        imgs.extend_from_slice(&pv);
    }
    io::grid_png(out, &imgs, r, c, chains, 2).map_err(|e| e.to_string())
}

pub(crate) fn sample(a: SampleArgs) -> Result<(), String> {
    let rbm = io::load_rbm(&a.model).map_err(|e| e.to_string())?;
    let sh = shape(a.shape.as_deref(), rbm.n_visible())?;
    crate::with_threads(a.threads, || sample_grid(&rbm, sh, a.chains, a.rows, a.steps, a.seed, &a.out))?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

pub(crate) fn filters(a: FiltersArgs) -> Result<(), String> {
    let rbm = io::load_rbm(&a.model).map_err(|e| e.to_string())?;
    let (r, c) = shape(a.shape.as_deref(), rbm.n_visible())?;
    if a.units == 0 || a.cols == 0 {
        return Err("--units and --cols must be ≥ 1".into());
    }
    io::filters_png(&a.out, &rbm, r, c, a.units, a.cols).map_err(|e| e.to_string())?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

/// Centres of the pixels of a `size × size` picture of `[lo, hi]²` (row 0
/// at the top, `y` up), as 2-D points, row-major.
pub(crate) fn plane_grid(lo: f32, hi: f32, size: usize) -> Vec<f32> {
    let step = (hi - lo) / size as f32;
    (0..size * size)
        .flat_map(|i| {
            let (r, c) = (i / size, i % size);
            [lo + (c as f32 + 0.5) * step, hi - (r as f32 + 0.5) * step]
        })
        .collect()
}

/// `exp(E_min − E)` of a 2-D energy at the points of `grid`: the picture
/// background of `langevin` and `ebm train`.
pub(crate) fn density_on(e: &impl boltzmann::energy::Energy, grid: &[f32]) -> Result<Vec<f64>, String> {
    let mut en = vec![0.0f64; grid.len() / 2];
    e.energy(grid, &mut en, &mut boltzmann::energy::Workspace::default()).map_err(|e| e.to_string())?;
    let m = en.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
    Ok(en.iter().map(|&v| (m - v).exp()).collect())
}
