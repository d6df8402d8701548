//! Throughput harnesses behind `boltzmann bench gibbs` and `bench langevin`.
//!
//! Measures block-Gibbs sweeps of a random RBM (weights `N(0, 0.01²)`, zero
//! biases, the refbench model) over an ensemble of chains started uniformly
//! at random — or of a given (trained) model with chains started from data
//! rows, where the state densities, and so the binary products, are
//! realistic — on a dedicated rayon pool of the requested size. Each of
//! `repeats` timed runs does `sweeps` sweeps after one untimed warm-up run;
//! the report gives the median and the range.
//!
//! With `breakdown`, further runs use [`Chains::sweep_timed`] (same code,
//! same blocks, lap timers between stages), so a report says where a sweep's
//! time goes: products, random bits, or fused sampling.

pub(crate) mod conv;
pub(crate) mod mpi;

use boltzmann::data::Dataset;
use boltzmann::error::{Error, Result};
use boltzmann::model::Rbm;
use boltzmann::sampler::{Chains, PackedChains, PackedTemperedChains, TemperedChains};
use boltzmann::simd::Isa;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub(crate) struct GibbsBenchConfig {
    /// Visible units `D`.
    pub(crate) n_visible: usize,
    /// Hidden units `H`.
    pub(crate) n_hidden: usize,
    /// Chains `B`.
    pub(crate) chains: usize,
    /// Threads in the rayon pool.
    pub(crate) threads: usize,
    /// Sweeps per timed run; 0 picks a count that takes about 0.3 s.
    pub(crate) sweeps: usize,
    /// Timed runs.
    pub(crate) repeats: usize,
    /// Also time each stage alone.
    pub(crate) breakdown: bool,
    /// Seed for the model and the chains.
    pub(crate) seed: u64,
    /// SIMD path for the element-wise kernels (`None`: [`boltzmann::simd::active_isa`]).
    pub(crate) isa: Option<Isa>,
    /// A model to sweep instead of the random one (its sizes replace
    /// `n_visible` and `n_hidden`).
    pub(crate) model: Option<Rbm>,
    /// Binary rows to start the chains from (cycled over the chains).
    pub(crate) start: Option<Dataset>,
    /// Bit-packed chains ([`PackedChains`]): for millions of chains.
    pub(crate) packed: bool,
    /// f32 chains that keep their products between sweeps and update them
    /// by the units that changed ([`Chains::sweep_incremental`]).
    pub(crate) incremental: bool,
    /// Parallel tempering: temperatures per chain (≥ 2; `chains` chains at
    /// each, on a geometric ladder from `beta_min`, sweeps followed by swap
    /// rounds, [`TemperedChains`]); 0 or 1: plain sweeps. Compare with plain
    /// sweeps of `chains × replicas` chains for the cost of tempering.
    pub(crate) replicas: usize,
    /// Lowest inverse temperature of the tempering ladder.
    pub(crate) beta_min: f32,
}

impl Default for GibbsBenchConfig {
    /// The headline shape: 784 × 500, 1000 chains, all cores.
    fn default() -> Self {
        GibbsBenchConfig {
            n_visible: 784,
            n_hidden: 500,
            chains: 1000,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            sweeps: 0,
            repeats: 7,
            breakdown: false,
            seed: 0,
            isa: None,
            model: None,
            start: None,
            packed: false,
            incremental: false,
            replicas: 0,
            beta_min: 0.1,
        }
    }
}

/// Share of the sweep's thread time spent in each stage (from
/// [`Chains::sweep_timed`], median run), fractions summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Breakdown {
    /// Both dense products (`V·W` and `H·Wᵀ`).
    pub(crate) products: f64,
    /// Random-bit generation for both half-steps.
    pub(crate) rng: f64,
    /// Fused bias + sigmoid + compare for both half-steps.
    pub(crate) sampling: f64,
}

