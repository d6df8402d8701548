//! `boltzmann ebm train`: continuous energy models on 2-D toy data or
//! real-valued data files — an MLP energy by Langevin maximum likelihood
//! with a replay buffer (Du & Mordatch), a noise-conditional score network
//! by denoising score matching (Song & Ermon), or a Gaussian–Bernoulli RBM
//! by CD/PCD — then a model file and a picture of samples.

use crate::CliResult;
use boltzmann::data::{Dataset, Toy2d};
use boltzmann::energy::{Activation, MlpEnergy};
use boltzmann::io::{self, EnergyModel};
use boltzmann::rng::{Purpose, derive};
use boltzmann::sampler::langevin::{AnnealedConfig, LangevinChains, LangevinConfig};
use boltzmann::train::dsm::{DsmConfig, train_dsm};
use boltzmann::train::ebm::{EbmConfig, train_ebm};
use boltzmann::train::gaussian::{GaussianTrainConfig, train_gaussian_rbm};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub(crate) enum EbmCmd {
    /// Train a continuous energy model; writes OUT/model.safetensors and
    /// OUT/samples.png.
    Train(Box<EbmTrainArgs>),
}

/// Options of `ebm train`.
#[derive(Args, Debug)]
pub(crate) struct EbmTrainArgs {
    /// Data: a built-in 2-D set (mixture8, rings, moons) or a file
    /// (IDX, CSV, NPY, AMAT; IDX pixels are scaled to [0, 1]).
    #[arg(long, default_value = "mixture8")]
    data: String,
    /// Examples drawn from a built-in 2-D set.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 4000)]
    n_data: usize,
    /// Use only the first N rows of a data file.
    #[arg(long, value_parser = crate::limits::count)]
    limit: Option<usize>,
    /// Model: "mlp" (energy, Langevin + replay buffer), "score" (denoising
    /// score matching) or "gb-rbm" (Gaussian–Bernoulli RBM, CD/PCD).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// Hidden widths of the MLP (mlp, score), e.g. 64,64; for gb-rbm one
    /// number, the hidden units.
    #[arg(long)]
    hidden: Option<String>,
    /// MLP activation: swish or softplus.
    #[arg(long, default_value = "swish")]
    activation: String,
    /// Parameter updates (mlp, score).
    #[arg(long, value_parser = crate::limits::steps, default_value_t = 1000)]
    iterations: usize,
    /// Epochs (gb-rbm).
    #[arg(long, value_parser = crate::limits::epochs, default_value_t = 10)]
    epochs: usize,
    /// Batch size (and negative chains per update for mlp).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 128)]
    batch: usize,
    /// Learning rate (Adam for mlp and score; SGD for gb-rbm). Default:
    /// 1e-3.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-3)]
    lr: f32,
    /// mlp: Langevin steps per update.
    #[arg(long, value_parser = crate::limits::k, default_value_t = 60)]
    langevin_steps: usize,
    /// mlp: Langevin drift step λ (the drift is −(λ/2)∇E).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.05)]
    step: f32,
    /// mlp: Langevin noise standard deviation.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    noise: f32,
    /// mlp: clip each gradient element to [−C, C].
    #[arg(long, allow_negative_numbers = true)]
    clip: Option<f32>,
    /// mlp: replay-buffer capacity.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 10_000)]
    buffer: usize,
    /// mlp: weight of the energy regulariser α.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    alpha: f32,
    /// score: noise levels FIRST,LAST,LEVELS (geometric); sampling uses
    /// the same levels.
    #[arg(long, default_value = "5,0.05,10")]
    sigmas: String,
    /// score: annealed-Langevin ε for the samples picture.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-4)]
    sample_step: f32,
    /// gb-rbm: initial σ of the visible units.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.3)]
    sigma: f32,
    /// gb-rbm: learn σ.
    #[arg(long)]
    learn_sigma: bool,
    /// gb-rbm: persistent chains (PCD) instead of CD.
    #[arg(long)]
    pcd: bool,
    /// gb-rbm: momentum of SGD, in [0, 1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.9)]
    momentum: f32,
    /// gb-rbm: learning-rate schedule, "constant", "exp:DECAY" or
    /// "linear:FINAL" (as for `train`).
    #[arg(long, default_value = "constant")]
    lr_schedule: String,
    /// gb-rbm: Gibbs steps per update.
    #[arg(long, value_parser = crate::limits::k, default_value_t = 1)]
    k: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "ebm-out")]
    out: PathBuf,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: EbmCmd) -> CliResult<()> {
    match cmd {
        EbmCmd::Train(a) => {
            let threads = a.threads.n;
            crate::with_threads(threads, || train(*a))
        }
    }
}

