//! `boltzmann sample` and `boltzmann filters`.

pub(crate) mod mpi;

use crate::CliResult;
use boltzmann::io;
use boltzmann::sampler::tempering::geometric_ladder;
use boltzmann::{Chains, Rbm, TemperedChains};
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
    #[arg(long, value_parser = crate::limits::count, default_value_t = 10)]
    chains: usize,
    /// Rows of the grid: row r shows every chain after r+1 rounds.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 10)]
    rows: usize,
    /// Gibbs sweeps between rows (and before the first).
    #[arg(long, value_parser = crate::limits::steps, default_value_t = 1000)]
    steps: usize,
    /// Image shape ROWSxCOLS (default: square, or 28x28 for 784 units).
    #[arg(long)]
    shape: Option<String>,
    /// Seed of the chains.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Also report chain diagnostics: each chain's free-energy trace after
    /// every sweep gives its integrated autocorrelation time, effective
    /// sample size and the split R-hat across chains (needs ≥ 2 chains;
    /// the free energies cost one more product per sweep).
    #[arg(long)]
    diagnostics: bool,
    /// Print the diagnostics as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Parallel tempering: this many temperatures per chain (a geometric
    /// ladder from --beta-min to 1, neighbour swaps after every sweep); the
    /// grid shows the β = 1 replicas, and the swap rates and round trips
    /// are reported. 0: plain block Gibbs.
    #[arg(long, value_parser = crate::limits::count_or_none, default_value_t = 0)]
    replicas: usize,
    /// Lowest inverse temperature of the --replicas ladder, in (0, 1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.3)]
    beta_min: f32,
    /// Keep each chain's products between sweeps and update them by the
    /// units that changed (`Chains::sweep_incremental`): the same
    /// transition up to rounding, faster on trained models; plain chains
    /// only (not with --replicas or --mpi).
    #[arg(long)]
    incremental: bool,
    /// Split the chains over the ranks of `mpirun -np N` (build with
    /// `--features mpi`): the same picture and numbers as one process;
    /// rank 0 writes and prints.
    #[arg(long)]
    mpi: bool,
}

/// A tempering ladder for [`sample_grid`]: `replicas` temperatures,
/// geometric from `beta_min` to 1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ladder {
    pub(crate) replicas: usize,
    pub(crate) beta_min: f32,
}

/// What tempering did over a [`sample_grid`] run: the swap acceptance of
/// each neighbouring pair and the round trips (count, mean sweeps).
pub(crate) struct SwapReport {
    pub(crate) rates: Vec<f64>,
    pub(crate) trips: (u64, f64),
}

/// The chains of `sample`: plain block Gibbs or parallel tempering (one
/// value per command: the variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum GridChains {
    /// Plain block Gibbs; `true`: [`Chains::sweep_incremental`].
    Plain(Chains, bool),
    Tempered(TemperedChains),
}

impl GridChains {
    fn new(
        rbm: &Rbm,
        chains: usize,
        seed: u64,
        ladder: Option<Ladder>,
        incremental: bool,
    ) -> CliResult<GridChains> {
        Ok(match ladder {
            None => GridChains::Plain(Chains::new(rbm, chains, seed)?, incremental),
            Some(l) => GridChains::Tempered(TemperedChains::new(
                rbm,
                chains,
                geometric_ladder(l.replicas, l.beta_min)?,
                seed,
            )?),
        })
    }
    fn sweep(&mut self, rbm: &Rbm, k: usize) -> CliResult<()> {
        match self {
            GridChains::Plain(c, false) => c.sweep(rbm, k)?,
            GridChains::Plain(c, true) => c.sweep_incremental(rbm, k)?,
            GridChains::Tempered(t) => t.sweep(rbm, k)?,
        }
        Ok(())
    }
    /// Visible states of the chains (the β = 1 replicas).
    fn visible(&self) -> &[f32] {
        match self {
            GridChains::Plain(c, _) => c.visible(),
            GridChains::Tempered(t) => t.visible(),
        }
    }
    /// Hidden states of the chains (the β = 1 replicas).
    fn hidden(&self) -> &[f32] {
        match self {
            GridChains::Plain(c, _) => c.hidden(),
            GridChains::Tempered(t) => {
                let h = t.rows().hidden();
                &h[h.len() - t.tempering().n_chains() * t.rows().n_hidden()..]
            }
        }
    }
    fn report(&self) -> Option<SwapReport> {
        match self {
            GridChains::Plain(..) => None,
            GridChains::Tempered(t) => {
                Some(SwapReport { rates: t.tempering().swap_rates(), trips: t.tempering().round_trips() })
            }
        }
    }
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
    /// Hidden units to draw (the first N; default: 100 or all if fewer).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 100)]
    units: usize,
    /// Units per row of the grid.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 10)]
    cols: usize,
    /// Image shape ROWSxCOLS (default: square, or 28x28 for 784 units).
    #[arg(long)]
    shape: Option<String>,
}