/// Results of [`gibbs`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GibbsBenchReport {
    /// SIMD path of the element-wise kernels.
    pub(crate) isa: Isa,
    /// Threads used.
    pub(crate) threads: usize,
    /// `D`, `H`, `B` (with tempering, `B` counts every replica: chains ×
    /// replicas).
    pub(crate) shape: (usize, usize, usize),
    /// Sweeps per timed run.
    pub(crate) sweeps: usize,
    /// Timed runs.
    pub(crate) repeats: usize,
    /// Median sweeps per second (all `B` chains advanced once).
    pub(crate) sweeps_per_s: f64,
    /// Slowest and fastest run, sweeps per second.
    pub(crate) range: (f64, f64),
    /// Rows per parallel block.
    pub(crate) block_rows: usize,
    /// Bytes of state per chain.
    pub(crate) bytes_per_chain: usize,
    /// Per-stage times, if requested.
    pub(crate) breakdown: Option<Breakdown>,
    /// Mean visible and hidden state densities after the timed runs (they
    /// decide between binary and dense products). Packed chains keep no
    /// hidden states: NaN.
    pub(crate) densities: (f64, f64),
    /// Peak resident memory of the process so far (Linux `VmHWM`), if known.
    pub(crate) peak_rss_bytes: Option<u64>,
    /// Whether the chains were bit-packed ([`PackedChains`]).
    pub(crate) packed: bool,
    /// Whether the sweeps kept their products ([`Chains::sweep_incremental`]).
    pub(crate) incremental: bool,
    /// Temperatures per chain (1 without tempering).
    pub(crate) replicas: usize,
    /// Swap acceptance of each neighbouring pair of temperatures over the
    /// timed runs (empty without tempering).
    pub(crate) swap_rates: Vec<f64>,
}

impl GibbsBenchReport {
    /// `B ·` sweeps/s.
    pub(crate) fn chain_sweeps_per_s(&self) -> f64 {
        self.sweeps_per_s * self.shape.2 as f64
    }
    /// `B·(D+H) ·` sweeps/s.
    pub(crate) fn unit_updates_per_s(&self) -> f64 {
        self.chain_sweeps_per_s() * (self.shape.0 + self.shape.1) as f64
    }
    /// Effective GFLOP/s of the two products, `4·B·D·H` per sweep.
    pub(crate) fn gflops(&self) -> f64 {
        4.0 * (self.shape.0 * self.shape.1) as f64 * self.chain_sweeps_per_s() / 1e9
    }
}

fn density(x: &[f32]) -> f64 {
    boltzmann::kernels::binary::density(x)
}

/// Peak resident set size (`VmHWM` in `/proc/self/status`), Linux only.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The kinds of ensembles the benchmark can sweep.
enum Ensemble {
    /// f32 chains; `true`: [`Chains::sweep_incremental`].
    F32(Chains, bool),
    Packed(PackedChains),
    Tempered(Box<TemperedChains>),
    PackedTempered(Box<PackedTemperedChains>),
}

impl Ensemble {
    fn sweep(&mut self, rbm: &Rbm, k: usize) -> Result<()> {
        match self {
            Ensemble::F32(c, false) => c.sweep(rbm, k),
            Ensemble::F32(c, true) => c.sweep_incremental(rbm, k),
            Ensemble::Packed(c) => c.sweep(rbm, k),
            Ensemble::Tempered(c) => c.sweep(rbm, k),
            Ensemble::PackedTempered(c) => c.sweep(rbm, k),
        }
    }
    fn set_isa(&mut self, isa: Isa) -> Result<()> {
        match self {
            Ensemble::F32(c, _) => c.set_isa(isa),
            Ensemble::Packed(c) => c.set_isa(isa),
            Ensemble::Tempered(c) => c.set_isa(isa),
            Ensemble::PackedTempered(c) => c.set_isa(isa),
        }
    }
    fn isa(&self) -> Isa {
        match self {
            Ensemble::F32(c, _) => c.isa(),
            Ensemble::Packed(c) => c.isa(),
            Ensemble::Tempered(c) => c.rows().isa(),
            Ensemble::PackedTempered(c) => c.isa(),
        }
    }
    fn start_from(&mut self, data: &Dataset) -> Result<()> {
        match self {
            Ensemble::Packed(c) => c.set_visible_cycled(data),
            Ensemble::F32(c, _) => c.set_visible_cycled(data),
            // Every replica of chain c starts at row c mod N of the data.
            Ensemble::Tempered(c) => c.set_visible(&cycled(data, c.tempering().n_chains())?),
            Ensemble::PackedTempered(c) => c.set_visible(&cycled(data, c.n_chains())?),
        }
    }