fn widths(s: &str) -> CliResult<Vec<usize>> {
    let v: Vec<usize> = s
        .split(',')
        .map(|t| t.trim().parse::<usize>().map_err(|_| format!("--hidden {s:?}: expected widths like 64,64")))
        .collect::<Result<_, _>>()?;
    if v.is_empty() || v.contains(&0) {
        return Err(format!("--hidden {s:?}: widths must be ≥ 1").into());
    }
    Ok(v)
}

fn load_data(a: &EbmTrainArgs) -> CliResult<(Dataset, Option<Toy2d>)> {
    if let Some(t) = Toy2d::from_name(&a.data) {
        if a.n_data < 2 || a.n_data > 10_000_000 {
            return Err(format!("--n-data {}: use 2..=10000000", a.n_data).into());
        }
        return Ok((t.sample(a.n_data, derive(a.seed, Purpose::ToyData))?, Some(t)));
    }
    let p = Path::new(&a.data);
    if !p.exists() {
        return Err(
            format!("--data {}: not a built-in set (mixture8, rings, moons) nor a file", a.data).into()
        );
    }
    let mut d = io::read_dataset(p, None)?;
    if let Some(n) = a.limit {
        if n == 0 || n > d.len() {
            return Err(format!("--limit {n}: the data has {} rows", d.len()).into());
        }
        d = d.subset(0..n)?;
    }
    Ok((d, None))
}

fn train(a: EbmTrainArgs) -> CliResult<()> {
    crate::out::dir(&a.out)?;
    crate::out::file(&a.out.join("model.safetensors"))?;
    crate::out::file(&a.out.join("samples.png"))?;
    let act = Activation::from_name(&a.activation)
        .ok_or_else(|| format!("--activation {:?}: use swish or softplus", a.activation))?;
    if !["mlp", "score", "gb-rbm"].contains(&a.model.as_str()) {
        return Err(format!("--model {:?}: use mlp, score or gb-rbm", a.model).into());
    }
    if !(a.sample_step.is_finite() && a.sample_step > 0.0) {
        return Err(format!("--sample-step {}: use a finite step > 0", a.sample_step).into());
    }
    let (data, toy) = load_data(&a)?;
    let show = !a.json && std::io::stderr().is_terminal();
    let t0 = Instant::now();
    let json = a.json;
    // Data range, for chain starts and clamping.
    let (lo, hi) =
        data.features().iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let margin = 0.1 * (hi - lo).max(1e-3);
    let (lo, hi) = (lo - margin, hi + margin);
    let (model, buffer_samples) = match a.model.as_str() {
        "mlp" => train_mlp(&a, &data, act, show, (lo, hi))?,
        "score" => (train_score(&a, &data, act, show)?, Vec::new()),
        _ => (train_gb_rbm(&a, &data)?, Vec::new()),
    };
    let train_seconds = t0.elapsed().as_secs_f64();
    let path = a.out.join("model.safetensors");
    io::save_energy_model(&model, &path)?;
    let png = a.out.join("samples.png");
    let given = (!buffer_samples.is_empty()).then_some(buffer_samples.as_slice());
    let picture = samples_picture(&model, &data, toy, &png, (lo, hi), &a, given)?;
    if json {
        outln!(
            "{}",
            jobj!(
                "done" = true,
                "model" = a.model,
                "train_seconds" = train_seconds,
                "mmd2" = picture.0,
                "mmd2_data_baseline" = picture.1,
            )
        );
    } else {
        outln!("trained in {train_seconds:.1} s; wrote {} and {}", path.display(), png.display());
        if picture.0.is_finite() {
            outln!(
                "MMD² of the pictured samples to 1,000 fresh data points {:.5} (two data samples: {:.5})",
                picture.0,
                picture.1
            );
        }
    }
    Ok(())
}

