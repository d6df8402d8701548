//! `boltzmann langevin` (sample a built-in 2-D energy with ULA, MALA, the
//! Du & Mordatch variant or annealed Langevin; PNG of samples over the
//! density) and `boltzmann bench langevin` (steps/s on a Gaussian–Bernoulli
//! RBM): parse, call the library, report.

use crate::CliResult;
use crate::bench::{LangevinBenchConfig, LangevinKind, langevin as bench_langevin};
use boltzmann::energy::{Energy, GaussianMixture};
use boltzmann::io;
use boltzmann::io::EnergyModel;
use boltzmann::sampler::langevin::{
    AnnealedConfig, EnergyScore, LangevinChains, LangevinConfig, geometric_schedule,
};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `bench langevin`.
#[derive(Args, Debug)]
pub(crate) struct BenchLangevinArgs {
    /// Visible units D.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 784)]
    visible: usize,
    /// Hidden units H.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 500)]
    hidden: usize,
    /// Number of chains B.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 1000)]
    chains: usize,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Steps per timed run (default: about 0.3 s worth).
    #[arg(long, value_parser = crate::limits::steps_or_auto, default_value_t = 0)]
    steps: usize,
    /// Timed runs; the median is reported.
    #[arg(long, value_parser = crate::limits::repeats, default_value_t = 7)]
    repeats: usize,
    /// Step size ε.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-2)]
    step: f32,
    /// Time MALA steps instead of unadjusted Langevin.
    #[arg(long)]
    mala: bool,
    /// Time an MLP energy (swish) with these hidden widths, e.g. 500 or
    /// 256,256, instead of the GB-RBM (--hidden is then ignored).
    #[arg(long)]
    mlp: Option<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn bench(a: BenchLangevinArgs) -> CliResult<()> {
    let mut cfg = LangevinBenchConfig {
        n_visible: a.visible,
        n_hidden: a.hidden,
        chains: a.chains,
        steps: a.steps,
        repeats: a.repeats,
        step: a.step,
        kind: if a.mala { LangevinKind::Mala } else { LangevinKind::Ula },
        mlp_hidden: match &a.mlp {
            None => None,
            Some(s) => Some(
                s.split(',')
                    .map(|t| {
                        t.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("--mlp {s:?}: expected widths like 500"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        },
        seed: a.seed,
        ..LangevinBenchConfig::default()
    };
    if let Some(t) = a.threads.n {
        cfg.threads = t;
    }
    let r = bench_langevin(&cfg)?;
    let (d, h, b) = r.shape;
    let kind = if a.mala { "mala" } else { "ula" };
    if a.json {
        outln!(
            "{}",
            jobj!(
                "bench" = "langevin",
                "kind" = kind,
                "energy" = r.energy,
                "n_visible" = d,
                "n_hidden" = h,
                "chains" = b,
                "threads" = r.threads,
                "isa" = r.isa.name(),
                "steps" = r.steps,
                "repeats" = r.repeats,
                "steps_per_s" = r.steps_per_s,
                "steps_per_s_min" = r.range.0,
                "steps_per_s_max" = r.range.1,
                "gflops" = r.gflops(),
                "acceptance" = r.acceptance,
                "state_std" = r.state_std,
            )
        );
    } else {
        match &a.mlp {
            None => {
                outln!("langevin ({kind}) on a GB-RBM D={d} H={h} B={b}  threads={} isa={}", r.threads, r.isa)
            }
            Some(m) => outln!(
                "langevin ({kind}) on an MLP energy {d}-{m}-1 B={b}  threads={} isa={}",
                r.threads,
                r.isa
            ),
        }
        outln!(
            "  {:.2} steps/s (range {:.2}–{:.2}, {} runs × {} steps)",
            r.steps_per_s,
            r.range.0,
            r.range.1,
            r.repeats,
            r.steps
        );
        outln!("  {:.1} effective GFLOP/s (products: forward and backward)", r.gflops());
        if let Some(acc) = r.acceptance {
            outln!("  acceptance rate {acc:.3}");
        }
        outln!("  state std after the runs {:.4}", r.state_std);
    }
    Ok(())
}

/// Options of `langevin`.
#[derive(Args, Debug)]
pub(crate) struct LangevinArgs {
    /// Built-in 2-D energy: "song-ermon" (0.8·N((5,5), I) + 0.2·N((−5,−5), I)),
    /// or "mixture8" (8 equal Gaussians, σ 0.5, on a circle of radius 4).
    #[arg(long, default_value = "song-ermon")]
    energy: String,
    /// Sampler: ula, mala, du-mordatch (ULA with --noise, --clip, --clamp
    /// set separately) or annealed (Song & Ermon, exact noise-conditional
    /// score of the mixture).
    #[arg(long, default_value = "annealed")]
    sampler: String,
    /// Number of chains, started uniformly in [−8, 8]².
    #[arg(long, value_parser = crate::limits::count, default_value_t = 2000)]
    chains: usize,
    /// Steps (ula, mala, du-mordatch) or steps per noise level (annealed).
    #[arg(long, value_parser = crate::limits::steps_or_auto, default_value_t = 100)]
    steps: usize,
    /// Step size ε (annealed: the step at the last level).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    step: f32,
    /// Noise standard deviation for du-mordatch (ula: √ε).
    #[arg(long, allow_negative_numbers = true)]
    noise: Option<f32>,
    /// Clip each gradient element to [−C, C] (du-mordatch).
    #[arg(long, allow_negative_numbers = true)]
    clip: Option<f32>,
    /// Clamp the states to LO,HI after each step.
    #[arg(long)]
    clamp: Option<String>,
    /// Annealed noise schedule FIRST,LAST,LEVELS (geometric; default
    /// 20,1,10); a score network uses its own training levels unless this
    /// is given.
    #[arg(long)]
    sigmas: Option<String>,
    /// Sample a trained model (from `ebm train`) instead of --energy.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Range LO,HI of the uniform chain starts and of the picture
    /// (default −8,8 in 2-D, 0,1 for image models).
    #[arg(long)]
    range: Option<String>,
    /// Image shape ROWSxCOLS for models of more than 2 dimensions.
    #[arg(long)]
    shape: Option<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output PNG: samples over the density.
    #[arg(long, default_value = "langevin.png")]
    out: PathBuf,
    /// Also write the samples as CSV (x,y per line).
    #[arg(long)]
    csv: Option<PathBuf>,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn builtin(name: &str) -> CliResult<GaussianMixture> {
    let m = match name {
        "song-ermon" => GaussianMixture::new(vec![0.8, 0.2], vec![5.0, 5.0, -5.0, -5.0], vec![1.0, 1.0]),
        "mixture8" => {
            let means: Vec<f64> = (0..8)
                .flat_map(|k| {
                    let t = k as f64 * std::f64::consts::TAU / 8.0;
                    [4.0 * t.cos(), 4.0 * t.sin()]
                })
                .collect();
            GaussianMixture::new(vec![1.0; 8], means, vec![0.5; 8])
        }
        o => return Err(format!("--energy {o:?}: use song-ermon or mixture8").into()),
    };
    Ok(m?)
}

fn parse_floats(what: &str, s: &str, n: usize) -> CliResult<Vec<f32>> {
    let v: Vec<f32> = s
        .split(',')
        .map(|t| t.trim().parse::<f32>().map_err(|_| format!("{what} {s:?}: expected {n} numbers")))
        .collect::<Result<_, _>>()?;
    if v.len() != n {
        return Err(format!("{what} {s:?}: expected {n} comma-separated numbers").into());
    }
    Ok(v)
}

/// What is sampled: a built-in mixture or a trained model.
enum Target {
    Mix(GaussianMixture),
    Model(EnergyModel),
}

/// Runs the chosen sampler on an energy; MALA's acceptance rate if any.
fn sample_energy<E: Energy>(
    chains: &mut LangevinChains,
    e: &E,
    a: &LangevinArgs,
    clamp: Option<(f32, f32)>,
    sigmas: Vec<f32>,
) -> CliResult<Option<f64>> {
    let r = match a.sampler.as_str() {
        "ula" => chains.run(e, &(LangevinConfig::ula(a.step)).clamp(clamp), a.steps).map(|_| None),
        "du-mordatch" => {
            let cfg = LangevinConfig::ula(a.step)
                .noise(a.noise.unwrap_or(0.005))
                .grad_clip(a.clip.or(Some(0.01)))
                .clamp(clamp);
            chains.run(e, &cfg, a.steps).map(|_| None)
        }
        "mala" => chains
            .run_mala(e, &boltzmann::sampler::langevin::MalaConfig::new(a.step), a.steps)
            .map(|r| Some(r.rate())),
        _ => {
            let cfg = AnnealedConfig::new(sigmas, a.step, a.steps).clamp(clamp);
            chains.run_annealed(&EnergyScore(e), &cfg).map(|_| None)
        }
    };
    Ok(r?)
}

pub(crate) fn run(a: LangevinArgs) -> CliResult<()> {
    crate::out::file(&a.out)?;
    if let Some(p) = &a.csv {
        crate::out::file(p)?;
    }
    if !["ula", "mala", "du-mordatch", "annealed"].contains(&a.sampler.as_str()) {
        return Err(format!("--sampler {:?}: use ula, mala, du-mordatch or annealed", a.sampler).into());
    }
    let target = match &a.model {
        None => Target::Mix(builtin(&a.energy)?),
        Some(p) => Target::Model(io::load_energy_model(p)?),
    };
    let d = match &target {
        Target::Mix(_) => 2,
        Target::Model(EnergyModel::Mlp(e)) => e.dim(),
        Target::Model(EnergyModel::GaussianRbm(m)) => m.n_visible(),
        Target::Model(EnergyModel::Score(s)) => s.dim(),
    };
    if a.chains == 0 || a.chains > 10_000_000 {
        return Err(format!("--chains {}: use 1..=10000000", a.chains).into());
    }
    let clamp = match &a.clamp {
        None => None,
        Some(s) => {
            let v = parse_floats("--clamp", s, 2)?;
            Some((v[0], v[1]))
        }
    };
    let (lo, hi) = match &a.range {
        Some(s) => {
            let v = parse_floats("--range", s, 2)?;
            (v[0], v[1])
        }
        // Built-in 2-D energies live in [−8, 8]²; image models in [0, 1].
        None if d == 2 => (-8.0f32, 8.0f32),
        None => (0.0, 1.0),
    };
    // Checked before sampling: the picture of samples of more than 2-D.
    let image_shape = if d == 2 { None } else { Some(crate::sample::shape(a.shape.as_deref(), d)?) };
    let is_score = matches!(target, Target::Model(EnergyModel::Score(_)));
    if is_score && a.sampler != "annealed" {
        return Err("a score network has no energy: use --sampler annealed".into());
    }
    let sigmas = match (&target, &a.sigmas) {
        (_, Some(given)) => parse_schedule(given)?,
        (Target::Model(EnergyModel::Score(s)), None) => s.sigmas().to_vec(),
        (_, None) if a.sampler == "annealed" => parse_schedule("20,1,10")?,
        _ => Vec::new(),
    };
    let mut chains = LangevinChains::uniform(a.chains, d, lo, hi, a.seed)?;
    let t0 = Instant::now();
    let acceptance = crate::with_threads(a.threads.n, || match &target {
        Target::Mix(m) if a.sampler == "annealed" => {
            let cfg = AnnealedConfig::new(sigmas, a.step, a.steps).clamp(clamp);
            Ok(chains.run_annealed(m, &cfg).map(|_| None)?)
        }
        Target::Mix(m) => sample_energy(&mut chains, m, &a, clamp, sigmas),
        Target::Model(EnergyModel::Mlp(e)) => sample_energy(&mut chains, e, &a, clamp, sigmas),
        Target::Model(EnergyModel::GaussianRbm(m)) => sample_energy(&mut chains, m, &a, clamp, sigmas),
        Target::Model(EnergyModel::Score(s)) => {
            let cfg = AnnealedConfig::new(sigmas, a.step, a.steps).clamp(clamp);
            Ok(chains.run_annealed(s, &cfg).map(|_| None)?)
        }
    })?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(f) = chains.failures().first()
        && chains.failures().len() == a.chains
    {
        return Err(format!(
            "every chain stopped on non-finite values (first: chain {} at step {}, {}): lower --step or add --clip",
            f.chain, f.step, f.what
        ).into());
    }
    let x = chains.states();
    // Share of the samples nearest to each component, against its weight.
    let shares = match &target {
        Target::Mix(mix) => mixture_shares(mix, x),
        Target::Model(_) => Vec::new(),
    };
    write_samples(&a, &target, x, d, (lo, hi), image_shape)?;
    report(&a, &chains, d, secs, &shares, acceptance)
}

/// The share of the samples `x` (2-D rows) nearest to each component of
/// `mix`, beside its weight.
fn mixture_shares(mix: &GaussianMixture, x: &[f32]) -> Vec<(f64, f64)> {
    let (k, n) = (mix.weights().len(), x.len() / 2);
    let mut counts = vec![0usize; k];
    for p in x.chunks_exact(2) {
        let near = (0..k)
            .min_by(|&i, &j| {
                let dist = |c: usize| {
                    (p[0] as f64 - mix.means()[2 * c]).powi(2)
                        + (p[1] as f64 - mix.means()[2 * c + 1]).powi(2)
                };
                dist(i).total_cmp(&dist(j))
            })
            .unwrap_or(0);
        counts[near] += 1;
    }
    counts.iter().zip(mix.weights()).map(|(&c, &w)| (c as f64 / n as f64, w)).collect()
}

/// The picture (2-D: a scatter over the density; otherwise a grid of the
/// first 100 samples as images) and, with `--csv`, the samples as text.
fn write_samples(
    a: &LangevinArgs,
    target: &Target,
    x: &[f32],
    d: usize,
    (lo, hi): (f32, f32),
    image_shape: Option<(usize, usize)>,
) -> CliResult<()> {
    match image_shape {
        None => {
            // The density on a 400 × 400 grid.
            let size = 400;
            let grid = crate::sample::plane_grid(lo, hi, size);
            let density = match target {
                Target::Mix(m) => Some(crate::sample::density_on(m, &grid)?),
                Target::Model(EnergyModel::Mlp(m)) => Some(crate::sample::density_on(m, &grid)?),
                Target::Model(EnergyModel::GaussianRbm(m)) => Some(crate::sample::density_on(m, &grid)?),
                Target::Model(EnergyModel::Score(_)) => None,
            };
            io::scatter_png(&a.out, x, density.as_deref(), lo, hi, size)?;
        }
        Some((r, c)) => {
            // Grey levels over --range (samples beyond it clip).
            let scaled: Vec<f32> = x.iter().take(100 * d).map(|&v| (v - lo) / (hi - lo)).collect();
            io::grid_png(&a.out, &scaled, r, c, 10, 2)?;
        }
    }
    if let Some(p) = &a.csv {
        let text: String = x
            .chunks_exact(d)
            .map(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",") + "\n")
            .collect();
        io::write_atomic(p, text.as_bytes())?;
    }
    Ok(())
}

/// What `langevin` prints: one JSON object or text lines.
fn report(
    a: &LangevinArgs,
    chains: &LangevinChains,
    d: usize,
    secs: f64,
    shares: &[(f64, f64)],
    acceptance: Option<f64>,
) -> CliResult<()> {
    let n = chains.states().len() / d;
    let failed = chains.failures().len();
    let what = match &a.model {
        Some(p) => p.display().to_string(),
        None => a.energy.clone(),
    };
    if a.json {
        outln!(
            "{}",
            jobj!(
                "target" = what,
                "sampler" = a.sampler,
                "chains" = n,
                "dim" = d,
                "steps" = chains.steps(),
                "seconds" = secs,
                "weights" = shares.iter().map(|s| s.1).collect::<Vec<_>>(),
                "shares" = shares.iter().map(|s| s.0).collect::<Vec<_>>(),
                "acceptance" = acceptance,
                "failed_chains" = failed,
            )
        );
    } else {
        outln!(
            "{} on {what}: {n} chains in {d} dimensions, {} steps, {secs:.2} s",
            a.sampler,
            chains.steps()
        );
        for (c, (s, w)) in shares.iter().enumerate() {
            outln!("  component {c}: share of samples {s:.3} (weight {w:.3})");
        }
        if let Some(acc) = acceptance {
            outln!("  MALA acceptance rate {acc:.3}");
        }
        if failed > 0 {
            let f = &chains.failures()[0];
            outln!(
                "  {failed} chains stopped on non-finite values (first: chain {} at step {}, {})",
                f.chain,
                f.step,
                f.what
            );
        }
        outln!("wrote {}", a.out.display());
    }
    Ok(())
}

fn parse_schedule(s: &str) -> CliResult<Vec<f32>> {
    let v = parse_floats("--sigmas", s, 3)?;
    if v[2].fract() != 0.0 || v[2] < 2.0 || v[2] > crate::limits::MAX_RUNS as f32 {
        return Err(
            format!("--sigmas {s}: LEVELS must be an integer in 2..={}", crate::limits::MAX_RUNS).into()
        );
    }
    Ok(geometric_schedule(v[0], v[1], v[2] as usize)?)
}
