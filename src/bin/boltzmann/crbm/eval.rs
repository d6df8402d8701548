//! `boltzmann crbm eval`: `log Z` of a convolutional RBM (exact for tiny
//! models, else AIS) and the average log-probability of test images.

use crate::CliResult;
use crate::evaluate::{load, parse_schedule};
use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig, RaiseConfig};
use boltzmann::io;
use boltzmann::model::ConvRbm;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `crbm eval`.
#[derive(Args, Debug)]
pub(crate) struct CrbmEvalArgs {
    /// A one-layer convolutional RBM file with binary visible units.
    #[arg(long)]
    model: PathBuf,
    /// Test images (binary; the formats of `train --data`); default: the
    /// embedded test split (2,000 digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Images for the AIS base-rate model (default: the embedded training
    /// split, or --data).
    #[arg(long)]
    base_data: Option<PathBuf>,
    /// Binarize non-binary images at 0.5.
    #[arg(long)]
    binarize: bool,
    /// AIS runs.
    #[arg(long, value_parser = crate::limits::runs, default_value_t = 100)]
    ais_runs: usize,
    /// AIS schedule: "default" (14,500 βs), "default:F" or "linear:N".
    #[arg(long, default_value = "linear:5000")]
    schedule: String,
    /// Examples (the first N of --data) for the conservative RAISE estimate
    /// (reverse annealing with the same schedule; 0: skip).
    #[arg(long, value_parser = crate::limits::runs_or_none, default_value_t = 0)]
    raise_examples: usize,
    /// RAISE chains per example.
    #[arg(long, value_parser = crate::limits::runs, default_value_t = 1)]
    raise_runs: usize,
    /// Use AIS even when exact log Z is feasible (at most 24 pixels).
    #[arg(long)]
    force_ais: bool,
    /// Seed of AIS.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: &CrbmEvalArgs) -> CliResult<()> {
    let schedule = parse_schedule(&a.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let m = match io::ModelFile::load(&a.model)? {
        io::ModelFile::ConvRbm(m) => m,
        io::ModelFile::ConvDbn(d) if d.layers().len() == 1 => d.layers()[0].clone(),
        io::ModelFile::ConvDbn(d) => {
            return Err(format!(
                "{}: a {}-layer convolutional DBN; crbm eval estimates one layer's log Z (pass a conv-rbm)",
                a.model.display(),
                d.layers().len()
            )
            .into());
        }
        other => {
            return Err(format!(
                "{}: holds a {:?}, expected a \"conv-rbm\"",
                a.model.display(),
                other.kind()
            )
            .into());
        }
    };
    if m.visible_units() != boltzmann::model::ConvVisible::Bernoulli {
        return Err(
            "crbm eval: the model has Gaussian visible units; only binary ones have a log Z here".into()
        );
    }
    let (test, base) = data(a)?;
    let d = m.shape().n_visible();
    for (what, set) in [("--data", &test), ("--base-data", &base)] {
        if set.dim() != d {
            return Err(format!("{what}: the images have {} pixels, the model's {d}", set.dim()).into());
        }
    }
    crate::with_threads(a.threads.n, || report(a, &m, &test, &base, schedule))
}

/// The test images and the images whose base rates start AIS.
fn data(a: &CrbmEvalArgs) -> CliResult<(Dataset, Dataset)> {
    let test = match &a.data {
        Some(p) => load(p, a.binarize)?,
        None => io::embedded_mnist()?.test,
    };
    let base = match (&a.base_data, &a.data) {
        (Some(p), _) => load(p, a.binarize)?,
        (None, Some(_)) => test.clone(),
        (None, None) => io::embedded_mnist()?.train,
    };
    Ok((test, base))
}

fn report(
    a: &CrbmEvalArgs,
    m: &ConvRbm,
    test: &Dataset,
    base: &Dataset,
    schedule: Vec<f64>,
) -> CliResult<()> {
    let t0 = Instant::now();
    let exact = !a.force_ais && m.shape().n_visible() <= eval::conv::MAX_EXACT_PIXELS;
    let (log_z, low, high, method) = if exact {
        let z = eval::conv::log_z_exact(m)?;
        (z, z, z, "exact".to_string())
    } else {
        let biases = eval::base_rate_biases(base)?;
        let config = AisConfig::default().runs(a.ais_runs).schedule(schedule.clone()).seed(a.seed);
        let est = eval::conv::ais(m, &biases, &config)?;
        let method = format!("AIS, {} runs × {} βs", a.ais_runs, config.schedule.len() - 1);
        (est.log_z, est.log_z_low, est.log_z_high, method)
    };
    let secs = t0.elapsed().as_secs_f64();
    let avg = eval::conv::average_log_prob(m, test, log_z)?;
    let raise = raise_bound(a, m, test, base, log_z, schedule)?;
    // A looser log Z bound moves the average the other way.
    let (avg_low, avg_high) = (avg + log_z - high, avg + log_z - low);
    if a.json {
        outln!(
            "{}",
            jobj!(
                "method" = method,
                "log_z" = log_z,
                "log_z_low" = low,
                "log_z_high" = high,
                "log_z_seconds" = secs,
                "examples" = test.len(),
                "avg_log_prob" = avg,
                "avg_log_prob_low" = avg_low,
                "avg_log_prob_high" = avg_high,
                "raise_examples" = raise.as_ref().map(|r| r.examples),
                "raise_mean" = raise.as_ref().map(|r| r.mean),
                "raise_std_err" = raise.as_ref().map(|r| r.std_err),
                "log_prob_same_examples" = raise.as_ref().map(|r| r.forward),
                "raise_seconds" = raise.as_ref().map(|r| r.seconds),
            )
        );
    } else {
        outln!("log Z = {log_z:.4} [{low:.4}, {high:.4}] ({method}, {secs:.1}s)");
        outln!("average log p(v) over {} images: {avg:.3} nats [{avg_low:.3}, {avg_high:.3}]", test.len());
        if let Some(r) = &raise {
            outln!(
                "first {} images: RAISE {:.3} ± {:.3} (conservative) vs {:.3} from log Z ({:.1}s)",
                r.examples,
                r.mean,
                r.std_err,
                r.forward,
                r.seconds
            );
        }
    }
    Ok(())
}

/// RAISE on the first `--raise-examples` images, beside the estimate from
/// `log Z` on the same images.
struct RaiseReport {
    examples: usize,
    mean: f64,
    std_err: f64,
    forward: f64,
    seconds: f64,
}

fn raise_bound(
    a: &CrbmEvalArgs,
    m: &ConvRbm,
    test: &Dataset,
    base: &Dataset,
    log_z: f64,
    schedule: Vec<f64>,
) -> CliResult<Option<RaiseReport>> {
    if a.raise_examples == 0 {
        return Ok(None);
    }
    let n = a.raise_examples.min(test.len());
    let first = test.subset(0..n)?;
    let config = RaiseConfig::default().runs_per_example(a.raise_runs).schedule(schedule).seed(a.seed);
    let t0 = Instant::now();
    let est = eval::conv::raise(m, &eval::base_rate_biases(base)?, &first, &config)?;
    Ok(Some(RaiseReport {
        examples: n,
        mean: est.mean,
        std_err: est.std_err,
        forward: eval::conv::average_log_prob(m, &first, log_z)?,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}