    fn densities(&self) -> (f64, f64) {
        match self {
            Ensemble::F32(c, _) => (density(c.visible()), density(c.hidden())),
            Ensemble::Packed(c) => (c.visible_density(), f64::NAN),
            Ensemble::Tempered(c) => (density(c.rows().visible()), density(c.rows().hidden())),
            Ensemble::PackedTempered(c) => (c.visible_density(), f64::NAN),
        }
    }
    fn bytes_per_chain(&self) -> usize {
        match self {
            Ensemble::F32(c, _) => c.bytes_per_chain(),
            Ensemble::Packed(c) => c.bytes_per_chain(),
            Ensemble::Tempered(c) => c.rows().bytes_per_chain(),
            Ensemble::PackedTempered(c) => c.bytes_per_replica(),
        }
    }
    fn block_rows(&self, threads: usize) -> usize {
        match self {
            Ensemble::F32(c, _) => c.block_rows(threads),
            Ensemble::Packed(_) => boltzmann::sampler::packed::BLOCK,
            Ensemble::Tempered(c) => c.rows().block_rows(threads),
            Ensemble::PackedTempered(_) => boltzmann::sampler::packed::BLOCK,
        }
    }
    fn swap_rates(&self) -> Vec<f64> {
        match self {
            Ensemble::Tempered(t) => t.tempering().swap_rates(),
            Ensemble::PackedTempered(t) => t.swap_rates(),
            _ => Vec::new(),
        }
    }
    fn reset_statistics(&mut self) {
        match self {
            Ensemble::Tempered(t) => t.reset_statistics(),
            Ensemble::PackedTempered(t) => t.reset_statistics(),
            _ => {}
        }
    }
}