/// `--model mlp`: the energy and, for the picture, the newest replay-buffer
/// entries (the chains training itself ran), as Du & Mordatch show them.
fn train_mlp(
    a: &EbmTrainArgs,
    data: &Dataset,
    act: Activation,
    show: bool,
    (lo, hi): (f32, f32),
) -> CliResult<(EnergyModel, Vec<f32>)> {
    let (d, json) = (data.dim(), a.json);
    let hidden = widths(a.hidden.as_deref().unwrap_or("64,64"))?;
    let mut e = MlpEnergy::new(d, &hidden, act, a.seed)?;
    let cfg = EbmConfig::default()
        .batch_size(a.batch)
        .langevin_steps(a.langevin_steps)
        .langevin(LangevinConfig::ula(a.step).noise(a.noise).grad_clip(a.clip).clamp(Some((lo, hi))))
        .buffer_capacity(a.buffer)
        .init_range((lo, hi))
        .alpha(a.alpha)
        .learning_rate(a.lr)
        .iterations(a.iterations)
        .seed(a.seed);
    let bar = crate::evaluate::bar(show, a.iterations as u64, "ebm");
    let every = (a.iterations / 20).max(1);
    let buffer = train_ebm(&mut e, data, &cfg, |r| {
        bar.set_position(r.iteration as u64);
        if json {
            outln_cb!(
                "{}",
                jobj!(
                    "iteration" = r.iteration,
                    "loss" = r.loss,
                    "energy_data" = r.energy_data,
                    "energy_model" = r.energy_model,
                    "seconds" = r.seconds,
                )
            );
        } else if r.iteration % every == 0 && !show {
            outln_cb!(
                "iteration {:>6}: loss {:.4}, E(data) {:.3}, E(samples) {:.3}, {:.1} s",
                r.iteration,
                r.loss,
                r.energy_data,
                r.energy_model,
                r.seconds
            );
        }
    })?;
    crate::out::check()?;
    bar.finish_and_clear();
    let k = buffer.len().min(1000);
    let newest = (buffer.len() - k..buffer.len()).flat_map(|i| buffer.row(i).to_vec()).collect();
    Ok((EnergyModel::Mlp(e), newest))
}

/// `--model score`: a noise-conditional score network by denoising score
/// matching.
fn train_score(a: &EbmTrainArgs, data: &Dataset, act: Activation, show: bool) -> CliResult<EnergyModel> {
    let json = a.json;
    let s = parse_sigmas(&a.sigmas)?;
    let hidden = widths(a.hidden.as_deref().unwrap_or("128,128"))?;
    let cfg = DsmConfig::default()
        .sigmas(s)
        .hidden(hidden)
        .activation(act)
        .batch_size(a.batch)
        .iterations(a.iterations)
        .learning_rate(a.lr)
        .seed(a.seed);
    let bar = crate::evaluate::bar(show, a.iterations as u64, "dsm");
    let every = (a.iterations / 20).max(1);
    let m = train_dsm(data, &cfg, |i, loss, secs| {
        bar.set_position(i as u64);
        if json {
            outln_cb!("{}", jobj!("iteration" = i, "loss" = loss, "seconds" = secs));
        } else if i % every == 0 && !show {
            outln_cb!("iteration {i:>6}: DSM loss {loss:.4}, {secs:.1} s");
        }
    })?;
    crate::out::check()?;
    bar.finish_and_clear();
    Ok(EnergyModel::Score(m))
}

/// `--model gb-rbm`: a Gaussian–Bernoulli RBM by CD/PCD.
fn train_gb_rbm(a: &EbmTrainArgs, data: &Dataset) -> CliResult<EnergyModel> {
    let json = a.json;
    let h = match &a.hidden {
        None => 500,
        Some(s) => match widths(s)?.as_slice() {
            [h] => *h,
            _ => return Err(format!("--hidden {s:?}: a gb-rbm has one hidden layer").into()),
        },
    };
    let cfg = GaussianTrainConfig::default()
        .n_hidden(h)
        .k(a.k)
        .persistent(a.pcd)
        .learning_rate(a.lr)
        .schedule(crate::train::parse_schedule(&a.lr_schedule)?)
        .momentum(a.momentum)
        .batch_size(a.batch)
        .epochs(a.epochs)
        .init_sigma(a.sigma)
        .learn_sigma(a.learn_sigma)
        .seed(a.seed);
    let m = train_gaussian_rbm(data, &cfg, |r| {
        if json {
            outln_cb!(
                "{}",
                jobj!(
                    "epoch" = r.epoch,
                    "reconstruction_error" = r.reconstruction_error,
                    "free_energy" = r.free_energy,
                    "seconds" = r.seconds,
                )
            );
        } else {
            outln_cb!(
                "epoch {:>3}: reconstruction error {:.3}, mean F(data) {:.2}, {:.2} s",
                r.epoch,
                r.reconstruction_error,
                r.free_energy,
                r.seconds
            );
        }
    })?;
    crate::out::check()?;
    Ok(EnergyModel::GaussianRbm(m))
}

