//! `boltzmann crbm train | sample | filters`: convolutional RBMs with
//! probabilistic max-pooling.

use crate::CliResult;
use boltzmann::data::Dataset;
use boltzmann::io;
use boltzmann::model::ConvRbm;
use boltzmann::rng::{Purpose, derive};
use boltzmann::sampler::ConvChains;
use boltzmann::train::Schedule;
use boltzmann::train::conv::{ConvEpochReport, ConvTrainConfig, train_conv_rbm};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum CrbmCmd {
    /// Train a convolutional RBM (embedded MNIST subset by default); writes
    /// OUT/model.safetensors, OUT/filters.png and OUT/samples.png.
    Train(Box<CrbmTrainArgs>),
    /// Run Gibbs chains from random images and write a PNG grid of them.
    Sample(CrbmSampleArgs),
    /// Write a PNG grid of the filters (one tile per filter and channel).
    Filters(CrbmFiltersArgs),
}

/// Options of `crbm train`.
#[derive(Args, Debug)]
pub(crate) struct CrbmTrainArgs {
    /// Training images (IDX, AMAT, CSV without labels, NPY); default: the
    /// embedded binarized MNIST subset (10,000 digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use only the first N images.
    #[arg(long, value_parser = crate::limits::count)]
    limit: Option<usize>,
    /// Binarize grey data: threshold (at 0.5) or stochastic.
    #[arg(long)]
    binarize: Option<String>,
    /// Image shape HxWxC (channel last), e.g. 28x28x1; default: the data's
    /// own image shape (28 × 28 × 1 for MNIST files).
    #[arg(long)]
    image: Option<String>,
    /// Filters K.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 24)]
    filters: usize,
    /// Filter side r.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 9)]
    filter_size: usize,
    /// Pooling block side P (image side − r + 1 must be a multiple).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 2)]
    pool: usize,
    /// Epochs.
    #[arg(long, value_parser = crate::limits::epochs, default_value_t = 5)]
    epochs: usize,
    /// Images per update.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 50)]
    batch: usize,
    /// Gibbs sweeps per update.
    #[arg(long, value_parser = crate::limits::k, default_value_t = 1)]
    k: usize,
    /// CD-k from the batch instead of persistent chains.
    #[arg(long)]
    cd: bool,
    /// Persistent chains (PCD).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 100)]
    chains: usize,
    /// Learning rate at the first epoch.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.2)]
    lr: f32,
    /// Learning rate at the last epoch (linear decay; equal to --lr for a
    /// constant rate).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.02)]
    lr_final: f32,
    /// Momentum.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.5)]
    momentum: f32,
    /// L2 weight decay on the filters.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-4)]
    l2: f32,
    /// Target mean activation of the detection units.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.02)]
    sparsity: f32,
    /// Strength of the sparsity term (0: off).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    sparsity_cost: f32,
    /// Sweeps of the chains drawn for OUT/samples.png.
    #[arg(long, value_parser = crate::limits::steps, default_value_t = 1000)]
    sample_sweeps: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Output directory.
    #[arg(long, default_value = "crbm-out")]
    out: PathBuf,
    /// One JSON object per epoch and one at the end instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `crbm sample`.
#[derive(Args, Debug)]
pub(crate) struct CrbmSampleArgs {
    /// A convolutional RBM file.
    #[arg(long)]
    model: PathBuf,
    /// Chains (tiles in the picture).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 100)]
    chains: usize,
    /// Sweeps from uniformly random images.
    #[arg(long, value_parser = crate::limits::steps, default_value_t = 1000)]
    sweeps: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Output PNG.
    #[arg(long, default_value = "crbm-samples.png")]
    out: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `crbm filters`.
#[derive(Args, Debug)]
pub(crate) struct CrbmFiltersArgs {
    /// A convolutional RBM file.
    #[arg(long)]
    model: PathBuf,
    /// Output PNG.
    #[arg(long, default_value = "crbm-filters.png")]
    out: PathBuf,
}

pub(crate) fn run(cmd: CrbmCmd) -> CliResult<()> {
    match cmd {
        CrbmCmd::Train(a) => crate::with_threads(a.threads.n, || train(&a)),
        CrbmCmd::Sample(a) => crate::with_threads(a.threads.n, || sample(&a)),
        CrbmCmd::Filters(a) => filters(&a),
    }
}

/// `HxWxC` (or `HxW`, one channel).
fn parse_image(s: &str) -> CliResult<(usize, usize, usize)> {
    let parts: Vec<Option<usize>> = s.split(['x', 'X', '×']).map(|t| t.trim().parse().ok()).collect();
    match parts[..] {
        [Some(h), Some(w)] if h > 0 && w > 0 => Ok((h, w, 1)),
        [Some(h), Some(w), Some(c)] if h > 0 && w > 0 && c > 0 => Ok((h, w, c)),
        _ => Err(format!("--image {s:?}: use HxWxC with sizes ≥ 1, e.g. 28x28x1").into()),
    }
}

fn load_data(a: &CrbmTrainArgs) -> CliResult<(Dataset, String)> {
    let (d, name) = match &a.data {
        None => {
            if a.binarize.is_some() {
                return Err("--binarize applies to --data; the embedded MNIST subset is binary".into());
            }
            (io::embedded_mnist()?.train, "embedded binarized MNIST (10,000 digits)".to_string())
        }
        Some(p) => {
            // CSV rows are pixels only (no label column).
            let d = match io::Format::from_path(p) {
                Some(io::Format::Csv) => io::read_csv(p, io::CsvLabels::None, 1.0)?,
                f => io::read_dataset(p, f)?,
            };
            let d = match a.binarize.as_deref() {
                None => d,
                Some("threshold") => d.binarize_threshold(0.5)?,
                Some("stochastic") => d.binarize_stochastic(derive(a.seed, Purpose::Binarize))?,
                Some(s) => return Err(format!("--binarize {s:?}: use threshold or stochastic").into()),
            };
            (d, p.display().to_string())
        }
    };
    let d = match a.limit {
        Some(n) if n < d.len() => d.subset(0..n)?,
        _ => d,
    };
    if let Err(e) = d.check_binary() {
        return Err(format!("{name}: {e} (convolutional RBMs take binary images; add --binarize)").into());
    }
    Ok((d, name))
}

fn image_shape(a: &CrbmTrainArgs, d: &Dataset) -> CliResult<(usize, usize, usize)> {
    let shape = match (&a.image, d.image_shape()) {
        (Some(s), _) => parse_image(s)?,
        (None, Some((h, w))) => (h, w, 1),
        (None, None) => {
            return Err(format!("rows of {} values: give the image shape with --image HxWxC", d.dim()).into());
        }
    };
    if shape.0 * shape.1 * shape.2 != d.dim() {
        return Err(format!(
            "--image {}x{}x{} holds {} values, the data rows {}",
            shape.0,
            shape.1,
            shape.2,
            shape.0 * shape.1 * shape.2,
            d.dim()
        )
        .into());
    }
    Ok(shape)
}

fn config(a: &CrbmTrainArgs) -> ConvTrainConfig {
    ConvTrainConfig::default()
        .filters(a.filters)
        .filter_size(a.filter_size)
        .pool(a.pool)
        .epochs(a.epochs)
        .batch_size(a.batch)
        .k(a.k)
        .persistent(!a.cd)
        .chains(a.chains)
        .learning_rate(a.lr)
        .schedule(Schedule::Linear { final_lr: a.lr_final })
        .momentum(a.momentum)
        .l2(a.l2)
        .sparsity_target(a.sparsity)
        .sparsity_cost(a.sparsity_cost)
        .seed(a.seed)
}

fn epoch_line(r: &ConvEpochReport, json: bool) -> CliResult<()> {
    if json {
        outln!(
            "{}",
            jobj!(
                "epoch" = r.epoch,
                "learning_rate" = r.learning_rate,
                "reconstruction_error" = r.reconstruction_error,
                "detection_mean" = r.detection_mean,
                "pooling_mean" = r.pooling_mean,
                "free_energy" = r.free_energy,
                "seconds" = r.seconds,
            )
        );
    } else {
        outln!(
            "epoch {:>3}  lr {:.4}  recon {:.3}  detection {:.4}  pooling {:.4}  F {:.2}  {:.2}s",
            r.epoch,
            r.learning_rate,
            r.reconstruction_error,
            r.detection_mean,
            r.pooling_mean,
            r.free_energy,
            r.seconds
        );
    }
    Ok(())
}

fn train(a: &CrbmTrainArgs) -> CliResult<()> {
    let cfg = config(a);
    let (data, name) = load_data(a)?;
    let image = image_shape(a, &data)?;
    cfg.check(image)?;
    crate::out::dir(&a.out)?;
    let (model_path, filters_path, samples_path) =
        (a.out.join("model.safetensors"), a.out.join("filters.png"), a.out.join("samples.png"));
    for f in [&model_path, &filters_path, &samples_path] {
        crate::out::file(f)?;
    }
    let s = cfg.shape(image);
    if !a.json {
        outln!("data: {name}, {} images of {}x{}x{}", data.len(), image.0, image.1, image.2);
        outln!("model: {s}; {} by {}", if a.cd { "CD" } else { "PCD" }, a.k);
    }
    let t0 = std::time::Instant::now();
    let mut failed = None;
    let model = train_conv_rbm(&data, image, &cfg, |r| {
        if failed.is_none() {
            failed = epoch_line(r, a.json).err();
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let train_s = t0.elapsed().as_secs_f64();
    io::save_conv_rbm(&model, &model_path)?;
    write_filters(&model, &filters_path)?;
    let density =
        write_samples(&model, 100, a.sample_sweeps, derive(a.seed, Purpose::ConvSampling), &samples_path)?;
    if a.json {
        outln!(
            "{}",
            jobj!(
                "model" = model_path.display().to_string(),
                "train_seconds" = train_s,
                "sample_density" = density,
            )
        );
    } else {
        outln!(
            "wrote {}, {}, {} ({train_s:.1}s of training)",
            model_path.display(),
            filters_path.display(),
            samples_path.display()
        );
    }
    Ok(())
}

/// One tile per filter and channel, each scaled to its own range.
fn write_filters(m: &ConvRbm, path: &Path) -> CliResult<()> {
    let s = m.shape();
    let (r, ch, kk) = (s.filter_size, s.channels, s.filters);
    let mut tiles = vec![0.0f32; kk * ch * r * r];
    for k in 0..kk {
        for c in 0..ch {
            let tile = &mut tiles[(k * ch + c) * r * r..(k * ch + c + 1) * r * r];
            for (q, t) in tile.iter_mut().enumerate() {
                *t = m.weights()[(q * ch + c) * kk + k];
            }
            let (lo, hi) =
                tile.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            let span = if hi > lo { hi - lo } else { 1.0 };
            tile.iter_mut().for_each(|x| *x = (*x - lo) / span);
        }
    }
    let zoom = (48 / r).clamp(2, 8);
    io::grid_png(path, &tiles, r, r, (kk * ch).min(12 * ch.max(1)), zoom)?;
    Ok(())
}

/// Runs `chains` chains `sweeps` sweeps from random images and writes the
/// first channel of each as a PNG grid; returns the mean pixel density.
fn write_samples(m: &ConvRbm, chains: usize, sweeps: usize, seed: u64, path: &Path) -> CliResult<f64> {
    let s = m.shape();
    let mut c = ConvChains::new(m, chains, seed)?;
    c.sweep(m, sweeps)?;
    let v = c.visible();
    let first: Vec<f32> = v.iter().step_by(s.channels).copied().collect();
    io::grid_png(path, &first, s.height, s.width, 10, 2)?;
    Ok(v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64)
}

fn sample(a: &CrbmSampleArgs) -> CliResult<()> {
    let m = io::load_conv_rbm(&a.model)?;
    crate::out::file(&a.out)?;
    let t0 = std::time::Instant::now();
    let density = write_samples(&m, a.chains, a.sweeps, a.seed, &a.out)?;
    let secs = t0.elapsed().as_secs_f64();
    if a.json {
        outln!(
            "{}",
            jobj!(
                "chains" = a.chains,
                "sweeps" = a.sweeps,
                "seconds" = secs,
                "chain_sweeps_per_s" = (a.chains * a.sweeps) as f64 / secs.max(1e-9),
                "density" = density,
                "out" = a.out.display().to_string(),
            )
        );
    } else {
        outln!(
            "{} chains × {} sweeps in {secs:.2}s; pixel density {density:.3}; wrote {}",
            a.chains,
            a.sweeps,
            a.out.display()
        );
    }
    Ok(())
}

fn filters(a: &CrbmFiltersArgs) -> CliResult<()> {
    let m = io::load_conv_rbm(&a.model)?;
    crate::out::file(&a.out)?;
    write_filters(&m, &a.out)?;
    outln!("wrote {}", a.out.display());
    Ok(())
}