/// `n` rows of `data` cycled (`n × dim`; the chains check width and values).
fn cycled(data: &Dataset, n: usize) -> Result<Vec<f32>> {
    if data.is_empty() {
        return Err(Error::InvalidParam { name: "start data", reason: "no rows".into() });
    }
    Ok((0..n).flat_map(|i| data.row(i % data.len()).iter().copied()).collect())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs the benchmark.
///
/// # Errors
/// [`Error::InvalidParam`] for zero sizes, threads or repeats, or a thread
/// pool that cannot be built; [`Error::TooLarge`] when the chains do not fit
/// in memory; [`Error::IsaUnavailable`].
pub(crate) fn gibbs(cfg: &GibbsBenchConfig) -> Result<GibbsBenchReport> {
    if cfg.threads == 0 || cfg.repeats == 0 {
        return Err(Error::InvalidParam { name: "threads/repeats", reason: "must be ≥ 1".into() });
    }
    if cfg.threads > 4096 {
        return Err(Error::InvalidParam {
            name: "threads",
            reason: format!("{} is absurd (max 4096)", cfg.threads),
        });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| Error::InvalidParam { name: "threads", reason: e.to_string() })?;
    let rbm = match &cfg.model {
        Some(m) => m.clone(),
        None => Rbm::random(cfg.n_visible, cfg.n_hidden, 0.01, 0.0, cfg.seed)?,
    };
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    if (cfg.packed || cfg.replicas >= 2 || cfg.incremental) && cfg.breakdown {
        return Err(Error::InvalidParam {
            name: "breakdown",
            reason: "the stage breakdown is for plain f32 chains (not --packed, --replicas or --incremental)"
                .into(),
        });
    }
    if cfg.incremental && (cfg.packed || cfg.replicas >= 2) {
        return Err(Error::InvalidParam {
            name: "incremental",
            reason: "kept products are for plain f32 chains (not --packed or --replicas)".into(),
        });
    }
    let mut chains = if cfg.packed && cfg.replicas >= 2 {
        let ladder = boltzmann::sampler::tempering::geometric_ladder(cfg.replicas, cfg.beta_min)?;
        Ensemble::PackedTempered(Box::new(PackedTemperedChains::new(
            &rbm,
            cfg.chains,
            ladder,
            boltzmann::rng::derive(cfg.seed, boltzmann::rng::Purpose::BenchChains),
        )?))
    } else if cfg.replicas >= 2 {
        let ladder = boltzmann::sampler::tempering::geometric_ladder(cfg.replicas, cfg.beta_min)?;
        Ensemble::Tempered(Box::new(TemperedChains::new(
            &rbm,
            cfg.chains,
            ladder,
            boltzmann::rng::derive(cfg.seed, boltzmann::rng::Purpose::BenchChains),
        )?))
    } else if cfg.packed {
        Ensemble::Packed(PackedChains::new(
            &rbm,
            cfg.chains,
            boltzmann::rng::derive(cfg.seed, boltzmann::rng::Purpose::BenchChains),
        )?)
    } else {
        Ensemble::F32(
            Chains::new(
                &rbm,
                cfg.chains,
                boltzmann::rng::derive(cfg.seed, boltzmann::rng::Purpose::BenchChains),
            )?,
            cfg.incremental,
        )
    };
    if let Some(isa) = cfg.isa {
        chains.set_isa(isa)?;
    }
    if let Some(data) = &cfg.start {
        chains.start_from(data)?;
    }
    pool.install(|| -> Result<GibbsBenchReport> {
        // Warm-up, and calibration of the sweep count.
        let t = Instant::now();
        chains.sweep(&rbm, 1)?;
        let one = t.elapsed().as_secs_f64().max(1e-7);
        let sweeps =
            if cfg.sweeps > 0 { cfg.sweeps } else { ((0.3 / one).ceil() as usize).clamp(1, 100_000) };
        chains.sweep(&rbm, sweeps.min(3))?;
        chains.reset_statistics();
        let mut rates = Vec::with_capacity(cfg.repeats);
        for _ in 0..cfg.repeats {
            let t = Instant::now();
            chains.sweep(&rbm, sweeps)?;
            rates.push(sweeps as f64 / t.elapsed().as_secs_f64());
        }
        let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().cloned().fold(0.0, f64::max);
        let breakdown = if let (true, Ensemble::F32(chains, _)) = (cfg.breakdown, &mut chains) {
            let mut fr = Vec::new();
            for _ in 0..cfg.repeats {
                fr.push(chains.sweep_timed(&rbm, sweeps)?);
            }
            // Median run by total, then each stage's share of thread time.
            fr.sort_by(|a, b| a.total().total_cmp(&b.total()));
            let t = fr[fr.len() / 2];
            let tot = t.total().max(1e-300);
            Some(Breakdown { products: t.products / tot, rng: t.rng / tot, sampling: t.sampling / tot })
        } else {
            None
        };
        Ok(GibbsBenchReport {
            isa: chains.isa(),
            threads: cfg.threads,
            shape: (d, h, cfg.chains * cfg.replicas.max(1)),
            sweeps,
            repeats: cfg.repeats,
            sweeps_per_s: median(&mut rates),
            range: (lo, hi),
            block_rows: chains.block_rows(cfg.threads),
            bytes_per_chain: chains.bytes_per_chain(),
            breakdown,
            densities: chains.densities(),
            peak_rss_bytes: peak_rss_bytes(),
            packed: cfg.packed,
            incremental: cfg.incremental,
            replicas: cfg.replicas.max(1),
            swap_rates: chains.swap_rates(),
        })
    })
}

/// Which step [`langevin`] times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LangevinKind {
    /// Unadjusted Langevin (`∇F` only).
    Ula,
    /// MALA (energy and gradient of each proposal, accept/reject).
    Mala,
}