pub(crate) fn shape(spec: Option<&str>, d: usize) -> CliResult<(usize, usize)> {
    match spec {
        Some(s) => {
            let (r, c) = s.split_once('x').ok_or_else(|| format!("--shape {s:?}: use ROWSxCOLS"))?;
            let (r, c): (usize, usize) = (
                r.parse().map_err(|_| format!("bad rows {r:?}"))?,
                c.parse().map_err(|_| format!("bad cols {c:?}"))?,
            );
            if r.checked_mul(c) != Some(d) {
                return Err(format!("--shape {s}: {r}×{c} is not the model's {d} visible units").into());
            }
            Ok((r, c))
        }
        None => {
            let r = (d as f64).sqrt().round() as usize;
            if r * r == d {
                Ok((r, r))
            } else {
                Err(format!("{d} visible units are not a square image; pass --shape ROWSxCOLS").into())
            }
        }
    }
}

/// A grid of `chains` columns, `rows` rows and `steps` sweeps between rows:
/// all at least 1, at most 10,000 images.
pub(crate) fn check_grid(chains: usize, rows: usize, steps: usize) -> CliResult<()> {
    if chains == 0 || rows == 0 || steps == 0 {
        return Err("--chains, --rows and --steps must be ≥ 1".into());
    }
    if chains.saturating_mul(rows) > 10_000 {
        return Err("at most 10,000 images per grid".into());
    }
    Ok(())
}

/// Runs `chains` chains from a uniform start; after every `steps` sweeps
/// records `p(v|h)` of each chain as one row of the grid; writes the PNG.
/// With `trace`, also appends each chain's free energy after every sweep
/// (sweep-major).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_grid(
    rbm: &Rbm,
    (r, c): (usize, usize),
    chains: usize,
    rows: usize,
    steps: usize,
    seed: u64,
    out: &Path,
    mut trace: Option<&mut Vec<f64>>,
    ladder: Option<Ladder>,
    incremental: bool,
) -> CliResult<Option<SwapReport>> {
    check_grid(chains, rows, steps)?;
    let d = rbm.n_visible();
    let mut ch = GridChains::new(rbm, chains, seed, ladder, incremental)?;
    let mut imgs = Vec::with_capacity(rows * chains * d);
    let mut pv = vec![0.0f32; chains * d];
    let mut fe = vec![0.0f64; chains];
    for _ in 0..rows {
        match trace.as_deref_mut() {
            None => ch.sweep(rbm, steps)?,
            Some(t) => {
                for _ in 0..steps {
                    ch.sweep(rbm, 1)?;
                    rbm.free_energy_batch(ch.visible(), &mut fe)?;
                    t.extend_from_slice(&fe);
                }
            }
        }
        rbm.visible_probs(ch.hidden(), &mut pv)?;
        imgs.extend_from_slice(&pv);
    }
    io::grid_png(out, &imgs, r, c, chains, 2)?;
    Ok(ch.report())
}

pub(crate) fn sample(a: SampleArgs) -> CliResult<()> {
    if a.mpi && a.replicas > 0 {
        return Err("--mpi samples plain chains: not with --replicas".into());
    }
    if a.incremental && (a.mpi || a.replicas > 0) {
        return Err("--incremental is for plain chains in one process: not with --replicas or --mpi".into());
    }
    let ranks = crate::ranks::Ranks::new(a.mpi)?;
    ranks.finish(sample_on(&a, &ranks))
}