fn parse_sigmas(s: &str) -> CliResult<(f32, f32, usize)> {
    let v: Vec<f32> = s
        .split(',')
        .map(|t| t.trim().parse::<f32>().map_err(|_| format!("--sigmas {s:?}: expected FIRST,LAST,LEVELS")))
        .collect::<Result<_, _>>()?;
    if v.len() != 3 || v[2].fract() != 0.0 || v[2] < 2.0 || v[2] > crate::limits::MAX_RUNS as f32 {
        return Err(format!(
            "--sigmas {s:?}: expected FIRST,LAST,LEVELS with LEVELS an integer in 2..={}",
            crate::limits::MAX_RUNS
        )
        .into());
    }
    Ok((v[0], v[1], v[2] as usize))
}

/// Draws 1,000 samples of `model` (Langevin for an MLP energy unless
/// `given`, annealed Langevin for a score network, Gibbs for a GB-RBM) and
/// writes a picture:
/// 2-D data as a scatter over the model's density (or over the data's
/// histogram for a score network), images as a grid. Returns the MMD² of
/// 2-D samples to fresh data and the data-vs-data value (NaN otherwise).
fn samples_picture(
    model: &EnergyModel,
    data: &Dataset,
    toy: Option<Toy2d>,
    png: &Path,
    range: (f32, f32),
    a: &EbmTrainArgs,
    given: Option<&[f32]>,
) -> CliResult<(f64, f64)> {
    let (sample_step, seed) = (a.sample_step, a.seed);
    let d = data.dim();
    let n = 1000usize;
    let (lo, hi) = range;
    let x: Vec<f32> = match model {
        _ if given.is_some() => given.expect("checked").to_vec(),
        EnergyModel::Mlp(e) => {
            let mut ch = LangevinChains::uniform(n, d, lo, hi, derive(seed, Purpose::PictureChains))?;
            let cfg = LangevinConfig::ula(0.05).noise(0.1).grad_clip(None).clamp(Some((lo, hi)));
            ch.run(e, &cfg, 500)?;
            ch.states().to_vec()
        }
        EnergyModel::Score(s) => {
            let mut ch = LangevinChains::uniform(n, d, lo, hi, derive(seed, Purpose::PictureChains))?;
            let cfg = AnnealedConfig::new(s.sigmas().to_vec(), sample_step, 100);
            ch.run_annealed(s, &cfg)?;
            ch.states().to_vec()
        }
        EnergyModel::GaussianRbm(m) => {
            let rows = n.min(data.len());
            let mut v = data.features()[..rows * d].to_vec();
            let mut st = boltzmann::rng::chain_streams(derive(seed, Purpose::PictureChains), rows)?;
            let hid = m.gibbs(&mut v, &mut st, 1000)?;
            if d != 2 {
                let mut means = vec![0.0f32; rows * d];
                m.visible_means(&hid, &mut means)?;
                v = means;
            }
            v
        }
    };
    if d == 2 {
        let size = 400;
        let grid = crate::sample::plane_grid(lo, hi, size);
        let density: Option<Vec<f64>> = match model {
            EnergyModel::Mlp(e) => Some(crate::sample::density_on(e, &grid)?),
            EnergyModel::GaussianRbm(m) => Some(crate::sample::density_on(m, &grid)?),
            EnergyModel::Score(_) => None,
        };
        io::scatter_png(png, &x, density.as_deref(), lo, hi, size)?;
        let fresh = match toy {
            Some(t) => t.sample(n, derive(seed, Purpose::PictureData))?,
            None => return Ok((f64::NAN, f64::NAN)),
        };
        let other = toy.expect("checked").sample(n, derive(seed, Purpose::PictureReference))?;
        let h = 0.5;
        let m = boltzmann::eval::mmd2(&x, fresh.features(), 2, h)?;
        let base = boltzmann::eval::mmd2(other.features(), fresh.features(), 2, h)?;
        return Ok((m, base));
    }
    let (r, c) = crate::sample::shape(None, d).map_err(|e| format!("{e} (no picture written)"))?;
    // Grey levels over the data's own range (samples beyond it clip).
    let (mn, mx) =
        data.features().iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = if mx > mn { mx - mn } else { 1.0 };
    let scaled: Vec<f32> = x.iter().take(100 * d).map(|&v| (v - mn) / span).collect();
    io::grid_png(png, &scaled, r, c, 10, 2)?;
    Ok((f64::NAN, f64::NAN))
}