/// What `boltzmann bench langevin` measures: Langevin steps on the free
/// energy of a random Gaussian–Bernoulli RBM (weights `N(0, 0.01²)`, zero
/// biases, `σ = 1`: the model of `../shared/refbench/jax_gibbs.py`) over
/// `chains` chains started uniformly in [0, 1].
#[derive(Debug, Clone)]
pub(crate) struct LangevinBenchConfig {
    /// Visible units `D`.
    pub(crate) n_visible: usize,
    /// Hidden units `H`.
    pub(crate) n_hidden: usize,
    /// Chains `B`.
    pub(crate) chains: usize,
    /// Threads in the rayon pool.
    pub(crate) threads: usize,
    /// Steps per timed run; 0 picks a count that takes about 0.3 s.
    pub(crate) steps: usize,
    /// Timed runs.
    pub(crate) repeats: usize,
    /// Step size `ε` (refbench: 1e-2).
    pub(crate) step: f32,
    /// ULA or MALA.
    pub(crate) kind: LangevinKind,
    /// The energy: the GB-RBM (`None`) or an MLP energy with these hidden
    /// widths (swish, `n_visible` inputs; `n_hidden` is then ignored).
    pub(crate) mlp_hidden: Option<Vec<usize>>,
    /// Seed.
    pub(crate) seed: u64,
}

impl Default for LangevinBenchConfig {
    /// 784 × 500, 1000 chains, ε = 1e-2, ULA, all cores.
    fn default() -> Self {
        LangevinBenchConfig {
            n_visible: 784,
            n_hidden: 500,
            chains: 1000,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            steps: 0,
            repeats: 7,
            step: 1e-2,
            kind: LangevinKind::Ula,
            mlp_hidden: None,
            seed: 0,
        }
    }
}

/// Results of [`langevin`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LangevinBenchReport {
    /// Threads used.
    pub(crate) threads: usize,
    /// SIMD path of the element-wise kernels and normals.
    pub(crate) isa: Isa,
    /// `D`, `H`, `B` (with tempering, `B` counts every replica: chains ×
    /// replicas).
    pub(crate) shape: (usize, usize, usize),
    /// Steps per timed run.
    pub(crate) steps: usize,
    /// Timed runs.
    pub(crate) repeats: usize,
    /// Median steps per second (all `B` chains advanced once).
    pub(crate) steps_per_s: f64,
    /// Slowest and fastest run.
    pub(crate) range: (f64, f64),
    /// MALA acceptance rate over the timed runs (ULA: `None`).
    pub(crate) acceptance: Option<f64>,
    /// Standard deviation of the states after the runs (refbench prints it
    /// too: a sanity check that the chains moved the same way).
    pub(crate) state_std: f64,
    /// `2·B·Σ(in·out)` flops of the products of one forward pass (GB-RBM:
    /// `2·B·D·H`); a gradient costs twice that.
    pub(crate) forward_flops: f64,
    /// Which energy: `"gb-rbm"` or `"mlp"`.
    pub(crate) energy: &'static str,
}

impl LangevinBenchReport {
    /// Effective GFLOP/s of the products (forward and backward: `4·B·D·H`
    /// per step for the GB-RBM).
    pub(crate) fn gflops(&self) -> f64 {
        2.0 * self.forward_flops * self.steps_per_s / 1e9
    }
}