fn sample_on(a: &SampleArgs, ranks: &crate::ranks::Ranks) -> CliResult<()> {
    if ranks.is_root() {
        crate::out::file(&a.out)?;
    }
    let rbm = io::load_rbm(&a.model)?;
    let sh = shape(a.shape.as_deref(), rbm.n_visible())?;
    let ladder = match a.replicas {
        0 if crate::given("beta_min") => {
            return Err("--beta-min is for --replicas K (parallel tempering)".into());
        }
        0 => None,
        1 => return Err("--replicas needs ≥ 2 temperatures (0: plain block Gibbs)".into()),
        k => {
            geometric_ladder(k, a.beta_min)?;
            Some(Ladder { replicas: k, beta_min: a.beta_min })
        }
    };
    if a.diagnostics {
        if a.chains < 2 {
            return Err("--diagnostics needs --chains ≥ 2 (split R-hat compares chains)".into());
        }
        let len = a.rows.saturating_mul(a.steps);
        if len < boltzmann::eval::diagnostics::MIN_TRACE {
            return Err(format!(
                "--diagnostics needs ≥ {} sweeps (--rows × --steps), got {len}",
                boltzmann::eval::diagnostics::MIN_TRACE
            )
            .into());
        }
        if len.saturating_mul(a.chains) > 100_000_000 {
            return Err("--diagnostics keeps chains × sweeps ≤ 100,000,000 free energies".into());
        }
    }
    if a.mpi {
        let digest = format!("{} {a:?}", boltzmann::checksum::checksum64(&io::rbm_bytes(&rbm)));
        ranks.agree("model or settings", boltzmann::checksum::checksum64(digest.as_bytes()))?;
        if a.chains < ranks.ranks() {
            return Err(format!(
                "--mpi: {} chains over {} ranks: need one per rank",
                a.chains,
                ranks.ranks()
            )
            .into());
        }
    }
    let mut trace = Vec::new();
    let mut swaps = None;
    let root = crate::with_threads(a.threads.n, || {
        let t = a.diagnostics.then_some(&mut trace);
        if a.mpi {
            crate::sample::mpi::sample_grid(ranks, &rbm, sh, a.chains, a.rows, a.steps, a.seed, &a.out, t)
        } else {
            swaps =
                sample_grid(&rbm, sh, a.chains, a.rows, a.steps, a.seed, &a.out, t, ladder, a.incremental)?;
            Ok(true)
        }
    })?;
    if !root {
        return Ok(());
    }
    note!("wrote {}", a.out.display());
    if let (Some(s), false) = (&swaps, a.diagnostics && a.json) {
        let rates: Vec<String> = s.rates.iter().map(|r| format!("{r:.3}")).collect();
        note!(
            "tempering: swap rates [{}], {} round trips (mean {:.1} sweeps)",
            rates.join(", "),
            s.trips.0,
            s.trips.1
        );
    }
    if a.diagnostics {
        let (n, len) = (a.chains, trace.len() / a.chains);
        let mut t = vec![0.0f64; trace.len()];
        for (s, row) in trace.chunks_exact(n).enumerate() {
            for (c, &x) in row.iter().enumerate() {
                t[c * len + s] = x;
            }
        }
        let d = boltzmann::eval::diagnose(&t, n, len)?;
        if a.json {
            let (rates, trips, trip_sweeps) = match &swaps {
                Some(s) => (Some(s.rates.clone()), Some(s.trips.0), Some(s.trips.1)),
                None => (None, None, None),
            };
            outln!(
                "{}",
                jobj!(
                    "chains" = d.chains,
                    "sweeps" = d.length,
                    "iat_mean" = d.iat_mean,
                    "iat_max" = d.iat_max,
                    "ess" = d.ess,
                    "split_rhat" = d.split_rhat,
                    "swap_rates"? = rates,
                    "round_trips"? = trips,
                    "round_trip_sweeps"? = trip_sweeps,
                )
            );
        } else {
            outln!(
                "free energy over {} sweeps × {} chains: autocorrelation time {:.1} sweeps (max {:.1}), \
                 effective samples {:.0}, split R-hat {:.4}",
                d.length,
                d.chains,
                d.iat_mean,
                d.iat_max,
                d.ess,
                d.split_rhat
            );
        }
    }
    Ok(())
}

pub(crate) fn filters(a: FiltersArgs) -> CliResult<()> {
    crate::out::file(&a.out)?;
    let rbm = io::load_rbm(&a.model)?;
    let (r, c) = shape(a.shape.as_deref(), rbm.n_visible())?;
    if crate::given("units") && a.units > rbm.n_hidden() {
        return Err(format!("--units {}: the model has {} hidden units", a.units, rbm.n_hidden()).into());
    }
    io::filters_png(&a.out, &rbm, r, c, a.units, a.cols)?;
    note!("wrote {}", a.out.display());
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
pub(crate) fn density_on(e: &impl boltzmann::energy::Energy, grid: &[f32]) -> CliResult<Vec<f64>> {
    let mut en = vec![0.0f64; grid.len() / 2];
    e.energy(grid, &mut en, &mut boltzmann::energy::Workspace::default())?;
    let m = en.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
    Ok(en.iter().map(|&v| (m - v).exp()).collect())
}