/// Runs the Langevin benchmark.
///
/// # Errors
/// [`Error::InvalidParam`] for zero sizes, threads or repeats, `ε ≤ 0`,
/// or a pool that cannot be built; [`Error::TooLarge`].
pub(crate) fn langevin(cfg: &LangevinBenchConfig) -> Result<LangevinBenchReport> {
    use boltzmann::model::GaussianRbm;
    use boltzmann::sampler::langevin::{LangevinChains, LangevinConfig};
    if cfg.threads == 0 || cfg.repeats == 0 || cfg.threads > 4096 {
        return Err(Error::InvalidParam {
            name: "threads/repeats",
            reason: "need 1..=4096 threads and ≥ 1 run".into(),
        });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| Error::InvalidParam { name: "threads", reason: e.to_string() })?;
    let (d, b) = (cfg.n_visible, cfg.chains);
    let (rbm, mlp) = match &cfg.mlp_hidden {
        None => (Some(GaussianRbm::random(d, cfg.n_hidden, 0.01, 1.0, cfg.seed)?), None),
        Some(h) => (
            None,
            Some(boltzmann::energy::MlpEnergy::new(d, h, boltzmann::energy::Activation::Swish, cfg.seed)?),
        ),
    };
    let forward_flops = match &mlp {
        Some(m) => 2.0 * b as f64 * m.mlp().sizes().windows(2).map(|w| (w[0] * w[1]) as f64).sum::<f64>(),
        None => 2.0 * (b * d * cfg.n_hidden) as f64,
    };
    let mut chains = LangevinChains::uniform(
        b,
        d,
        0.0,
        1.0,
        boltzmann::rng::derive(cfg.seed, boltzmann::rng::Purpose::BenchLangevin),
    )?;
    let ula = LangevinConfig::ula(cfg.step);
    fn go<E: boltzmann::energy::Energy>(
        e: &E,
        chains: &mut LangevinChains,
        kind: LangevinKind,
        ula: &LangevinConfig,
        steps: usize,
    ) -> Result<Option<(u64, u64)>> {
        match kind {
            LangevinKind::Ula => chains.run(e, ula, steps).map(|_| None),
            LangevinKind::Mala => chains
                .run_mala(e, &boltzmann::sampler::langevin::MalaConfig::new(ula.step), steps)
                .map(|r| Some((r.accepted, r.proposed))),
        }
    }
    pool.install(|| -> Result<LangevinBenchReport> {
        let run = |chains: &mut LangevinChains, steps: usize| -> Result<Option<(u64, u64)>> {
            match (&rbm, &mlp) {
                (Some(m), _) => go(m, chains, cfg.kind, &ula, steps),
                (None, Some(m)) => go(m, chains, cfg.kind, &ula, steps),
                (None, None) => Err(Error::InvalidParam { name: "energy", reason: "none built".into() }),
            }
        };
        let t = Instant::now();
        run(&mut chains, 1)?;
        let one = t.elapsed().as_secs_f64().max(1e-7);
        let steps = if cfg.steps > 0 { cfg.steps } else { ((0.3 / one).ceil() as usize).clamp(1, 100_000) };
        run(&mut chains, steps.min(3))?;
        let (mut rates, mut acc) = (Vec::with_capacity(cfg.repeats), (0u64, 0u64));
        for _ in 0..cfg.repeats {
            let t = Instant::now();
            let r = run(&mut chains, steps)?;
            rates.push(steps as f64 / t.elapsed().as_secs_f64());
            if let Some((a, p)) = r {
                acc = (acc.0 + a, acc.1 + p);
            }
        }
        let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().cloned().fold(0.0, f64::max);
        let x = chains.states();
        let m = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        let sd = (x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        Ok(LangevinBenchReport {
            threads: cfg.threads,
            isa: boltzmann::simd::active_isa(),
            shape: (cfg.n_visible, cfg.n_hidden, cfg.chains),
            steps,
            repeats: cfg.repeats,
            steps_per_s: median(&mut rates),
            range: (lo, hi),
            acceptance: (cfg.kind == LangevinKind::Mala).then(|| acc.0 as f64 / acc.1.max(1) as f64),
            state_std: sd,
            forward_flops,
            energy: if mlp.is_some() { "mlp" } else { "gb-rbm" },
        })
    })
}
